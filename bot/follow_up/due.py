"""An action item's due date from what a responder typed: a date, ``+3d``, ``next friday``…
Plain functions, no Discord: ``today`` is the local date in the configured time zone."""

from __future__ import annotations

import re
from datetime import date, timedelta

from bot.errors import UserError

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
ACCEPTED = (
    "a date (`2026-03-20`), `today`, `tomorrow`, `+3d` or `+2w` (days or weeks from today), "
    "a weekday (`friday`: the next one) or `next friday` (the one in the following week)"
)
_RELATIVE = re.compile(r"^\+\s*(\d{1,3})\s*([dw])$")
_UNITS = {"d": 1, "w": 7}


class BadDueDate(UserError):
    pass


def parse_due(text: str, today: date) -> date:
    """The date ``text`` names, counted from ``today``. Raises BadDueDate, naming the
    accepted forms, for text it cannot read or a date before today."""
    said = " ".join(text.strip().lower().split())
    due = _read(said, today)
    if due is None:
        raise BadDueDate(f"I can't read `{_quoted(text)}` as a due date. Use {ACCEPTED}.")
    if due < today:
        raise BadDueDate(
            f"`{_quoted(text)}` is {due.isoformat()}, already past (today is "
            f"{today.isoformat()}). Use {ACCEPTED}."
        )
    return due


def _read(said: str, today: date) -> date | None:
    if said == "today":
        return today
    if said == "tomorrow":
        return today + timedelta(days=1)
    relative = _RELATIVE.match(said)
    if relative:
        return today + timedelta(days=int(relative[1]) * _UNITS[relative[2]])
    words = said.split(" ")
    if words[-1] in WEEKDAYS and len(words) <= 2 and words[0] in (words[-1], "next"):
        ahead = (WEEKDAYS.index(words[-1]) - today.weekday()) % 7 or 7
        if words[0] == "next":
            # "next friday": the Friday of next week (Monday-based weeks).
            monday = today - timedelta(days=today.weekday()) + timedelta(days=7)
            return monday + timedelta(days=WEEKDAYS.index(words[-1]))
        return today + timedelta(days=ahead)
    try:
        return date.fromisoformat(said)
    except ValueError:
        return None


def _quoted(text: str) -> str:
    return text.replace("`", "'")[:60]


def overdue(due_on: date, today: date) -> bool:
    return due_on < today
