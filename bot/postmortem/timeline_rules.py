"""The postmortem's timeline as plain functions: which recorded events are milestones, what
the line says, and the times the procedure asks for (detect, acknowledge, mitigate, resolve).

No Discord, no database: ``Event`` is what the timeline table holds, as values.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo
from typing import Any

from bot.postmortem.config import MILESTONES

MARK = "mark:"  # a milestone a responder marked: "mark:root_cause"
ALERT_FIRED = "alert_fired"  # made from the alerts' startsAt, not recorded
# Recorded kinds that are milestones, and how the line starts. A kind not listed (a
# reminder, a draft, a refused approval) is kept in the database, not in the postmortem.
AUTOMATIC: dict[str, str] = {
    "status:declared": "Incident declared",
    "commander": "Incident commander assigned",
    "status:acknowledged": "Acknowledged",
    "escalation": "Escalated",
    "severity": "Severity changed",
    "update": "Status update posted",
    "ops_alerts": "Announced",
    "external_posted": "Posted on X",
    "github_issue": "GitHub issue opened",
    "status:mitigated": "Mitigated",
    "status:resolved": "Resolved",
    "alert_resolved": "Alert resolved",
}
# The mitigation phase's kinds (bot/mitigate/): the milestone each stands for, if any.
# Only the effect read back on-chain is "Mitigation applied" and only a production
# deploy of the fix is "Fix deployed": a proposal or a preview is a line, not the time
# the incident was mitigated.
MITIGATION_MILESTONES: dict[str, str] = {
    "mitigation_applied": "mitigation",
    "fix_production": "fix_deployed",
}
MITIGATION_LINES: dict[str, str] = {
    "mitigation_proposed": "Mitigation proposed",
    "mitigation_approved": "Mitigation approved",
    "mitigation_signed": "Mitigation signed",
    "mitigation_confirmed": "Mitigation confirmed",
    "mitigation_onchain": "Confirmed on-chain",
    "mitigation_failed": "Mitigation failed",
    "mitigation_expired": "Mitigation expired",
    "mitigation_cancelled": "Mitigation cancelled",
    "hotfix_branch": "Hotfix branch created",
    "fix_preview": "Fix deployed to preview",
    "fix_deploy_failed": "Deployment failed",
}
TX_KEYS = ("tx_hash", "tx", "transaction")


@dataclass(frozen=True)
class Event:
    at: datetime
    kind: str
    text: str
    actor_id: str | None = None
    data: dict[str, Any] = field(default_factory=dict)
    message_id: str | None = None
    id: int | None = None


@dataclass(frozen=True)
class Line:
    at: datetime
    kind: str  # the milestone ("root_cause", "alert_fired") or the recorded kind
    label: str  # "Root cause identified"
    text: str  # what happened, as recorded (outside text is made inert when rendered)
    actor_id: str | None
    message_id: str | None = None
    tx_hash: str | None = None


def milestone_of(kind: str) -> str | None:
    """The template's milestone a recorded kind stands for (None: not one)."""
    if kind.startswith(MARK):
        return kind.removeprefix(MARK)
    if kind == "commander":
        return "commander_assigned"
    return MITIGATION_MILESTONES.get(kind)


def label_of(kind: str) -> str | None:
    if kind.startswith(MARK):
        return MILESTONES.get(kind.removeprefix(MARK))
    if kind in AUTOMATIC:
        return AUTOMATIC[kind]
    if kind in MITIGATION_MILESTONES:
        return MILESTONES[MITIGATION_MILESTONES[kind]]
    return MITIGATION_LINES.get(kind)


def tx_of(data: dict[str, Any]) -> str | None:
    for key in TX_KEYS:
        value = data.get(key)
        if isinstance(value, str) and value:
            return value
    return None


def lines(events: Iterable[Event], alert_starts: Sequence[tuple[str, datetime]]) -> list[Line]:
    """The timeline's lines in time order: the alerts' starts, then every milestone event."""
    found: list[Line] = [
        Line(at, ALERT_FIRED, MILESTONES[ALERT_FIRED], name, None) for name, at in alert_starts
    ]
    for event in events:
        label = label_of(event.kind)
        if label is None:
            continue
        kind = milestone_of(event.kind) or event.kind
        found.append(
            Line(
                event.at,
                kind,
                label,
                event.text,
                event.actor_id,
                event.message_id,
                tx_of(event.data),
            )
        )
    return sorted(found, key=lambda line: line.at)


def stamps(moments: Sequence[datetime], zone: tzinfo) -> list[str]:
    """``HH:MM`` for each moment, or ``YYYY-MM-DD HH:MM`` for all of them when they fall on
    more than one local day (an incident across midnight)."""
    local = [m.astimezone(zone) for m in moments]
    days = {m.date() for m in local}
    fmt = "%H:%M" if len(days) <= 1 else "%Y-%m-%d %H:%M"
    return [m.strftime(fmt) for m in local]


@dataclass(frozen=True)
class Measures:
    """The procedure's times, each None until both of its ends happened."""

    impact_start: datetime | None
    restored_at: datetime | None
    duration: timedelta | None  # impact start → service restored
    to_detect: timedelta | None  # impact start (the alert's) → declared
    to_acknowledge: timedelta | None  # declared → acknowledged
    to_mitigate: timedelta | None  # impact start → first mitigation
    to_resolve: timedelta | None  # impact start → resolved


def _first(found: Sequence[Line], *kinds: str) -> datetime | None:
    return next((line.at for line in found if line.kind in kinds), None)


def _between(start: datetime | None, end: datetime | None) -> timedelta | None:
    if start is None or end is None or end < start:
        return None
    return end - start


def measures(
    found: Sequence[Line],
    declared_at: datetime,
    acknowledged_at: datetime | None,
    resolved_at: datetime | None,
    down_since: datetime | None,
) -> Measures:
    """Impact starts at the first alert's ``startsAt`` (else when it was said to be down,
    else at the declaration); service is restored at the first 🟢-marked moment, else at
    resolution. Mitigated is the first mitigation milestone (marked 🩹, a mitigation the
    playbook applied, or the status "mitigated")."""
    candidates = [m for m in (_first(found, ALERT_FIRED), down_since) if m is not None]
    start = min(candidates) if candidates else declared_at
    restored = _first(found, "restored") or resolved_at
    mitigated = _first(found, "mitigation", "status:mitigated", "restored")
    return Measures(
        impact_start=start,
        restored_at=restored,
        duration=_between(start, restored),
        to_detect=_between(start, declared_at),
        to_acknowledge=_between(declared_at, acknowledged_at),
        to_mitigate=_between(start, mitigated),
        to_resolve=_between(start, resolved_at),
    )


def hours(delta: timedelta | None) -> str | None:
    """``Duration:`` as the template says it ("X hours"): ``2.5 hours``, ``40 minutes``."""
    if delta is None:
        return None
    minutes = delta.total_seconds() / 60
    if minutes < 90:
        return f"{round(minutes)} minutes"
    return f"{minutes / 60:.1f} hours"


_USER_MENTION = re.compile(r"<@!?(\d+)>")
_OTHER_MENTION = re.compile(r"<(?:@&|#)(\d+)>")


def named(text: str, name_of: Callable[[str], str]) -> str:
    """``<@id>`` as ``@Name`` (a file is read outside Discord, where a mention shows as a
    number); role and channel mentions as their ids. The result is still outside text."""
    text = _USER_MENTION.sub(lambda m: "@" + name_of(m.group(1)), text)
    return _OTHER_MENTION.sub(lambda m: m.group(1), text)
