"""A gap in the gateway (INVALID_SESSION, a restart) whose first live message arrives before
the backfill: the messages of the gap are still read (found by `make chaos`, issue 15)."""

from __future__ import annotations

import pytest

from tests.e2e.helpers import ALWAYS_ON_CALL, find_channel, sql, sql_now


@pytest.fixture
def overlay():
    return ALWAYS_ON_CALL


def _kept(bot, channel_id: str) -> set[str]:  # type: ignore[no-untyped-def]
    rows = sql_now(
        bot, "SELECT message_id FROM transcript_messages WHERE channel_id = ?", channel_id
    )
    return {str(r[0]) for r in rows}


async def test_messages_of_a_gap_are_backfilled_after_a_newer_live_one(bot, control):
    general = await control.channel_id("general")
    erin, alice = await control.user_id("erin"), await control.user_id("alice")
    await control.command(erin, general, "incident", "declare", title="Gap", severity="P2")
    channel = (await find_channel(control, "incident-", "-gap"))["id"]
    await control.wait_for(lambda: _kept(bot, channel), what="the kickoff kept")
    client = bot.runtime.bot

    client.dispatch("disconnect")  # the gateway is lost (no RESUME follows)
    missed = [(await control.post(alice, channel, f"while away {n}"))["id"] for n in range(3)]
    await control.wait_for(lambda: _kept(bot, channel) >= set(missed), what="kept")
    for message in missed:  # ... so the bot never saw these
        await sql(bot, "DELETE FROM transcript_messages WHERE message_id = ?", int(message))
    live = (await control.post(alice, channel, "first one after the new session"))["id"]
    await control.wait_for(lambda: live in _kept(bot, channel), what="the live one kept")
    client.dispatch("ready")  # the new session's READY: the backfill runs

    await control.wait_for(
        lambda: _kept(bot, channel) >= {*missed, live}, what="the gap's messages backfilled"
    )
