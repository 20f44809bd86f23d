"""Reactions, pins and threads, both ways between the bot and the people in the world."""

from __future__ import annotations

import discord
import pytest

from .conftest import Control, RecordingBot


async def _posted(bot: RecordingBot, control: Control, content: str = "kickoff") -> discord.Message:
    return await bot.get_channel(int(control.channel_id("ops-alerts"))).send(content)


async def test_a_members_reaction_reaches_the_bot(bot, control: Control):
    message = await _posted(bot, control)
    body = {
        "user_id": "bob",
        "channel_id": str(message.channel.id),
        "message_id": str(message.id),
        "emoji": "✅",
    }
    status, _ = await control.post("/_sandbox/reactions", body)
    assert status == 200
    (event,) = await bot.until("raw_reaction_add", lambda e: e.message_id == message.id)
    assert (str(event.emoji), event.member.name) == ("✅", "bob")
    status, stored = await control.request("DELETE", "/_sandbox/reactions", json=body)
    assert status == 200 and stored["reactions"] == []
    (removed,) = await bot.until("raw_reaction_remove", lambda e: e.message_id == message.id)
    assert removed.user_id == int(control.user_id("bob"))


async def test_the_bots_reactions_show_in_the_channel(bot, control: Control):
    message = await _posted(bot, control)
    await message.add_reaction("👍")
    await message.add_reaction("<:signed:123456789012345678>")
    [stored] = await control.get(f"/_sandbox/channels/{message.channel.id}/messages")
    assert [r["emoji"] for r in stored["reactions"]] == ["👍", "signed:123456789012345678"]
    assert stored["reactions"][0]["user_ids"] == [str(bot.user.id)]
    await message.remove_reaction("👍", bot.user)
    [stored] = await control.get(f"/_sandbox/channels/{message.channel.id}/messages")
    assert [r["emoji"] for r in stored["reactions"]] == ["signed:123456789012345678"]


async def test_the_twenty_first_distinct_reaction_is_refused(bot, control: Control):
    message = await _posted(bot, control)
    for number in range(20):
        await message.add_reaction(f"e{number}:{100000000000000000 + number}")
    with pytest.raises(discord.HTTPException) as refused:
        await message.add_reaction("🔥")
    assert refused.value.code == 30010


async def test_a_pinned_message_is_listed_and_announced(bot, control: Control):
    message = await _posted(bot, control, "pin me")
    await message.pin()
    await bot.until("guild_channel_pins_update")
    pins = [m async for m in message.channel.pins()]
    assert [m.id for m in pins] == [message.id]
    stored = await control.get(f"/_sandbox/channels/{message.channel.id}/messages")
    assert stored[0]["pinned"] is True
    assert stored[-1]["type"] == 6  # Discord's "pinned a message" notice
    await message.unpin()
    assert [m async for m in message.channel.pins()] == []


async def test_legacy_pins_route_lists_pinned_messages(bot, control: Control):
    message = await _posted(bot, control)
    channel_id = message.channel.id
    status, _ = await control.rest("PUT", f"/channels/{channel_id}/pins/{message.id}")
    assert status == 204
    status, pins = await control.rest("GET", f"/channels/{channel_id}/pins")
    assert status == 200 and [p["id"] for p in pins] == [str(message.id)]


async def test_a_thread_from_a_message_reaches_the_bot(bot, control: Control):
    message = await _posted(bot, control)
    thread = await message.create_thread(name="Incident chatter")
    (created,) = await bot.until("thread_create")
    assert (created.id, created.name, created.parent_id) == (
        message.id,
        "Incident chatter",
        message.channel.id,
    )
    await thread.send("in the thread")
    stored = await control.get(f"/_sandbox/channels/{thread.id}/messages")
    assert [m["content"] for m in stored] == ["in the thread"]


async def test_a_thread_without_a_message_reaches_the_bot(bot, control: Control):
    channel = bot.get_channel(int(control.channel_id("general")))
    thread = await channel.create_thread(
        name="side discussion", type=discord.ChannelType.public_thread
    )
    (created,) = await bot.until("thread_create")
    assert created.id == thread.id and created.type is discord.ChannelType.public_thread


async def test_the_bot_can_list_who_reacted(bot, control: Control):
    message = await _posted(bot, control)
    for who in ("alice", "carol"):
        await control.post(
            "/_sandbox/reactions",
            {
                "user_id": who,
                "channel_id": str(message.channel.id),
                "message_id": str(message.id),
                "emoji": "✅",
            },
        )
    fetched = await message.channel.fetch_message(message.id)
    [reaction] = fetched.reactions
    assert reaction.count == 2 and not reaction.me
    assert sorted([u.name async for u in reaction.users()]) == ["alice", "carol"]
