"""Done when (item 4): the closed incident's channel read-only in the archive category; an
archived channel deleted by the sweep only once old enough, its transcript stored and its
postmortem published; archiving refused by Discord (permissions) said, state consistent."""

from __future__ import annotations

from datetime import timedelta

import pytest

from storage import follow_up as queries
from tests.e2e.helpers import text_of
from tests.postmortem.helpers import OVERLAY, declare, wait_kept

pytestmark = pytest.mark.manual_clock


@pytest.fixture
def overlay():
    return {**OVERLAY, "follow_up": {"delete_after": "2d", "sweep_every": "1h"}}


async def channel_of(control, channel_id: str) -> dict:
    world = await control.world(refresh=True)
    return next(c for c in world["channels"] if c["id"] == channel_id)


async def category_named(control, name: str) -> dict | None:
    world = await control.world(refresh=True)
    return next((c for c in world["channels"] if c["type"] == 4 and c["name"] == name), None)


async def test_a_closed_channel_is_archived_read_only_then_deleted_once_kept(bot, control, clock):
    channel = await declare(control, "Typo on status page", "P2")  # no postmortem required
    alice = await control.user_id("alice")
    await control.post(alice, channel, "Fixed the typo")
    await wait_kept(bot, control, channel, 1)
    await control.command(alice, channel, "incident", "ack")
    await control.command(alice, channel, "incident", "resolve")
    await control.command(
        alice, channel, "followup", "add", action="Lint copy", owner=alice, due="+1d"
    )
    question = await _question(control, channel, alice)
    await control.press(alice, channel, question["id"], _ids(question)["Response was clear"])
    closed = text_of(await control.command(alice, channel, "incident", "close"))
    assert closed.endswith("The channel is read-only now, in **Incident archive**.")
    archive = await category_named(control, "Incident archive")
    assert archive is not None
    moved = await channel_of(control, channel)
    assert moved["parent_id"] == archive["id"]
    guild = bot.services.discord.guild
    seen = guild.get_channel(int(channel))  # as the gateway told the bot
    assert seen.overwrites_for(guild.default_role).send_messages is False
    assert seen.overwrites_for(guild.get_member(int(alice))).send_messages is not True

    incident = await bot.services.incidents.in_channel(channel)
    clock.advance(timedelta(days=1))
    assert await bot.services.follow_up.archive.sweep() == []  # not old enough
    clock.advance(timedelta(days=1, minutes=1))
    assert await bot.services.follow_up.archive.sweep() == [incident.id]
    world = await control.world(refresh=True)
    assert channel not in {c["id"] for c in world["channels"]}
    async with bot.services.sessions() as session:
        row = await queries.find_closeout(session, incident.id)
    assert row is not None and row.deleted_at is not None


async def _question(control, channel: str, alice: str) -> dict:
    await control.command(alice, channel, "incident", "close")
    return await control.wait_for_message(
        channel, lambda m: m["content"].startswith("📋 "), what="the close-out question"
    )


def _ids(message) -> dict[str, str]:
    return {c["label"]: c["custom_id"] for row in message["components"] for c in row["components"]}


async def test_an_archive_category_discord_refuses_is_said_and_the_sweep_archives_later(
    bot, control, clock
):
    channel = await declare(control, "Typo on status page", "P2")
    alice = await control.user_id("alice")
    await control.command(alice, channel, "incident", "ack")
    await control.command(alice, channel, "incident", "resolve")
    guild = bot.services.discord.guild
    await control.fault("forbidden", 1, f"/guilds/{guild.id}/channels")
    closed = text_of(await control.command(alice, channel, "incident", "close", reason="Duplicate"))
    assert closed.startswith(f"🔒 Closed by <@{alice}>. Closed by override")
    assert "⚠️ Not archived: The bot lacks the Manage Channels permission in the server" in closed
    assert closed.endswith("It stays where it is; the next sweep tries again.")
    incident = await bot.services.incidents.in_channel(channel)
    assert incident.status == "closed"
    assert await category_named(control, "Incident archive") is None
    async with bot.services.sessions() as session:
        row = await queries.find_closeout(session, incident.id)
    assert row is not None and row.archived_at is None and row.override_reason == "Duplicate"

    assert await bot.services.follow_up.archive.sweep() == []  # archives it, deletes nothing
    archive = await category_named(control, "Incident archive")
    assert (
        archive is not None and (await channel_of(control, channel))["parent_id"] == archive["id"]
    )
