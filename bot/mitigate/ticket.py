"""``/mitigate ticket`` (P2; P3's opens on declaration): the incident's GitHub issue, scheduled
for the next sprint.

It is the comms phase's issue (bot/communicate/github_issue.py: one outbox entry and one
hidden marker per incident, so one incident has one issue), asked for by a timer whose
payload says ``ticket``. This module adds what the procedure's "schedule for next sprint"
wants of every incident issue: the ``incident`` label and the severity's, and the
configured milestone (``[fix] ticket_milestone``), or ``[fix] ticket_label`` when none is
set or GitHub has no such open milestone.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.adapters.github import GitHubClient
from bot.communicate.base import GITHUB_ISSUE, Deps
from bot.communicate.github_issue import GitHubIssues, has_ticket_status
from bot.errors import UserError
from bot.mitigate.fix_config import FixConfig
from bot.mitigate.fix_rules import NOT_CONFIGURED
from storage import communicate as queries
from storage.models import Incident


@dataclass(frozen=True)
class Ticket:
    number: int | None  # None: being opened (its link is posted in the channel)
    url: str | None


class Tickets:
    def __init__(self, deps: Deps, fix: FixConfig, issues: GitHubIssues) -> None:
        self.d, self.fix, self.issues = deps, fix, issues
        issues.schedule = self.schedule
        issues.auto_severities = frozenset(fix.ticket_on_declare)

    async def schedule(
        self, github: GitHubClient, incident: Incident
    ) -> tuple[list[str], int | None]:
        """Inside the issue's effect: its labels and milestone (one lookup when configured)."""
        labels = [self.d.config.github.incident_label, incident.severity]
        milestone = None
        if self.fix.ticket_milestone:
            milestone = await github.milestone_number(self.fix.ticket_milestone)
        if milestone is None and self.fix.ticket_label not in labels:
            labels.append(self.fix.ticket_label)
        return labels, milestone

    async def request(self, incident: Incident, user_id: str) -> Ticket:
        """The incident's ticket, or (being opened now) Ticket(None, None)."""
        if incident.github_issue_number is not None:
            return Ticket(incident.github_issue_number, incident.github_issue_url)
        if self.d.github is None:
            raise UserError(NOT_CONFIGURED)
        async with self.d.changing(incident.id) as session:
            row = await queries.hold_incident(session, incident.id)
            assert row is not None
            if row.github_issue_number is not None:
                return Ticket(row.github_issue_number, row.github_issue_url)
            if not has_ticket_status(row):
                raise UserError("This incident has no channel to link yet.")
            if not await queries.has_pending_timer(session, row.id, [GITHUB_ISSUE]):
                self.d.timers.schedule(
                    session,
                    GITHUB_ISSUE,
                    self.d.clock.now(),
                    row.id,
                    {"ticket": True, "by": user_id},
                )
        return Ticket(None, None)
