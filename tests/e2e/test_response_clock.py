"""The severity's response time is tracked: a reminder before it runs out, a breach recorded."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from storage.models import TimelineEvent, Timer
from tests.e2e.helpers import ALWAYS_ON_CALL, flaky_send, incident_channel_id, timer_done

# The bot runs on a ManualClock here: the tests move time instead of waiting for it.
pytestmark = pytest.mark.manual_clock


@pytest.fixture
def overlay():
    return {
        **ALWAYS_ON_CALL,
        "procedure": {
            "response_reminder_at": 0.5,
            "severities": {"P2": {"respond_within": "2s", "escalate_after": "1h"}},
        },
    }


async def _declare(control, title):
    general = await control.channel_id("general")
    await control.command(
        await control.user_id("erin"), general, "incident", "declare", title=title, severity="P2"
    )
    return await incident_channel_id(control, "-" + title.lower().replace(" ", "-"))


async def test_unanswered_response_time_reminds_then_records_a_breach(bot, control, clock):
    channel = await _declare(control, "Slow pages")
    clock.advance(timedelta(seconds=1))  # half of the 2 s response time
    await control.wait_for_message(
        channel, lambda m: "runs out" in m["content"], timeout=5, what="the reminder"
    )
    contents = [m["content"] for m in await control.messages(channel)]
    assert not any("has passed" in c for c in contents)
    clock.advance(timedelta(seconds=1))
    await control.wait_for_message(
        channel,
        lambda m: "has passed without an acknowledgement" in m["content"],
        timeout=5,
        what="the breach",
    )
    async with bot.services.sessions() as session:
        kinds = list(await session.scalars(select(TimelineEvent.kind).order_by(TimelineEvent.id)))
        times = dict(
            (e.kind, e.at)
            for e in await session.scalars(select(TimelineEvent).order_by(TimelineEvent.id))
        )
    assert kinds.index("response_reminder") < kinds.index("response_breach")
    # Timeline events carry the bot's clock: declared at t, reminded at t+1 s, breached at t+2 s.
    declared = times["status:declared"]
    assert times["response_reminder"] - declared == timedelta(seconds=1)
    assert times["response_breach"] - declared == timedelta(seconds=2)


async def test_an_acknowledged_incident_is_neither_reminded_nor_breached(bot, control, clock):
    channel = await _declare(control, "Quick answer")
    alice = await control.user_id("alice")
    await control.command(alice, channel, "incident", "ack")
    async with bot.services.sessions() as session:
        pending = list(
            await session.scalars(
                select(Timer.kind).where(
                    Timer.kind.in_(("response_reminder", "response_breach")),
                    Timer.state == "pending",
                )
            )
        )
    assert pending == []  # nothing left that could remind or breach
    clock.advance(timedelta(seconds=2.5))
    contents = [m["content"] for m in await control.messages(channel)]
    assert not any("runs out" in c or "has passed" in c for c in contents)


async def test_a_reminder_posted_before_an_error_is_not_posted_again(bot, control, clock):
    failed = flaky_send(bot, "runs out", after_effect=True)
    channel = await _declare(control, "Flaky reminder")
    clock.advance(timedelta(seconds=1))
    await control.wait_for(lambda: bool(failed), timeout=5, what="the failing post")
    await timer_done(bot, control, clock, "response_reminder")
    reminders = [m for m in await control.messages(channel) if "runs out" in m["content"]]
    assert len(reminders) == 1


async def test_a_breach_notice_that_failed_is_posted_when_the_timer_retries(bot, control, clock):
    failed = flaky_send(bot, "has passed", after_effect=False)
    channel = await _declare(control, "Flaky breach")
    clock.advance(timedelta(seconds=2))
    await control.wait_for(lambda: bool(failed), timeout=5, what="the failing post")
    assert await timer_done(bot, control, clock, "response_breach") == 2
    breaches = [m for m in await control.messages(channel) if "has passed" in m["content"]]
    assert len(breaches) == 1
    async with bot.services.sessions() as session:
        kinds = list(await session.scalars(select(TimelineEvent.kind)))
    assert kinds.count("response_breach") == 1
