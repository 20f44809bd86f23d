"""The emulator refuses what Discord refuses for want of a permission (403, code 50013),
computed as Discord documents it; the admin changes roles and overwrites through the
control API."""

from __future__ import annotations

import io

import discord
import pytest

from sandbox.discord import permissions as perms
from sandbox.discord.model import Channel
from sandbox.seed import BOT_PERMISSIONS

from .conftest import Control, RecordingBot


def _bot_role(control: Control) -> str:
    role = next(r for r in control.world.discord.state.the_guild.roles.values() if r.bot_id)
    return str(role.id)


async def _take_from_bot(control: Control, *bits: int) -> None:
    role = control.world.discord.state.role(_bot_role(control))
    remaining = role.permissions
    for bit in bits:
        remaining &= ~bit
    status, body = await control.request(
        "PATCH", f"/_sandbox/roles/{_bot_role(control)}", json={"permissions": str(remaining)}
    )
    assert status == 200 and body["permissions"] == str(remaining), body


async def _deny_bot_in(control: Control, channel: str, *bits: int) -> None:
    deny = 0
    for bit in bits:
        deny |= bit
    path = f"/_sandbox/channels/{control.channel_id(channel)}/permissions/{_bot_role(control)}"
    status, body = await control.request("PUT", path, json={"type": 0, "deny": str(deny)})
    assert status == 200 and body["deny"] == str(deny), body


def _text(bot: RecordingBot, control: Control, name: str) -> discord.TextChannel:
    channel = bot.get_channel(int(control.channel_id(name)))
    assert isinstance(channel, discord.TextChannel)
    return channel


async def _refused(awaitable) -> None:
    with pytest.raises(discord.Forbidden) as refused:
        await awaitable
    assert refused.value.status == 403 and refused.value.code == 50013


# -- the computation ----------------------------------------------------------------------
def test_overwrites_apply_in_discords_order(world):
    state = world.discord.state
    guild = state.the_guild
    bob = state.find_user("bob")
    oncall = state.find_role("oncall")
    channel = Channel(id=state.ids.next(), type=0, name="x", guild_id=guild.id)
    assert perms.channel_permissions(guild, bob.id, channel) & perms.SEND_MESSAGES
    channel.permission_overwrites = [
        {"id": str(guild.id), "type": 0, "allow": "0", "deny": str(perms.SEND_MESSAGES)},
    ]
    assert not perms.channel_permissions(guild, bob.id, channel) & perms.SEND_MESSAGES
    # a role's allow beats @everyone's deny ...
    channel.permission_overwrites.append(
        {"id": str(oncall.id), "type": 0, "allow": str(perms.SEND_MESSAGES), "deny": "0"}
    )
    assert perms.channel_permissions(guild, bob.id, channel) & perms.SEND_MESSAGES
    # ... and the member's own deny beats the role's allow
    channel.permission_overwrites.append(
        {"id": str(bob.id), "type": 1, "allow": "0", "deny": str(perms.SEND_MESSAGES)}
    )
    held = perms.channel_permissions(guild, bob.id, channel)
    assert not held & perms.SEND_MESSAGES
    assert not held & perms.EMBED_LINKS  # without Send Messages, nothing sending carries
    assert held & perms.VIEW_CHANNEL


def test_without_view_channel_nothing_is_held_but_owner_and_administrator_bypass(world):
    state = world.discord.state
    guild = state.the_guild
    erin = state.find_user("erin")
    channel = Channel(id=state.ids.next(), type=0, name="x", guild_id=guild.id)
    channel.permission_overwrites = [
        {"id": str(guild.id), "type": 0, "allow": str(perms.PIN_MESSAGES), "deny": "1024"}
    ]
    assert perms.channel_permissions(guild, erin.id, channel) == 0
    assert perms.channel_permissions(guild, guild.owner_id, channel) == perms.ALL_PERMISSIONS
    comms = state.find_role("comms")
    comms.permissions = perms.ADMINISTRATOR
    assert perms.channel_permissions(guild, erin.id, channel) == perms.ALL_PERMISSIONS


def test_the_seeded_bot_role_is_the_readmes_list_not_administrator(world):
    role = world.discord.state.role(
        next(r.id for r in world.discord.state.the_guild.roles.values() if r.bot_id)
    )
    assert role.permissions == BOT_PERMISSIONS
    assert not role.permissions & perms.ADMINISTRATOR
    assert role.permissions & perms.PIN_MESSAGES and role.permissions & perms.MENTION_EVERYONE


# -- the bot refused, through discord.py ----------------------------------------------------
async def test_creating_a_channel_needs_manage_channels(bot, control: Control):
    guild = bot.guilds[0]
    await _take_from_bot(control, perms.MANAGE_CHANNELS)
    await _refused(guild.create_text_channel("incident-x"))
    assert control.world.discord.state.find_channel("incident-x") is None


