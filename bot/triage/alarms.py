"""A failing timer of the response clock reaches a person: #ops-alerts, once per timer.

Paging is the one thing an incident bot must never fail silently. The notice is an
outbox entry keyed by the timer, so retries of the timer (and restarts) say it once;
/healthz names failing timers too (storage/timers.py ``failing``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.adapters.discord_out import Embed
from bot.core.outbox import EffectState, Refused, Retry, marker
from bot.core.timers import MAX_ATTEMPTS
from bot.errors import ExternalServiceError, UserError
from bot.triage.base import ESCALATE, RESPONSE_BREACH, RESPONSE_REMINDER, TriageDeps
from storage import outbox as outbox_queries
from storage.models import Incident, OutboxEntry, Timer

OPS_ALARM = "ops_alarm"  # outbox kind
ALARMED_TIMERS = {
    ESCALATE: "Escalation (paging)",
    RESPONSE_REMINDER: "The response-time reminder",
    RESPONSE_BREACH: "The response-time breach notice",
}


def alarm_footer(timer_id: int) -> str:
    return f"Timer {timer_id} · {marker(timer_id)}"


class TimerAlarm:
    def __init__(self, deps: TriageDeps) -> None:
        self.d = deps
        deps.outbox.register_verifier(OPS_ALARM, self._find_alarm)

    async def report(self, timer: Timer, error: str, final: bool) -> None:
        """Say in #ops-alerts that a timer of the response clock fails: once per timer."""
        key = f"timer-failed:{timer.id}"
        async with self.d.sessions.begin() as session:
            entry = await outbox_queries.by_key(session, key)
            if entry is None:
                incident = await session.get(Incident, timer.incident_id)
                channel = f" (<#{incident.channel_id}>)" if incident and incident.channel_id else ""
                what = ALARMED_TIMERS.get(timer.kind, f"Timer {timer.kind}")
                then = (
                    "The bot has given up on it: act by hand."
                    if final
                    else f"The bot retries (try {timer.attempts} of {MAX_ATTEMPTS})."
                )
                content = (
                    f"🚨 **{what} is failing** for incident #{timer.incident_id}{channel}: "
                    f"{error[:300]}. {then} Check Discord's status and the bot's log."
                )
                entry = self.d.outbox.add(
                    session,
                    OPS_ALARM,
                    key,
                    {"timer_id": timer.id, "content": content[:2000]},
                    timer.incident_id,
                )
                await session.flush()
            entry_id, state = entry.id, entry.state
        if state in (EffectState.DONE, EffectState.SENDING):
            return
        if state != EffectState.PENDING:
            await self.d.outbox.release(entry_id)
        await self.d.outbox.deliver(entry_id, self._send_alarm)

    async def _send_alarm(self, entry: OutboxEntry) -> Mapping[str, Any] | None:
        ops = self.d.ops_alerts_id()
        if ops is None:
            raise Refused(f"there is no #{self.d.config.discord.ops_alerts_channel} channel")
        if entry.attempts > 1:
            found = await self._find_alarm(entry)
            if found is not None:
                return found
        try:
            message_id = await self.d.discord.send(
                ops,
                content=entry.payload["content"],
                embed=Embed(
                    title="A timer of the response clock is failing",
                    description="Paging must never fail silently.",
                    colour=0xED4245,
                    footer=alarm_footer(entry.payload["timer_id"]),
                ),
            )
        except UserError as error:
            raise Refused(str(error)) from error
        except ExternalServiceError as error:
            raise Retry(str(error)) from error
        return {"message_id": message_id, "channel_id": ops}

    async def _find_alarm(self, entry: OutboxEntry) -> Mapping[str, Any] | None:
        ops = self.d.ops_alerts_id()
        if ops is None:
            return None
        message_id = await self.d.discord.find_own_message(
            ops, alarm_footer(entry.payload["timer_id"]), newest_first=True
        )
        return {"message_id": message_id, "channel_id": ops} if message_id else None
