"""A failing timer of the response clock reaches a person: #ops-alerts, once per timer.

Paging is the one thing an incident bot must never fail silently. The notice is an
outbox entry keyed by the timer, so retries of the timer (and restarts) say it once;
/healthz names failing timers too (storage/timers.py ``failing``).
"""

from __future__ import annotations

import logging

from bot.core.timers import MAX_ATTEMPTS
from bot.errors import ExternalServiceError
from bot.triage.base import ESCALATE, RESPONSE_BREACH, RESPONSE_REMINDER, TriageDeps
from storage.models import Incident, Timer

log = logging.getLogger(__name__)

ALARMED_TIMERS = {
    ESCALATE: "Escalation (paging)",
    RESPONSE_REMINDER: "The response-time reminder",
    RESPONSE_BREACH: "The response-time breach notice",
}


class TimerAlarm:
    def __init__(self, deps: TriageDeps) -> None:
        self.d = deps

    async def report(self, timer: Timer, error: str, final: bool) -> None:
        """Say in #ops-alerts that a timer of the response clock fails: once per timer."""
        ops = self.d.ops_alerts_id()
        if ops is None:
            log.error(
                "timer %s (%s) fails and there is no #%s to say so: %s",
                timer.id,
                timer.kind,
                self.d.config.discord.ops_alerts_channel,
                error,
            )
            return
        async with self.d.sessions.begin() as session:
            incident = await session.get(Incident, timer.incident_id)
            channel = f" (<#{incident.channel_id}>)" if incident and incident.channel_id else ""
            what = ALARMED_TIMERS.get(timer.kind, f"Timer {timer.kind}")
            then = (
                "The bot has given up on it: act by hand."
                if final
                else f"The bot retries (try {timer.attempts} of {MAX_ATTEMPTS})."
            )
            entry = await self.d.notices.add(
                session,
                f"timer-failed:{timer.id}",
                ops,
                f"🚨 **{what} is failing** for incident #{timer.incident_id}{channel}: "
                f"{error[:300]}. {then} Check Discord's status and the bot's log.",
                title="A timer of the response clock is failing",
                description="Paging must never fail silently.",
                colour=0xED4245,
                label=f"Timer {timer.id}",
                incident_id=timer.incident_id,
            )
            entry_id = entry.id
        try:
            await self.d.notices.deliver(entry_id)
        except ExternalServiceError as failure:  # Discord is down: /healthz names the timer
            log.error("could not say in #ops-alerts that timer %s fails: %s", timer.id, failure)