async def test_an_overwrite_needs_manage_roles_and_grants_only_what_the_bot_holds(
    bot, control: Control
):
    channel = _text(bot, control, "general")
    member = channel.guild.get_member(int(control.user_id("bob")))
    await _refused(channel.set_permissions(member, manage_webhooks=True))  # the bot lacks it
    await channel.set_permissions(member, view_channel=True, send_messages=True)
    await _take_from_bot(control, perms.MANAGE_ROLES)
    await _refused(channel.set_permissions(member, read_message_history=True))
    await _refused(
        channel.guild.create_text_channel(
            "private", overwrites={member: discord.PermissionOverwrite(view_channel=True)}
        )
    )


async def test_pinning_needs_pin_messages_manage_messages_no_longer_suffices(bot, control: Control):
    channel = _text(bot, control, "ops-alerts")
    message = await channel.send("kickoff")
    await _take_from_bot(control, perms.PIN_MESSAGES)
    assert control.world.discord.state.role(_bot_role(control)).permissions & perms.MANAGE_MESSAGES
    await _refused(message.pin())
    assert not control.world.discord.state.message(channel.id, message.id).pinned


async def test_sending_needs_view_channel_and_send_messages_and_embeds_embed_links(
    bot, control: Control
):
    channel = _text(bot, control, "general")
    await _deny_bot_in(control, "general", perms.EMBED_LINKS)
    await channel.send("plain text still goes")
    await _refused(channel.send(embed=discord.Embed(title="t")))
    await _deny_bot_in(control, "general", perms.SEND_MESSAGES)
    await _refused(channel.send("nothing"))
    await _deny_bot_in(control, "general", perms.VIEW_CHANNEL)
    await _refused(channel.send("nothing"))


async def test_files_need_attach_files(bot, control: Control):
    channel = _text(bot, control, "general")
    await _deny_bot_in(control, "general", perms.ATTACH_FILES)
    await _refused(channel.send(file=discord.File(io.BytesIO(b"x"), "x.txt")))


async def test_a_new_reaction_needs_add_reactions_and_history_read_message_history(
    bot, control: Control
):
    channel = _text(bot, control, "general")
    message = await channel.send("react")
    await message.add_reaction("👍")
    await _deny_bot_in(control, "general", perms.ADD_REACTIONS)
    await _refused(message.add_reaction("✅"))
    await message.remove_reaction("👍", bot.user)
    await _deny_bot_in(control, "general", perms.READ_MESSAGE_HISTORY)
    await _refused(channel.fetch_message(message.id))
    await _refused(message.add_reaction("👍"))


async def test_removing_someone_elses_reaction_needs_manage_messages(bot, control: Control):
    channel = _text(bot, control, "general")
    message = await channel.send("react")
    await control.post(
        "/_sandbox/reactions",
        {"user_id": "bob", "channel_id": "general", "message_id": str(message.id), "emoji": "👍"},
    )
    await _take_from_bot(control, perms.MANAGE_MESSAGES)
    bob = channel.guild.get_member(int(control.user_id("bob")))
    await _refused(message.remove_reaction("👍", bob))


async def test_threads_need_create_public_threads(bot, control: Control):
    channel = _text(bot, control, "general")
    message = await channel.send("start")
    await _deny_bot_in(control, "general", perms.CREATE_PUBLIC_THREADS)
    await _refused(message.create_thread(name="talk"))


# -- the control API ------------------------------------------------------------------------
async def test_the_world_names_the_bot_role_and_each_roles_permissions(control: Control):
    world = await control.get("/_sandbox/world")
    assert world["bot_role_id"] == _bot_role(control)
    oncall = next(r for r in world["roles"] if r["name"] == "oncall")
    assert oncall["permissions"] == "0" and oncall["mentionable"] is False


async def test_an_admin_makes_a_role_mentionable_by_name(bot, control: Control):
    status, body = await control.request(
        "PATCH", "/_sandbox/roles/oncall", json={"mentionable": True}
    )
    assert status == 200 and body["mentionable"] is True
    (_, after) = await bot.until("guild_role_update", lambda before, after: after.name == "oncall")
    assert after.mentionable


@pytest.mark.parametrize(
    ("path", "method", "body", "status"),
    [
        ("/_sandbox/roles/nobody", "PATCH", {"mentionable": True}, 404),
        ("/_sandbox/roles/oncall", "PATCH", {"permissions": "lots"}, 400),
        ("/_sandbox/roles/oncall", "PATCH", {"mentionable": "yes"}, 400),
        ("/_sandbox/roles/oncall", "PATCH", {}, 400),
        ("/_sandbox/channels/general/permissions/oncall", "PUT", {"type": 3}, 400),
        ("/_sandbox/channels/general/permissions/nobody", "PUT", {"type": 0}, 404),
        ("/_sandbox/channels/general/permissions/bob", "PUT", {"type": 1, "allow": "-1"}, 400),
        ("/_sandbox/channels/nowhere/permissions/bob", "PUT", {"type": 1}, 404),
    ],
)
async def test_bad_role_and_overwrite_changes_answer_4xx(
    control: Control, path, method, body, status
):
    answered, error = await control.request(method, path, json=body)
    assert answered == status and error["error"], error
