"""What comes after resolving an incident: the postmortem deadline (where the severity
requires one, with its path) and the follow-up checklist. Plain functions, no Discord."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from bot.core.durations import format_duration
from bot.follow_up.rules import FollowUpItem, checklist
from bot.postmortem.rules import PostmortemDue, postmortem_for
from bot.procedure import Procedure


@dataclass(frozen=True)
class NextSteps:
    postmortem: PostmortemDue | None  # None: the severity requires no postmortem
    follow_up: tuple[FollowUpItem, ...]

    def lines(self) -> list[str]:
        """Markdown lines for an answer or a message: the postmortem's deadline as a Discord
        timestamp (shown in each reader's time zone), then the checklist."""
        lines = []
        if self.postmortem is not None:
            due = self.postmortem
            within = format_duration(due.within)
            if due.due_at is not None:
                stamp = int(due.due_at.timestamp())
                when = f"by <t:{stamp}:f> (<t:{stamp}:R>, {within} after resolution)"
            else:
                when = f"within {within} of resolution"
            lines.append(f"**Postmortem** due {when}: `{due.path}`.")
        lines.append("**Follow-up**")
        lines.extend(item.markdown() for item in self.follow_up)
        return lines


def next_steps(
    procedure: Procedure, *, severity: str, day: date, slug: str, resolved_at: datetime
) -> NextSteps:
    """What the procedure asks for once an incident is resolved.

    ``severity`` is the incident's severity name; ``day`` its local date in the configured
    time zone (``IncidentService.local_date``: the date of its channel name and postmortem
    file); ``slug`` the end of its channel name; ``resolved_at`` when it was resolved (the
    postmortem's 48 h count from there, see ``postmortem_due_at``). Raises KeyError for a
    severity the procedure does not have.

    ``NextSteps.postmortem`` is None where the severity requires no postmortem (P2, P3);
    ``NextSteps.follow_up`` is the checklist for that severity; ``NextSteps.lines()``
    renders both as Markdown, e.g. for the resolve answer.
    """
    return NextSteps(
        postmortem_for(procedure, severity, day, slug, resolved_at),
        checklist(procedure, severity),
    )
