"""The comms matrix applied to one incident: plain questions, answered from configuration.

Nothing here knows Discord, X or GitHub; the service asks these functions what the
procedure wants and then does it. No severity names appear in this file.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.procedure import ExternalPolicy, InternalTarget, Severity
from bot.triage.lifecycle import OPEN_STATES, Status
from storage.models import Incident


def is_open(incident: Incident) -> bool:
    return incident.status in {s.value for s in OPEN_STATES}


def announces_in_ops_alerts(level: Severity) -> bool:
    return InternalTarget.OPS_ALERTS in level.comms.internal


def keeps_ops_alerts_post(level: Severity, incident: Incident) -> bool:
    """The #ops-alerts post exists (or should): the matrix asks for it, or it was made earlier
    and now follows the incident (a P2 downgraded to P3 keeps its post, edited)."""
    return announces_in_ops_alerts(level) or incident.ops_alerts_message_id is not None


def wants_github_issue(level: Severity) -> bool:
    return InternalTarget.GITHUB_ISSUE in level.comms.internal


def posts_externally(level: Severity) -> bool:
    return level.comms.external is not ExternalPolicy.NEVER


def external_request_at(level: Severity, incident: Incident) -> datetime | None:
    """When to ask for approval of the first external post; None: the matrix never asks.

    ``on-declare`` asks at declaration; ``after-downtime`` once the service has been down
    for ``external_after_downtime``, counted from ``down_since`` (the alert's start when
    an alert opened the incident, else the declaration).
    """
    policy = level.comms.external
    if policy is ExternalPolicy.ON_DECLARE:
        return incident.declared_at
    if policy is ExternalPolicy.AFTER_DOWNTIME:
        start = incident.down_since or incident.declared_at
        return start + level.comms.external_after_downtime
    return None


def next_update_due(level: Severity, last_update_at: datetime) -> datetime | None:
    """When to remind the commander to post a status update; None: no reminders."""
    if level.comms.update_every is None:
        return None
    return last_update_at + level.comms.update_every


@dataclass(frozen=True)
class UpdateTargets:
    """Where a status update goes besides the incident channel (where it is always shown)."""

    ops_alerts: bool
    github_issue: bool

    def describe(self) -> list[str]:
        places = ["this channel"]
        if self.ops_alerts:
            places.append("#ops-alerts")
        if self.github_issue:
            places.append("the GitHub issue")
        return places


def update_targets(level: Severity, incident: Incident) -> UpdateTargets:
    return UpdateTargets(
        ops_alerts=announces_in_ops_alerts(level),
        github_issue=wants_github_issue(level) and incident.github_issue_number is not None,
    )


def resolution_reply_wanted(initial_state: str | None) -> bool:
    """A resolution reply goes in the thread only when the first post reached X."""
    return initial_state == "posted"


_STATUS_LABELS = {
    Status.DECLARED: "Declared, not acknowledged yet",
    Status.ACKNOWLEDGED: "Acknowledged, being worked on",
    Status.MITIGATED: "Mitigated, watching",
    Status.RESOLVED: "Resolved",
    Status.CLOSED: "Closed",
}


def status_label(status: str) -> str:
    return _STATUS_LABELS.get(status, status)  # type: ignore[call-overload]
