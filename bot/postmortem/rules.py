"""The postmortem rule ("Required for P0 and P1 within 48 hours. Template:
``incidents/YYYY-MM-DD-<slug>.md``") as plain functions, without Discord or a database."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from bot.procedure import Postmortem, Procedure, Severity


@dataclass(frozen=True)
class PostmortemDue:
    """The postmortem an incident owes: where it goes, and by when."""

    severity: str
    within: timedelta  # the procedure's 48 h
    path: str  # incidents/YYYY-MM-DD-<slug>.md
    due_at: datetime | None  # None while the incident is not resolved: the clock has not started


def requires_postmortem(severity: Severity) -> bool:
    """Whether incidents of ``severity`` need a postmortem (the procedure: P0 and P1)."""
    return severity.postmortem_required


def postmortem_due_at(resolved_at: datetime, rule: Postmortem) -> datetime:
    """When the postmortem is due: ``rule.due_within`` (48 h) after the incident was resolved.

    The procedure says only "within 48 hours". Counted from resolution, because a postmortem
    tells the whole incident: its timeline runs to "service restored" and its root cause is
    often found only while restoring, so it cannot be written before the end. Counted from
    declaration, an incident that lasted two days would owe its postmortem before it was
    over. The kickoff words it the same way ("within 48h of resolution"). A reopened incident
    is unresolved again: the deadline counts from its last resolution.
    """
    return resolved_at + rule.due_within


def postmortem_path(rule: Postmortem, day: date, slug: str) -> str:
    """``incidents/YYYY-MM-DD-<slug>.md``, by the incident's local date (its channel's date)."""
    return rule.path_for(day, slug)


def postmortem_for(
    procedure: Procedure, severity: str, day: date, slug: str, resolved_at: datetime | None
) -> PostmortemDue | None:
    """The postmortem an incident of ``severity`` owes, or None when its severity needs none.

    ``day`` is the incident's local date, ``resolved_at`` when it was resolved (None while
    it is open: then the result has no ``due_at`` yet).
    """
    level = procedure.severity(severity)
    if not requires_postmortem(level):
        return None
    rule = procedure.postmortem
    due_at = postmortem_due_at(resolved_at, rule) if resolved_at is not None else None
    return PostmortemDue(level.name, rule.due_within, postmortem_path(rule, day, slug), due_at)
