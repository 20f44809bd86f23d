"""The timeline responders build: reactions mark a message (at its time, by its author),
removing the reaction unmarks it, /timeline add and "Add to timeline" add entries."""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import select

from storage.models import TimelineEvent
from tests.e2e.helpers import text_of
from tests.postmortem.helpers import OVERLAY, declare, wait_ids


@pytest.fixture
def overlay():
    return OVERLAY


def same_ms(at: datetime, stamp: str) -> bool:
    """The message's own time (Discord's snowflake time is to the millisecond)."""
    sent = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    return abs((at - sent).total_seconds()) < 0.001


async def marks(bot, channel_id: str) -> list[TimelineEvent]:
    incident = await bot.services.incidents.in_channel(channel_id)
    async with bot.services.sessions() as session:
        rows = await session.scalars(
            select(TimelineEvent)
            .where(TimelineEvent.incident_id == incident.id, TimelineEvent.kind.like("mark:%"))
            .order_by(TimelineEvent.id)
        )
        return list(rows)


async def test_a_reaction_marks_the_message_at_its_time_and_by_its_author_and_unreacting_unmarks(
    bot, control
):
    channel = await declare(control)
    bob, carol = await control.user_id("bob"), await control.user_id("carol")
    found = await control.post(bob, channel, "Root cause: the cache TTL was set to 0 @everyone")
    await wait_ids(bot, control, channel, [found["id"]])
    await control.react(carol, channel, found["id"], "🔍")
    rows = await control.wait_for(lambda: marks(bot, channel), what="the 🔍 entry")
    assert [(r.kind, r.actor_id, r.message_id) for r in rows] == [
        ("mark:root_cause", bob, found["id"])
    ]
    assert same_ms(rows[0].at, found["created_at"])
    assert rows[0].data["reactors"] == [carol]

    shown = text_of(await control.command(carol, channel, "timeline", "show"))
    assert "Root cause identified: Root cause: the cache TTL was set to 0 @\u200beveryone" in shown
    assert "Incident declared" in shown

    # A second reactor, then both remove theirs: the entry goes with the last one.
    alice = await control.user_id("alice")
    await control.react(alice, channel, found["id"], "🔍")
    await control.wait_for(lambda: _reactors(bot, channel, [carol, alice]), what="a second reactor")
    await control.unreact(carol, channel, found["id"], "🔍")
    await control.wait_for(lambda: _reactors(bot, channel, [alice]), what="one reactor left")
    await control.unreact(alice, channel, found["id"], "🔍")

    async def gone():
        return not await marks(bot, channel)

    await control.wait_for(gone, what="the entry removed")


async def _reactors(bot, channel, expected):
    """Whether the newest mark's reactors are ``expected``."""
    rows = await marks(bot, channel)
    return rows and rows[-1].data.get("reactors") == expected


async def test_the_note_emoji_with_or_without_its_variation_selector_and_other_emoji_ignored(
    bot, control
):
    channel = await declare(control)
    bob = await control.user_id("bob")
    message = await control.post(bob, channel, "switching traffic to the standby region")
    await wait_ids(bot, control, channel, [message["id"]])
    await control.react(bob, channel, message["id"], "👍")
    await control.react(bob, channel, message["id"], "⏱️")
    rows = await control.wait_for(lambda: marks(bot, channel), what="the ⏱ entry")
    assert [r.kind for r in rows] == ["mark:note"]


async def test_timeline_add_and_the_message_command_keep_who_and_when(bot, control):
    channel = await declare(control)
    bob, carol = await control.user_id("bob"), await control.user_id("carol")
    answer = await control.command(
        carol, channel, "timeline", "add", kind="fix_deployed", text="v2.3.1 rolled out"
    )
    assert "Added to the timeline: Fix deployed." in text_of(answer)
    message = await control.post(bob, channel, "error rate back to baseline")
    await wait_ids(bot, control, channel, [message["id"]])
    line = await bot.services.postmortem.timeline.add_message(
        None, int(channel), int(message["id"]), carol
    )
    assert (line.label, line.actor_id) == ("Note", bob)
    rows = await marks(bot, channel)
    assert [(r.kind, r.actor_id) for r in rows] == [
        ("mark:fix_deployed", carol),
        ("mark:note", bob),
    ]
    assert same_ms(rows[1].at, message["created_at"])
    # Marked by hand: a reaction added and removed again leaves it.
    await control.react(carol, channel, message["id"], "⏱")
    await control.wait_for(lambda: _reactors(bot, channel, [carol]), what="carol's reaction")
    await control.unreact(carol, channel, message["id"], "⏱")
    await control.wait_for(lambda: _reactors(bot, channel, []), what="carol's reaction removed")
    assert [r.kind for r in await marks(bot, channel)] == ["mark:fix_deployed", "mark:note"]
    shown = text_of(await control.command(carol, channel, "timeline", "show"))
    assert "Fix deployed: v2.3.1 rolled out" in shown
    assert "Note: error rate back to baseline" in shown


async def test_timeline_outside_an_incident_channel_says_where_to_run_it(bot, control):
    general = await control.channel_id("general")
    carol = await control.user_id("carol")
    answer = await control.command(carol, general, "timeline", "show")
    assert "run this in its channel" in text_of(answer)
