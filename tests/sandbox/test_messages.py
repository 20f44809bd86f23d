"""Messages: Discord's limits, history paging, edits, deletes and file attachments."""

from __future__ import annotations

import io

import discord
import pytest

from .conftest import Control, RecordingBot


def _general(bot: RecordingBot, control: Control) -> discord.TextChannel:
    return bot.get_channel(int(control.channel_id("general")))


async def test_a_2001_character_message_is_refused_and_nothing_is_stored(bot, control: Control):
    channel = _general(bot, control)
    with pytest.raises(discord.HTTPException) as refused:
        await channel.send("x" * 2001)
    assert refused.value.status == 400 and refused.value.code == 50035
    assert "content" in refused.value.text or "2000" in refused.value.text
    assert await control.get(f"/_sandbox/channels/{channel.id}/messages") == []


async def test_a_2000_character_message_is_accepted(bot, control: Control):
    message = await _general(bot, control).send("x" * 2000)
    assert len(message.content) == 2000


@pytest.mark.parametrize(
    "embeds",
    [
        [discord.Embed(title="t" * 257)],
        [discord.Embed(description="d" * 4097)],
        [discord.Embed(description="d" * 4000), discord.Embed(description="d" * 2001)],
        [discord.Embed().add_field(name="n", value="v" * 1025)],
        [discord.Embed().set_footer(text="f" * 2049)],
    ],
    ids=["title", "description", "6000-total", "field-value", "footer"],
)
async def test_embeds_beyond_discords_limits_are_refused(bot, control: Control, embeds):
    with pytest.raises(discord.HTTPException) as refused:
        await _general(bot, control).send(embeds=embeds)
    assert refused.value.code == 50035


async def test_twenty_six_fields_are_refused(bot, control: Control):
    embed = discord.Embed(title="many")
    for number in range(26):
        embed.add_field(name=str(number), value="v")
    with pytest.raises(discord.HTTPException) as refused:
        await _general(bot, control).send(embed=embed)
    assert refused.value.code == 50035


async def test_eleven_embeds_are_refused(control: Control):
    general = control.channel_id("general")
    embeds = [{"title": str(n)} for n in range(11)]
    status, body = await control.rest(
        "POST", f"/channels/{general}/messages", json={"embeds": embeds}
    )
    assert (status, body["code"]) == (400, 50035)
    assert "embeds" in body["errors"]


async def test_an_empty_message_is_refused_50006(control: Control):
    general = control.channel_id("general")
    status, body = await control.rest("POST", f"/channels/{general}/messages", json={"content": ""})
    assert (status, body["code"]) == (400, 50006)


async def test_history_pages_backwards_and_forwards_in_order(bot, control: Control, world):
    channel = _general(bot, control)
    state = world.discord.state
    created = [
        state.create_message(channel.id, state.bot_user.id, {"content": f"m{n}"}).id
        for n in range(150)
    ]
    newest_first = [m.id async for m in channel.history(limit=None)]
    assert newest_first == list(reversed(created))
    oldest_first = [
        m.id async for m in channel.history(limit=None, after=discord.Object(created[0] - 1))
    ]
    assert oldest_first == created
    middle = [m.id async for m in channel.history(limit=120, before=discord.Object(created[130]))]
    assert middle == list(reversed(created[10:130]))


async def test_raw_history_with_after_answers_newest_first(control: Control, world):
    state = world.discord.state
    general = control.channel_id("general")
    ids = [
        state.create_message(general, state.bot_user.id, {"content": str(n)}).id for n in range(5)
    ]
    status, page = await control.rest(
        "GET", f"/channels/{general}/messages", params={"after": str(ids[0]), "limit": "2"}
    )
    assert status == 200 and [int(m["id"]) for m in page] == [ids[2], ids[1]]


async def test_a_multipart_text_attachment_comes_back_through_the_control_api(
    bot, control: Control
):
    channel = _general(bot, control)
    notes = discord.File(io.BytesIO(b"# Postmortem\n\nRoot cause: disk full.\n"), "postmortem.md")
    await channel.send("draft attached", file=notes)
    [stored] = await control.get(f"/_sandbox/channels/{channel.id}/messages")
    assert stored["content"] == "draft attached"
    assert stored["attachments"][0]["filename"] == "postmortem.md"
    assert stored["attachments"][0]["text"].startswith("# Postmortem")


async def test_edits_and_deletes_reach_the_bot(bot, control: Control):
    channel = _general(bot, control)
    message = await channel.send("first")
    await message.edit(content="second")
    before, after = await bot.until("message_edit")
    assert (before.content, after.content) == ("first", "second")
    await message.delete()
    await bot.until("raw_message_delete", lambda event: event.message_id == message.id)
    assert await control.get(f"/_sandbox/channels/{channel.id}/messages") == []


async def test_a_member_message_reaches_the_bot_with_its_author(bot, control: Control):
    status, posted = await control.post(
        "/_sandbox/messages", {"user_id": "dave", "channel_id": "general", "content": "status?"}
    )
    assert status == 201 and posted["content"] == "status?"
    (message,) = await bot.until("message", lambda m: m.content == "status?")
    assert isinstance(message.author, discord.Member) and message.author.name == "dave"


async def test_the_bots_own_messages_reach_it_through_the_gateway(bot, control: Control):
    sent = await _general(bot, control).send("from the bot")
    (echoed,) = await bot.until("message", lambda m: m.id == sent.id)
    assert echoed.author == bot.user


async def test_a_messages_timestamp_is_its_snowflakes_moment(bot, control: Control):
    """As on Discord, a message's ``timestamp`` is the time its id encodes (to the
    millisecond): a client that dates a message by its id and one that reads its timestamp
    agree. The emulator once took two readings of the clock, a millisecond apart under load."""
    from datetime import datetime

    channel = _general(bot, control)
    for n in range(5):
        await channel.send(f"tick {n}")
    messages = await control.get(f"/_sandbox/channels/{channel.id}/messages")
    ticks = [m for m in messages if m["content"].startswith("tick ")]
    assert len(ticks) == 5
    for message in ticks:
        stamp = datetime.fromisoformat(message["created_at"].replace("Z", "+00:00"))
        assert stamp == discord.utils.snowflake_time(int(message["id"])), message
