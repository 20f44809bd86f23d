"""Incident channel names: ``incident-YYYY-MM-DD-<slug>``, as Discord will store them."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Collection
from datetime import date, datetime, tzinfo

from bot.errors import UserError

MAX_CHANNEL_NAME = 100  # Discord's limit for a channel name
MAX_TITLE = 200
_NOT_SLUG = re.compile(r"[^a-z0-9]+")


def validate_title(title: str) -> str:
    """A title people can read: 1–200 characters with at least one letter or digit."""
    cleaned = " ".join(title.split())
    if not cleaned:
        raise UserError(
            "The title is empty. Say in a few words what is broken, e.g. `Withdrawals failing`."
        )
    if len(cleaned) > MAX_TITLE:
        raise UserError(
            f"The title is {len(cleaned)} characters; keep it to {MAX_TITLE} and put details in `summary`."
        )
    if not any(ch.isalnum() for ch in cleaned):
        raise UserError(
            "The title has no letters or digits (only emoji or punctuation). "
            "Say in words what is broken, e.g. `Withdrawals failing`."
        )
    return cleaned


def slugify(text: str, limit: int) -> str:
    """Lowercase ASCII words joined by dashes, cut at a word boundary within ``limit``."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = _NOT_SLUG.sub("-", ascii_text.lower()).strip("-")
    if len(slug) <= limit:
        return slug
    cut = slug[: limit + 1]
    boundary = cut.rfind("-")
    slug = cut[:boundary] if boundary > 0 else slug[:limit]
    return slug.strip("-")


def incident_day(
    declared_at: datetime, source: str, down_since: datetime | None, zone: tzinfo
) -> date:
    """The incident's day in the team's time zone: its channel name and postmortem file.

    An incident opened by an alert is dated by when the alert started (its
    ``startsAt``, kept as ``down_since``): an alert that fired at 23:50 and opened its
    channel at 00:05 belongs to the day it fired. Any other incident, by its declaration.
    """
    when = down_since if source == "alert" and down_since is not None else declared_at
    return when.astimezone(zone).date()


def channel_name(
    prefix: str, day: date, title: str, taken: Collection[str], fallback: str
) -> tuple[str, str]:
    """The channel name and slug for an incident declared on ``day``.

    A title with no Latin letters or digits (say, only Cyrillic) gets ``fallback``
    as its slug. A name already in ``taken`` gets ``-2``, ``-3`` … and the whole
    name stays within Discord's 100 characters.
    """
    head = f"{prefix}-{day.isoformat()}-"
    suffix_room = 4  # "-999"
    slug = slugify(title, MAX_CHANNEL_NAME - len(head) - suffix_room) or fallback
    name = head + slug
    number = 2
    while name in taken:
        name = f"{head}{slug}-{number}"
        number += 1
    return name, slug
