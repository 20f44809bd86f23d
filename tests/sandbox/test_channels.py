"""Channels: Discord's name normalisation, the per-category and per-guild limits, edits."""

from __future__ import annotations

import discord
import pytest

from .conftest import Control, RecordingBot


def _guild(bot: RecordingBot) -> discord.Guild:
    return bot.guilds[0]


def _incidents(bot: RecordingBot) -> discord.CategoryChannel:
    return discord.utils.get(_guild(bot).categories, name="Incidents")


@pytest.mark.parametrize(
    ("asked", "named"),
    [
        ("Incident 42: DB Down!", "incident-42-db-down"),
        ("  Spaces   and---dashes  ", "spaces-and-dashes"),
        ("inc-2026-11-27-bridge-exploit", "inc-2026-11-27-bridge-exploit"),
    ],
)
async def test_text_channel_names_are_normalised_like_discord(bot, asked, named):
    channel = await _guild(bot).create_text_channel(asked, category=_incidents(bot))
    assert channel.name == named
    assert channel.category == _incidents(bot)


async def test_category_names_keep_their_case(bot):
    category = await _guild(bot).create_category("Closed Incidents")
    assert category.name == "Closed Incidents"


async def test_a_name_empty_after_normalisation_is_refused(bot):
    with pytest.raises(discord.HTTPException) as refused:
        await _guild(bot).create_text_channel("!!!")
    assert refused.value.code == 50035


async def test_the_fifty_first_channel_in_a_category_is_refused(bot, world):
    category = _incidents(bot)
    for number in range(50):
        world.discord.state.create_channel(
            {"name": f"inc-{number}", "type": 0, "parent_id": str(category.id)}
        )
    with pytest.raises(discord.HTTPException) as refused:
        await _guild(bot).create_text_channel("inc-50", category=category)
    assert refused.value.code == 50035
    assert "parent_id" in refused.value.text or "50" in refused.value.text


async def test_the_five_hundred_and_first_channel_in_the_guild_is_refused_30013(bot, world):
    state = world.discord.state
    existing = sum(1 for c in state.the_guild.channels.values() if not c.is_thread)
    for number in range(500 - existing):
        state.create_channel({"name": f"filler-{number}", "type": 0})
    with pytest.raises(discord.HTTPException) as refused:
        await _guild(bot).create_text_channel("one-too-many")
    assert refused.value.code == 30013


async def test_a_channel_is_renamed_moved_and_given_a_topic(bot, control: Control):
    guild = _guild(bot)
    channel = await guild.create_text_channel("inc-7")
    await channel.edit(name="INC 7 resolved", category=_incidents(bot), topic="closed")
    _, after = await bot.until("guild_channel_update", lambda b, a: a.id == channel.id and a.topic)
    assert (after.name, after.category, after.topic) == (
        "inc-7-resolved",
        _incidents(bot),
        "closed",
    )
    world = await control.get("/_sandbox/world")
    [listed] = [c for c in world["channels"] if c["id"] == str(channel.id)]
    assert listed["parent_id"] == str(_incidents(bot).id)


async def test_permission_overwrites_are_stored(bot, control: Control):
    guild = _guild(bot)
    channel = await guild.create_text_channel("war-room")
    everyone = guild.default_role
    await channel.set_permissions(everyone, send_messages=False)
    await bot.until(
        "guild_channel_update",
        lambda b, a: a.id == channel.id and a.overwrites_for(everyone).send_messages is False,
    )
    state_channel = control.world.discord.state.channel(channel.id)
    assert state_channel.permission_overwrites[0]["id"] == str(everyone.id)


async def test_a_deleted_channel_is_gone_for_the_bot(bot):
    channel = await _guild(bot).create_text_channel("short-lived")
    await channel.delete()
    await bot.until("guild_channel_delete", lambda c: c.id == channel.id)
    assert _guild(bot).get_channel(channel.id) is None


async def test_member_role_changes_reach_the_bot(bot):
    guild = _guild(bot)
    frank = guild.get_member_named("frank")
    oncall = discord.utils.get(guild.roles, name="oncall")
    await frank.add_roles(oncall)
    _, after = await bot.until("member_update", lambda b, a: a.id == frank.id)
    assert oncall in after.roles


CATEGORY_FULL = {
    "parent_id": {
        "_errors": [
            {
                "code": "CHANNEL_PARENT_MAX_CHANNELS",
                "message": "Maximum number of channels in category reached (50)",
            }
        ]
    }
}


def _fill(world, category_id: int | str) -> None:
    for number in range(50):
        world.discord.state.create_channel(
            {"name": f"inc-{number}", "type": 0, "parent_id": str(category_id)}
        )


async def test_the_fifty_first_channel_is_refused_with_discords_exact_body(
    bot, world, control: Control
):
    # Discord answers the 51st channel of a category with a form error on parent_id, not a
    # code of its own (discord/discord-api-docs#1289): 400, code 50035, the field code
    # CHANNEL_PARENT_MAX_CHANNELS. discord.py keeps the tree in `_errors` and flattens
    # only the messages into `text`.
    category = _incidents(bot)
    _fill(world, category.id)
    status, body = await control.rest(
        "POST",
        f"/guilds/{world.guild_id}/channels",
        json={"name": "inc-50", "type": 0, "parent_id": str(category.id)},
    )
    assert status == 400
    assert body == {"message": "Invalid Form Body", "code": 50035, "errors": CATEGORY_FULL}
    with pytest.raises(discord.HTTPException) as refused:
        await _guild(bot).create_text_channel("inc-50", category=category)
    assert (refused.value.status, refused.value.code) == (400, 50035)
    assert refused.value._errors == CATEGORY_FULL
    assert refused.value.text == (
        "Invalid Form Body\nIn parent_id: Maximum number of channels in category reached (50)"
    )


async def test_moving_a_channel_into_a_full_category_is_refused_the_same_way(
    bot, world, control: Control
):
    category = _incidents(bot)
    outside = await _guild(bot).create_text_channel("outside")
    _fill(world, category.id)
    status, body = await control.rest(
        "PATCH", f"/channels/{outside.id}", json={"parent_id": str(category.id)}
    )
    assert status == 400
    assert body == {"message": "Invalid Form Body", "code": 50035, "errors": CATEGORY_FULL}
    assert world.discord.state.channel(outside.id).parent_id is None
