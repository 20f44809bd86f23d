"""The incident procedure as data.

Every default here is a line of Atrium's procedure document (severity table,
comms matrix, mitigation playbooks, postmortem rule, follow-up checklist). A
team changes any of it in ``[procedure]`` of the TOML file; code asks these
objects questions ("does this severity post externally?") and never compares
severity names.
"""

from __future__ import annotations

from datetime import date, timedelta
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, model_validator

from bot.core.durations import Duration


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class InternalTarget(StrEnum):
    """Where an internal announcement goes (the comms matrix's "Internal" column)."""

    OPS_ALERTS = "ops-alerts"
    INCIDENT_CHANNEL = "incident-channel"
    GITHUB_ISSUE = "github-issue"


class ExternalPolicy(StrEnum):
    """The comms matrix's "External" column."""

    NEVER = "never"
    ON_DECLARE = "on-declare"  # P0: "Twitter status update"
    AFTER_DOWNTIME = "after-downtime"  # P1: "Twitter if >30min downtime"


class MitigationKind(StrEnum):
    MULTISIG_PAUSE = "multisig-pause"
    HOTFIX_BRANCH = "hotfix-branch"
    GITHUB_TICKET = "github-ticket"


class Comms(Strict):
    internal: tuple[InternalTarget, ...]
    external: ExternalPolicy = ExternalPolicy.NEVER
    external_after_downtime: Duration = timedelta(minutes=30)
    update_every: Duration | None = None  # reminder to post a status update while open


class Playbook(Strict):
    kind: MitigationKind
    summary: str
    steps: tuple[str, ...]


class Severity(Strict):
    name: str
    definition: str
    examples: tuple[str, ...]
    response_time: str  # as the procedure words it
    respond_within: Duration | None  # None: "next sprint", no clock
    escalate_after: Duration | None  # page the next level if nobody acknowledges
    comms: Comms
    playbook: Playbook
    postmortem_required: bool = False


class Postmortem(Strict):
    due_within: Duration = timedelta(hours=48)
    path: str = "incidents/{date}-{slug}.md"

    def path_for(self, day: date, slug: str) -> str:
        """``incidents/YYYY-MM-DD-<slug>.md`` for an incident of ``day`` (its local date)."""
        return self.path.format(date=day.isoformat(), slug=slug)


class Procedure(Strict):
    severities: tuple[Severity, ...]
    postmortem: Postmortem = Postmortem()
    follow_up: tuple[str, ...]
    plan_tracker_path: str = "docs/plan-tracker.md"
    channel_prefix: str = "incident"
    response_reminder_at: float = Field(0.75, gt=0, lt=1)  # share of respond_within elapsed

    @model_validator(mode="after")
    def _unique_names(self) -> Procedure:
        names = [s.name for s in self.severities]
        if len(set(names)) != len(names):
            raise ValueError(f"severity names must be unique, got {names}")
        if not names:
            raise ValueError("at least one severity is needed")
        return self

    def severity(self, name: str) -> Severity:
        for severity in self.severities:
            if severity.name.lower() == name.strip().lower():
                return severity
        raise KeyError(name)

    @property
    def severity_names(self) -> list[str]:
        return [s.name for s in self.severities]

    def rank(self, name: str) -> int:
        """0 for the most severe level."""
        return self.severity_names.index(self.severity(name).name)


_P0_STEPS = (
    "Emergency pause via the Praetor multisig: `pause()` on $PRAETOR_TIMELOCK.",
    "Requires 2/3 multisig confirmation within the 48h timelock.",
    "For immediate action use the PosternKillSwitch: `revokeAll(address)` on $POSTERN_KILL_SWITCH "
    "with the compromised account.",
)
_P1_STEPS = (
    "Hotfix branch: `git checkout -b hotfix/incident-YYYY-MM-DD`.",
    "Fix, test, push: `git push -u origin hotfix/incident-YYYY-MM-DD`.",
    "Vercel auto-deploys a preview; promote to production via the Vercel UI.",
)
_TICKET_STEPS = (
    "Create a GitHub issue with the `incident` label.",
    "Link it to the incident channel.",
    "Schedule it for the next sprint.",
)


def default_procedure() -> Procedure:
    """Atrium's procedure document, section by section."""
    ops_and_channel = (InternalTarget.OPS_ALERTS, InternalTarget.INCIDENT_CHANNEL)
    ticket = Playbook(kind=MitigationKind.GITHUB_TICKET, summary="Ticket", steps=_TICKET_STEPS)
    return Procedure(
        severities=(
            Severity(
                name="P0",
                definition="Fund loss or unauthorized admin action",
                examples=("Exploit", "key compromise", "unauthorized pause"),
                response_time="Immediate",
                respond_within=timedelta(minutes=5),
                escalate_after=timedelta(minutes=5),
                comms=Comms(
                    internal=ops_and_channel,
                    external=ExternalPolicy.ON_DECLARE,
                    update_every=timedelta(minutes=30),
                ),
                playbook=Playbook(
                    kind=MitigationKind.MULTISIG_PAUSE, summary="Fund safety", steps=_P0_STEPS
                ),
                postmortem_required=True,
            ),
            Severity(
                name="P1",
                definition="Service down or data integrity issue",
                examples=("UI unreachable", "incorrect balances shown"),
                response_time="< 1 hour",
                respond_within=timedelta(hours=1),
                escalate_after=timedelta(minutes=15),
                comms=Comms(
                    internal=ops_and_channel,
                    external=ExternalPolicy.AFTER_DOWNTIME,
                    external_after_downtime=timedelta(minutes=30),
                    update_every=timedelta(hours=1),
                ),
                playbook=Playbook(
                    kind=MitigationKind.HOTFIX_BRANCH,
                    summary="Service restoration",
                    steps=_P1_STEPS,
                ),
                postmortem_required=True,
            ),
            Severity(
                name="P2",
                definition="Performance degradation",
                examples=("p95 > 5s", "partial feature broken"),
                response_time="< 24 hours",
                respond_within=timedelta(hours=24),
                escalate_after=timedelta(hours=4),
                comms=Comms(internal=(InternalTarget.OPS_ALERTS,)),
                playbook=ticket,
            ),
            Severity(
                name="P3",
                definition="Cosmetic or non-blocking",
                examples=("Typo", "minor UI glitch"),
                response_time="Next sprint",
                respond_within=None,
                escalate_after=None,
                comms=Comms(internal=(InternalTarget.GITHUB_ISSUE,)),
                playbook=ticket,
            ),
        ),
        follow_up=(
            "Action items tracked in `docs/plan-tracker.md`",
            "Postmortem published to `incidents/`",
            "Alert rules updated if detection was slow",
            "Runbooks updated if response was unclear",
        ),
    )
