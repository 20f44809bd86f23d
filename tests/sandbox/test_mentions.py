"""Mentions follow allowed_mentions, the role's mentionable flag and Mention Everyone, and
the world records whom each message notified (issue 9)."""

from __future__ import annotations

import discord

from sandbox.discord import permissions as perms

from .conftest import Control, RecordingBot


def _general(bot: RecordingBot, control: Control) -> discord.TextChannel:
    channel = bot.get_channel(int(control.channel_id("general")))
    assert isinstance(channel, discord.TextChannel)
    return channel


async def _listed(control: Control, message_id: int) -> dict:
    messages = await control.get(f"/_sandbox/channels/{control.channel_id('general')}/messages")
    return next(m for m in messages if m["id"] == str(message_id))


def _role_id(control: Control, name: str) -> int:
    role = control.world.discord.state.find_role(name)
    assert role is not None
    return role.id


async def test_a_user_mention_notifies_only_within_allowed_mentions(bot, control: Control):
    channel = _general(bot, control)
    bob, carol = control.user_id("bob"), control.user_id("carol")
    message = await channel.send(
        f"<@{bob}> <@{carol}>",
        allowed_mentions=discord.AllowedMentions(users=[discord.Object(int(bob))]),
    )
    assert [m.id for m in message.mentions] == [int(bob)]
    assert (await _listed(control, message.id))["notified_user_ids"] == [bob]
    silent = await channel.send(f"<@{bob}>", allowed_mentions=discord.AllowedMentions.none())
    assert silent.mentions == []
    assert (await _listed(control, silent.id))["notified_user_ids"] == []


async def test_a_role_that_is_not_mentionable_notifies_nobody_unless_the_author_may(
    bot, control: Control
):
    oncall = _role_id(control, "oncall")
    body = {"user_id": "erin", "channel_id": "general", "content": f"<@&{oncall}> help"}
    status, posted = await control.post("/_sandbox/messages", body)
    assert status == 201 and posted["notified_user_ids"] == []
    # the bot holds Mention Everyone: its role ping notifies the role's members
    message = await _general(bot, control).send(
        f"<@&{oncall}>",
        allowed_mentions=discord.AllowedMentions(roles=[discord.Object(oncall)]),
    )
    assert [r.id for r in message.role_mentions] == [oncall]
    notified = set((await _listed(control, message.id))["notified_user_ids"])
    assert notified == {control.user_id(n) for n in ("alice", "bob", "carol")}
    # once the admin makes the role mentionable, anyone's ping notifies
    await control.request("PATCH", "/_sandbox/roles/oncall", json={"mentionable": True})
    status, posted = await control.post("/_sandbox/messages", body)
    assert set(posted["notified_user_ids"]) == notified


async def test_without_mention_everyone_the_bots_role_ping_notifies_nobody(bot, control: Control):
    role = next(r for r in control.world.discord.state.the_guild.roles.values() if r.bot_id)
    control.world.discord.state.edit_role(
        role, permissions=role.permissions & ~perms.MENTION_EVERYONE
    )
    oncall = _role_id(control, "oncall")
    message = await _general(bot, control).send(
        f"<@&{oncall}>", allowed_mentions=discord.AllowedMentions(roles=True)
    )
    assert message.role_mentions == []
    assert (await _listed(control, message.id))["notified_user_ids"] == []


async def test_everyone_needs_the_permission_and_parse_everyone(bot, control: Control):
    channel = _general(bot, control)
    off = await channel.send("@everyone", allowed_mentions=discord.AllowedMentions(everyone=False))
    assert not off.mention_everyone
    on = await channel.send("@everyone", allowed_mentions=discord.AllowedMentions(everyone=True))
    assert on.mention_everyone
    listed = await _listed(control, on.id)
    assert control.user_id("frank") in listed["notified_user_ids"]
    assert str(bot.user.id) not in listed["notified_user_ids"]
    status, posted = await control.post(
        "/_sandbox/messages", {"user_id": "erin", "channel_id": "general", "content": "@here"}
    )
    assert status == 201
    assert posted["notified_user_ids"] == []


async def test_a_member_who_cannot_see_the_channel_is_not_notified(bot, control: Control):
    bob = control.user_id("bob")
    await control.request(
        "PUT",
        "/_sandbox/channels/general/permissions/bob",
        json={"type": 1, "deny": str(perms.VIEW_CHANNEL)},
    )
    message = await _general(bot, control).send(f"<@{bob}>")
    assert (await _listed(control, message.id))["notified_user_ids"] == []


async def test_a_reply_notifies_its_author_only_with_replied_user(bot, control: Control):
    status, posted = await control.post(
        "/_sandbox/messages", {"user_id": "dave", "channel_id": "general", "content": "q"}
    )
    assert status == 201
    original = await _general(bot, control).fetch_message(int(posted["id"]))
    quiet = await original.reply("a", mention_author=False)
    loud = await original.reply("a", mention_author=True)
    assert (await _listed(control, quiet.id))["notified_user_ids"] == []
    assert (await _listed(control, loud.id))["notified_user_ids"] == [control.user_id("dave")]


async def test_an_edit_adding_a_mention_notifies_nobody(bot, control: Control):
    message = await _general(bot, control).send("nothing yet")
    edited = await message.edit(content=f"<@{control.user_id('bob')}>")
    assert [m.id for m in edited.mentions] == [int(control.user_id("bob"))]
    assert (await _listed(control, message.id))["notified_user_ids"] == []
