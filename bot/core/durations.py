"""Durations as people write them in configuration: ``90s``, ``5m``, ``4h``, ``2d``, ``1h30m``."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Annotated

from pydantic import BeforeValidator, PlainSerializer

_PART = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)")
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(text: str | int | float | timedelta) -> timedelta:
    """Parse ``"1h30m"`` into a timedelta; a bare number is seconds."""
    if isinstance(text, timedelta):
        return text
    if isinstance(text, int | float) and not isinstance(text, bool):
        if text < 0:
            raise ValueError("a duration cannot be negative")
        return timedelta(seconds=text)
    if not isinstance(text, str):
        raise ValueError("expected a duration such as '90s', '5m', '4h' or '2d'")
    compact = text.strip().lower().replace(" ", "")
    if not compact:
        raise ValueError(
            "expected a duration such as '90s', '5m', '4h' or '2d', got an empty string"
        )
    pos, seconds = 0, 0.0
    for match in _PART.finditer(compact):
        if match.start() != pos:
            break
        seconds += float(match.group(1)) * _UNITS[match.group(2)]
        pos = match.end()
    if pos != len(compact):
        raise ValueError(
            f"{text!r} is not a duration; write it like '90s', '5m', '4h', '2d' or '1h30m'"
        )
    try:
        return timedelta(seconds=seconds)
    except OverflowError:
        raise ValueError(f"{text!r} is longer than any duration this bot can keep") from None


def format_duration(delta: timedelta) -> str:
    """``timedelta(hours=1, minutes=5)`` → ``"1h 5m"``; seconds only under ten minutes,
    days only from three days on (the procedure says "48h", not "2d")."""
    total = int(delta.total_seconds())
    sign = "-" if total < 0 else ""
    total = abs(total)
    days, rest = divmod(total, 86400) if total >= 3 * 86400 else (0, total)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    parts = []
    if days:
        parts.append(f"{days}d")
    if hours:
        parts.append(f"{hours}h")
    if minutes:
        parts.append(f"{minutes}m")
    if seconds and total < 600:
        parts.append(f"{seconds}s")
    return sign + (" ".join(parts) or "0s")


def _serialise(delta: timedelta) -> str:
    return f"{delta.total_seconds():g}s"


Duration = Annotated[timedelta, BeforeValidator(parse_duration), PlainSerializer(_serialise)]


def parse_when(text: str, now: datetime, zone: tzinfo) -> datetime:
    """``now``, ``+2h`` / ``2h`` (from now), or a date-time (``2026-11-28 09:00``, in ``zone``
    unless it carries an offset)."""
    value = text.strip()
    if value.lower() == "now":
        return now
    relative = value.removeprefix("+")
    if relative and _looks_relative(relative):
        return now + parse_duration(relative)
    try:
        moment = datetime.fromisoformat(value.replace(" ", "T", 1))
    except ValueError:
        raise ValueError(
            f"{text!r} is not a time; write `now`, `+2h`, or a date-time like `2026-11-28 09:00`"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    return moment.astimezone(UTC)


def _looks_relative(text: str) -> bool:
    try:
        parse_duration(text)
    except ValueError:
        return False
    return True
