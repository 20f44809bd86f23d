"""The rules of triage as plain functions: no Discord, no database, no clock of their own.

Where to look:
- who escalation level N pages: :func:`escalation_target`
- when the secondary (level 1) and then the admin role (level 2) are paged, and the
  level after a page or a severity change: :func:`next_escalation`
- when the response-time reminder and breach are due: :func:`response_deadlines`
- whether an incident still awaits acknowledgement: :func:`awaiting_ack`
- which severity's windows apply after a severity change: :func:`clock_after_severity_change`
- whether a declared title duplicates an open incident: :func:`is_duplicate_title`

The severities' durations come from the procedure (configuration); nothing here names
a severity.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.triage.lifecycle import is_open

COMMANDER_LEVEL = 0  # the on-call primary (or whoever took command): pinged by the kickoff
SECONDARY_LEVEL = 1  # the on-call secondary
ADMIN_LEVEL = 2  # the admin role: the last level
LAST_LEVEL = ADMIN_LEVEL


@dataclass(frozen=True)
class Target:
    """Whom a page goes to: a user or a role, at an escalation level."""

    level: int
    kind: str  # "user" | "role"
    id: str

    @property
    def mention(self) -> str:
        return f"<@{self.id}>" if self.kind == "user" else f"<@&{self.id}>"


@dataclass(frozen=True)
class Escalation:
    """The next escalation step to schedule: page ``level`` at ``due``."""

    level: int
    due: datetime


def awaiting_ack(status: str, acknowledged_at: datetime | None) -> bool:
    """Open and not acknowledged: the response clock still has work to do."""
    return acknowledged_at is None and is_open(status)


def escalation_target(
    level: int,
    secondary_id: str | None,
    commander_id: str | None,
    paged: frozenset[str],
    admin_role_id: str | None,
) -> Target | None:
    """Whom escalation ``level`` pages.

    Level 1 pages the on-call secondary, unless they are the commander or were paged
    already; then it goes straight on to level 2, the admin role. None: nobody is left.
    """
    if level <= SECONDARY_LEVEL:
        if secondary_id and secondary_id != commander_id and secondary_id not in paged:
            return Target(SECONDARY_LEVEL, "user", secondary_id)
        level = ADMIN_LEVEL
    if level == ADMIN_LEVEL and admin_role_id:
        return Target(ADMIN_LEVEL, "role", admin_role_id)
    return None


def next_level(paged_level: int) -> int | None:
    """The level after the highest one paged so far; None once the last level was paged."""
    following = max(paged_level, COMMANDER_LEVEL) + 1
    return following if following <= LAST_LEVEL else None


def next_escalation(
    paged_level: int,
    escalate_after: timedelta | None,
    declared_at: datetime,
    last_page_at: datetime | None,
    now: datetime,
) -> Escalation | None:
    """When to page the next level, if nobody acknowledges.

    The first escalation is ``escalate_after`` from the declaration; each further one
    ``escalate_after`` from the last page. What is already overdue is due now. None: the
    severity does not escalate, or every level has been paged.
    """
    level = next_level(paged_level)
    if level is None or escalate_after is None:
        return None
    since = declared_at if level == SECONDARY_LEVEL or last_page_at is None else last_page_at
    return Escalation(level, max(now, since + escalate_after))


def clock_after_severity_change(
    paged_level: int,
    escalate_after: timedelta | None,
    declared_at: datetime,
    last_page_at: datetime | None,
    now: datetime,
) -> Escalation | None:
    """After a severity change the new severity's windows apply, counted from the
    declaration (or the last page), and escalation continues from the level reached:
    it never starts over at a level that was paged already."""
    return next_escalation(paged_level, escalate_after, declared_at, last_page_at, now)


@dataclass(frozen=True)
class ResponseDeadlines:
    reminder: datetime
    breach: datetime


def response_deadlines(
    declared_at: datetime, respond_within: timedelta | None, reminder_at: float
) -> ResponseDeadlines | None:
    """The response time runs out ``respond_within`` after the declaration; the reminder
    comes once the share ``reminder_at`` of it has passed. None: no response clock."""
    if respond_within is None:
        return None
    breach = declared_at + respond_within
    return ResponseDeadlines(reminder=declared_at + respond_within * reminder_at, breach=breach)


def normalised_title(title: str) -> str:
    """A title as the duplicate rule compares it: case, accents' forms, punctuation and
    spacing do not count ("API down!" and "api  DOWN" are the same title)."""
    folded = unicodedata.normalize("NFKC", title).casefold()
    return " ".join("".join(ch if ch.isalnum() else " " for ch in folded).split())


def is_duplicate_title(title: str, open_title: str) -> bool:
    """Whether declaring ``title`` would duplicate an open incident titled ``open_title``.

    The rule: the same normalised title (:func:`normalised_title`). Not the slug, which
    is cut to a length and drops non-ASCII letters, so two different long titles could
    share it; not "similar" titles, which would hold back incidents that are different.
    """
    return normalised_title(title) == normalised_title(open_title)
