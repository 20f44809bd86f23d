"""Incident states, the one table of allowed moves, and the timeline.

Every status change goes through :func:`transition`, which writes the
timeline event in the same transaction. Other noteworthy facts (severity
changed, commander handed over, someone paged) go through :func:`record`.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.states import StateTable
from storage.models import Incident, TimelineEvent
from storage.types import utcnow


class Status(StrEnum):
    OPENING = "opening"  # row written, channel being created
    DECLARED = "declared"  # channel open, commander paged, not acknowledged
    ACKNOWLEDGED = "acknowledged"
    MITIGATED = "mitigated"
    RESOLVED = "resolved"
    CLOSED = "closed"  # postmortem and follow-up done
    FAILED = "failed"  # the channel could not be created; nothing is left behind


TRANSITIONS: dict[Status, frozenset[Status]] = {
    Status.OPENING: frozenset({Status.DECLARED, Status.FAILED}),
    Status.DECLARED: frozenset({Status.ACKNOWLEDGED, Status.MITIGATED, Status.RESOLVED}),
    Status.ACKNOWLEDGED: frozenset({Status.MITIGATED, Status.RESOLVED}),
    Status.MITIGATED: frozenset({Status.ACKNOWLEDGED, Status.RESOLVED}),
    Status.RESOLVED: frozenset({Status.ACKNOWLEDGED, Status.CLOSED}),  # reopen, or close
    Status.CLOSED: frozenset(),
    Status.FAILED: frozenset({Status.OPENING}),  # the same request, declared again
}

INCIDENTS: StateTable[Status] = StateTable("incident", TRANSITIONS)
OPEN_STATES = frozenset({Status.DECLARED, Status.ACKNOWLEDGED, Status.MITIGATED})


def can_move(current: str, target: Status) -> bool:
    return INCIDENTS.can(current, target)


def is_open(status: str) -> bool:
    """Declared, acknowledged or mitigated: a live incident people are working on."""
    return status in OPEN_STATES


def record(
    session: AsyncSession,
    incident: Incident,
    kind: str,
    text: str,
    actor_id: str | None = None,
    data: dict[str, Any] | None = None,
    message_id: str | None = None,
    at: datetime | None = None,
) -> TimelineEvent:
    """A timeline event in ``session``'s transaction, at ``at`` (the caller's clock) or now."""
    event = TimelineEvent(
        incident_id=incident.id,
        at=at or utcnow(),
        actor_id=actor_id,
        kind=kind,
        text=text,
        data=data or {},
        message_id=message_id,
    )
    session.add(event)
    return event


def transition(
    session: AsyncSession,
    incident: Incident,
    target: Status,
    text: str,
    actor_id: str | None = None,
    data: dict[str, Any] | None = None,
    at: datetime | None = None,
) -> TimelineEvent:
    current = Status(incident.status)
    INCIDENTS.check(current, target)  # Conflict naming the allowed moves
    now = at or utcnow()
    incident.status = target
    if target is Status.ACKNOWLEDGED and incident.acknowledged_at is None:
        incident.acknowledged_at = now
    if target is Status.RESOLVED:
        incident.resolved_at = now
    if target is Status.CLOSED:
        incident.closed_at = now
    if current is Status.RESOLVED and target is Status.ACKNOWLEDGED:
        incident.resolved_at = None
    return record(
        session,
        incident,
        f"status:{target}",
        text,
        actor_id,
        {"from": current, "to": target, **(data or {})},
        at=now,
    )
