"""When an action item's owner is reminded, and when the weekly digest goes out. Plain
functions: dates are local dates in the configured zone, moments are aware datetimes."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.follow_up.due import WEEKDAYS


def due_end(due_on: date, zone: ZoneInfo) -> datetime:
    """The moment an item due on ``due_on`` becomes overdue: the end of that local day."""
    return datetime.combine(due_on + timedelta(days=1), time(0), tzinfo=zone)


def reminders(
    due_on: date, zone: ZoneInfo, before: list[timedelta], now: datetime
) -> list[tuple[str, datetime]]:
    """(``before`` | ``overdue``, when) for a new item: each reminder ``before`` the end of
    its due day still ahead of ``now``, then the first overdue reminder at that end."""
    end = due_end(due_on, zone)
    early = sorted({end - lead for lead in before if end - lead > now})
    return [("before", at) for at in early] + [("overdue", end)]


def next_digest(now: datetime, zone: ZoneInfo, day: str, at: time) -> datetime:
    """The first digest moment (``day`` at ``at``, local) strictly after ``now``."""
    local = now.astimezone(zone)
    ahead = (WEEKDAYS.index(day) - local.weekday()) % 7
    moment = datetime.combine(local.date() + timedelta(days=ahead), at, tzinfo=zone)
    if moment <= now:
        moment = datetime.combine(moment.date() + timedelta(days=7), at, tzinfo=zone)
    return moment
