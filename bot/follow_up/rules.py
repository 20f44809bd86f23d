"""The follow-up checklist ("Action items tracked in ``docs/plan-tracker.md``; Postmortem
published to ``incidents/``; …") as data for one incident, without Discord or a database."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.core.durations import format_duration
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


# -- the close-out check (``/incident close``) ---------------------------------------------
@dataclass(frozen=True)
class CloseOutFacts:
    """What the close-out check looks at, read from the database."""

    needs_postmortem: bool
    published: bool  # the postmortem's commit is recorded (a failed push records none)
    items: int  # action items tracked (any state)
    to_detect: timedelta | None  # first alert's start (or the impact start) to declaration
    slow_after: timedelta  # [follow_up] slow_detection
    alert_rules_updated: bool
    runbooks: str | None  # "updated" | "clear" | None (the commander has not answered)


def time_to_detect(
    declared_at: datetime, alert_starts: list[datetime], impact_start: datetime | None
) -> timedelta | None:
    """From the impact start a responder set, else the first alert's start, to the
    declaration; None when neither is known (nothing to measure)."""
    start = impact_start or (min(alert_starts) if alert_starts else None)
    if start is None:
        return None
    return max(timedelta(0), declared_at - start)


def slow_detection(facts: CloseOutFacts) -> bool:
    return facts.to_detect is not None and facts.to_detect > facts.slow_after


def missing(facts: CloseOutFacts) -> list[str]:
    """The checklist items not done yet, in the procedure's order (empty: it may close)."""
    found = []
    if facts.items == 0:
        found.append("Action items tracked in `docs/plan-tracker.md`: none yet (`/followup add`)")
    if facts.needs_postmortem and not facts.published:
        found.append(
            "Postmortem published to `incidents/`: not published yet (`/postmortem publish`; "
            "a push that failed does not count)"
        )
    if slow_detection(facts) and not facts.alert_rules_updated:
        assert facts.to_detect is not None
        found.append(
            f"Alert rules updated: detection took {format_duration(facts.to_detect)}, past "
            f"{format_duration(facts.slow_after)} (press **Alert rules updated** once they are)"
        )
    if facts.runbooks is None:
        found.append(
            "Runbooks updated if response was unclear: the commander has not answered "
            "(**Runbooks updated** or **Response was clear**)"
        )
    return found
