"""When owners are reminded and when the weekly digest goes out (plain functions)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.follow_up.reminder_rules import due_end, next_digest, reminders
from bot.follow_up.stats_rules import mean, p90

BERLIN = ZoneInfo("Europe/Berlin")


def test_an_item_becomes_overdue_at_the_end_of_its_local_due_day():
    assert due_end(date(2026, 3, 20), BERLIN) == datetime(2026, 3, 20, 23, 0, tzinfo=UTC)


def test_reminders_before_the_due_day_ends_then_overdue_skipping_those_already_past():
    now = datetime(2026, 3, 20, 12, 0, tzinfo=UTC)
    end = due_end(date(2026, 3, 20), BERLIN)
    found = reminders(date(2026, 3, 20), BERLIN, [timedelta(days=1), timedelta(hours=4)], now)
    assert found == [("before", end - timedelta(hours=4)), ("overdue", end)]


def test_the_digest_is_the_next_configured_weekday_and_time_in_the_zone():
    wednesday = datetime(2026, 3, 18, 10, 0, tzinfo=UTC)
    assert next_digest(wednesday, BERLIN, "monday", time(9, 0)) == datetime(
        2026, 3, 23, 8, 0, tzinfo=UTC
    )
    # Exactly at the digest moment: the next one is a week later, never the same instant,
    # still 09:00 local across the switch to summer time (29 March): 07:00 UTC.
    monday = datetime(2026, 3, 23, 8, 0, tzinfo=UTC)
    assert next_digest(monday, BERLIN, "monday", time(9, 0)) == datetime(
        2026, 3, 30, 7, 0, tzinfo=UTC
    )
    # Later the same day: still today.
    assert next_digest(wednesday, BERLIN, "wednesday", time(15, 30)) == datetime(
        2026, 3, 18, 14, 30, tzinfo=UTC
    )


def test_mean_and_nearest_rank_p90():
    minutes = [timedelta(minutes=m) for m in (1, 2, 3, 4, 5, 6, 7, 8, 9, 100)]
    assert mean(minutes) == timedelta(minutes=14.5)
    assert p90(minutes) == timedelta(minutes=9)
    assert p90([timedelta(minutes=3)]) == timedelta(minutes=3)
    assert mean([]) is None and p90([]) is None
