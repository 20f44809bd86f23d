"""Names of deadlines, so ``/incident status`` can name the next one of any phase.

A deadline is a durable timer (bot/core/timers.py). Each phase names the timer kinds it
owns that a person waits on (triage here; others in the composition root,
bot/services.py), and status asks for the incident's soonest pending timer of any named
kind. Triage never imports another phase to do this: it only knows the names it was given.
Kinds left unnamed (internal retries, posting work) are not deadlines and are not shown.
"""

from __future__ import annotations

from bot.triage.base import ESCALATE, RESPONSE_BREACH, RESPONSE_REMINDER

TRIAGE_DEADLINES = {
    ESCALATE: "escalation if not acknowledged",
    RESPONSE_REMINDER: "response-time reminder",
    RESPONSE_BREACH: "response time runs out",
}


class DeadlineNames:
    def __init__(self) -> None:
        self._names: dict[str, str] = dict(TRIAGE_DEADLINES)

    def name(self, kind: str, what: str) -> None:
        """Call timer ``kind`` a deadline, described to people as ``what``."""
        if self._names.get(kind, what) != what:
            raise ValueError(f"timer kind {kind!r} is already named {self._names[kind]!r}")
        self._names[kind] = what

    def kinds(self) -> tuple[str, ...]:
        return tuple(self._names)

    def what(self, kind: str) -> str:
        return self._names.get(kind, kind.replace("_", " "))
