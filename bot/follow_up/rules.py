"""The follow-up checklist ("Action items tracked in ``docs/plan-tracker.md``; Postmortem
published to ``incidents/``; …") as data for one incident, without Discord or a database."""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.postmortem.rules import requires_postmortem
from bot.procedure import Procedure

# The checklist is the procedure's (or the team's) sentences; the one about the postmortem
# is the one that mentions it.
_POSTMORTEM_ITEM = re.compile(r"\bpost-?mortems?\b", re.IGNORECASE)


@dataclass(frozen=True)
class FollowUpItem:
    text: str
    applies: bool = True
    why_not: str | None = None  # set when ``applies`` is False

    def markdown(self) -> str:
        """One line of a Markdown checklist; an item that does not apply says why."""
        if self.applies:
            return f"- [ ] {self.text}"
        return f"- ~~{self.text}~~ ({self.why_not})"


def checklist(procedure: Procedure, severity: str) -> tuple[FollowUpItem, ...]:
    """The follow-up checklist for an incident of ``severity``, in the procedure's order.

    Every item applies, except the postmortem's where the severity needs no postmortem
    (the procedure requires one for P0 and P1 only): that one is kept, saying why it does
    not apply, so the list still reads as the procedure's.
    """
    level = procedure.severity(severity)
    needs_postmortem = requires_postmortem(level)
    items = []
    for text in procedure.follow_up:
        if not needs_postmortem and _POSTMORTEM_ITEM.search(text):
            why = f"no postmortem is required for {level.name}"
            items.append(FollowUpItem(text, applies=False, why_not=why))
        else:
            items.append(FollowUpItem(text))
    return tuple(items)


def render_checklist(items: tuple[FollowUpItem, ...]) -> str:
    """``/incident follow-up``'s answer."""
    return "**Follow-up**\n" + "\n".join(item.markdown() for item in items)
