"""The 48-hour rule (shortened here by configuration): reminders to the commander before
the deadline, incident-admin told when it passes, the breach recorded; durable across a
restart; a P2 owes nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import delete, select

from storage.db import make_engine, make_sessions
from storage.models import TimelineEvent, Timer
from tests.e2e.helpers import flaky_send, text_of, timer_done
from tests.postmortem.helpers import OVERLAY, declare

pytestmark = pytest.mark.manual_clock


@pytest.fixture
def overlay():
    return {
        **OVERLAY,
        "procedure": {**OVERLAY["procedure"], "postmortem": {"due_within": "1h"}},
        "postmortem": {"remind_before": ["30m", "10m"]},
    }


async def test_reminders_then_the_breach_told_to_incident_admin_and_recorded(bot, control, clock):
    channel = await declare(control)
    alice = await control.user_id("alice")
    await control.command(alice, channel, "incident", "resolve")
    resolved_at = (await bot.services.incidents.in_channel(channel)).resolved_at
    await bot.restart()  # the deadline is rows: a restart keeps it

    clock.advance(timedelta(minutes=30))
    first = await control.wait_for_message(
        channel, lambda m: "the postmortem is due" in m["content"], what="the first reminder"
    )
    assert first["content"].startswith(f"⏰ <@{alice}>: the postmortem is due")
    stamp = int((resolved_at + timedelta(hours=1)).timestamp())
    assert f"<t:{stamp}:f>" in first["content"]
    clock.advance(timedelta(minutes=20))

    async def reminders():
        found = [
            m for m in await control.messages(channel) if "the postmortem is due" in m["content"]
        ]
        return found if len(found) == 2 else None

    await control.wait_for(reminders, what="the second reminder")
    ops = await control.channel_id("ops-alerts")
    admin_role = next(
        r["id"] for r in (await control.world())["roles"] if r["name"] == "incident-admin"
    )
    assert not [m for m in await control.messages(ops) if "was due" in m["content"]]

    clock.advance(timedelta(minutes=10))
    told = await control.wait_for_message(
        ops, lambda m: "was due" in m["content"], what="incident-admin told"
    )
    assert told["content"].startswith(f"⚠️ <@&{admin_role}>: the postmortem of <#{channel}>")
    status = text_of(await control.command(alice, channel, "postmortem", "status"))
    assert "The deadline passed unpublished" in status
    async with bot.services.sessions() as session:
        kinds = list(await session.scalars(select(TimelineEvent.kind).order_by(TimelineEvent.id)))
        pending = list(
            await session.scalars(
                select(Timer).where(Timer.kind.like("postmortem_%"), Timer.state == "pending")
            )
        )
    assert kinds.count("postmortem_reminder") == 2 and kinds.count("postmortem_breach") == 1
    assert pending == []


async def test_a_reopened_incident_stops_the_clock_and_a_p2_owes_nothing(bot, control, clock):
    channel = await declare(control)
    alice = await control.user_id("alice")
    await control.command(alice, channel, "incident", "resolve")
    await control.command(alice, channel, "incident", "reopen")
    clock.advance(timedelta(hours=2))
    swaps = await declare(control, "Swaps slow", "P2")
    await control.command(alice, swaps, "incident", "resolve")
    clock.advance(timedelta(hours=2))
    async with bot.services.sessions() as session:
        timers = list(await session.scalars(select(Timer).where(Timer.kind.like("postmortem_%"))))
    assert timers and all(t.state == "cancelled" for t in timers)
    status = text_of(await control.command(alice, swaps, "postmortem", "status"))
    assert status.startswith("No postmortem is required for P2")


async def test_a_resolution_whose_timers_were_lost_gets_them_at_start(bot, control, clock):
    channel = await declare(control)
    alice = await control.user_id("alice")
    await control.command(alice, channel, "incident", "resolve")
    incident = await bot.services.incidents.in_channel(channel)
    database = bot.settings.database_path
    await bot.stop()
    # A crash between the resolution and the scheduling: no timer rows.
    engine = make_engine(database)
    async with make_sessions(engine).begin() as session:
        await session.execute(
            delete(Timer).where(Timer.incident_id == incident.id, Timer.kind.like("postmortem_%"))
        )
    await engine.dispose()
    await bot.start()
    clock.advance(timedelta(minutes=30))
    await control.wait_for_message(
        channel, lambda m: "the postmortem is due" in m["content"], what="the reminder"
    )


async def test_a_breach_notice_posted_before_an_error_is_said_once(bot, control, clock):
    failed = flaky_send(bot, "was due", after_effect=True)
    channel = await declare(control)
    alice = await control.user_id("alice")
    await control.command(alice, channel, "incident", "resolve")
    clock.advance(timedelta(hours=1))
    await control.wait_for(lambda: bool(failed), what="the failing post")
    await timer_done(bot, control, clock, "postmortem_due")
    ops = await control.channel_id("ops-alerts")
    for where in (ops, channel):
        told = [m for m in await control.messages(where) if "was due" in m["content"]]
        assert len(told) == 1
    async with bot.services.sessions() as session:
        kinds = list(await session.scalars(select(TimelineEvent.kind)))
    assert kinds.count("postmortem_breach") == 1


async def _reminders(control, channel) -> list[dict]:
    return [m for m in await control.messages(channel) if "the postmortem is due" in m["content"]]


async def _timers_done(bot, control, incident_id: int) -> None:
    async def done() -> bool:
        async with bot.services.sessions() as session:
            states = list(
                await session.scalars(
                    select(Timer.state).where(
                        Timer.incident_id == incident_id, Timer.kind.like("postmortem_%")
                    )
                )
            )
        return bool(states) and all(state in ("done", "cancelled") for state in states)

    await control.wait_for(done, what="the postmortem timers")


async def test_reminders_overtaken_while_the_bot_was_down_are_not_repeated(bot, control, clock):
    """Found by the timers drill: two reminders overdue at once (a long outage) posted the
    same text twice, and with the deadline passed too, both came before the breach. Only
    the latest one due speaks."""
    alice = await control.user_id("alice")
    first = await declare(control)
    await control.command(alice, first, "incident", "resolve")
    await bot.stop()
    clock.advance(timedelta(minutes=55))  # both reminders (30 and 50 min) overdue, not the hour
    await bot.start()
    await control.wait_for(lambda: _reminders(control, first), what="the later reminder")
    second = await declare(control, "Swaps slow")
    await control.command(alice, second, "incident", "resolve")
    await bot.stop()
    clock.advance(timedelta(hours=2))  # the second's reminders and deadline, all overdue
    await bot.start()
    ops = await control.channel_id("ops-alerts")
    await control.wait_for_message(
        ops,
        lambda m: "was due" in m["content"] and f"<#{second}>" in m["content"],
        what="the second's breach",
    )
    for channel in (first, second):
        await _timers_done(bot, control, (await bot.services.incidents.in_channel(channel)).id)
    assert len(await _reminders(control, first)) == 1
    assert await _reminders(control, second) == []
    async with bot.services.sessions() as session:
        kinds = list(await session.scalars(select(TimelineEvent.kind)))
    assert kinds.count("postmortem_reminder") == 1  # the first incident's
