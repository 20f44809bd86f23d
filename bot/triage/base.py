"""What the triage pieces share: markers, events, the page's state table, and their deps."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.adapters.discord_out import DiscordOut
from bot.adapters.notices import ChannelNotices
from bot.core.clock import Clock
from bot.core.locks import IncidentLocks
from bot.core.outbox import Outbox
from bot.core.permissions import Actor
from bot.core.render import Renderer
from bot.core.states import StateTable
from bot.core.text import in_code
from bot.core.timers import TimerService
from bot.errors import ExternalServiceError, UserError
from bot.procedure import Severity
from bot.settings import Config
from bot.triage.oncall import OnCallService
from storage.models import Incident

log = logging.getLogger(__name__)

MAX_SUMMARY = 1000
ACK_EMOJI = "✅"
SEVERITY_COLOURS = (0xED4245, 0xE67E22, 0xFEE75C, 0x95A5A6)

# Timer kinds of the response clock.
ESCALATE, RESPONSE_REMINDER, RESPONSE_BREACH = "escalate", "response_reminder", "response_breach"
CLOCK_TIMERS = (ESCALATE, RESPONSE_REMINDER, RESPONSE_BREACH)


def ack_custom_id(incident_id: int) -> str:
    return f"incident:ack:{incident_id}"


def topic_marker(incident_id: int) -> str:
    return f"[incident:{incident_id}]"


def kickoff_footer(incident_id: int) -> str:
    return f"Incident #{incident_id}"


class PageState(StrEnum):
    PENDING = "pending"  # recorded; its message goes out through the outbox
    SENT = "sent"
    FAILED = "failed"  # Discord refused or the send is in doubt; retried by its timer
    CANCELLED = "cancelled"  # acknowledged before the message left


PAGES: StateTable[PageState] = StateTable(
    "page",
    {
        PageState.PENDING: frozenset({PageState.SENT, PageState.FAILED, PageState.CANCELLED}),
        PageState.FAILED: frozenset({PageState.PENDING, PageState.SENT, PageState.CANCELLED}),
        PageState.SENT: frozenset(),
        PageState.CANCELLED: frozenset(),
    },
)


@dataclass(frozen=True)
class IncidentEvent:
    """Something happened to an incident; listeners (comms, follow-up) react to it."""

    kind: str  # declared | acknowledged | severity_changed | commander_changed | status_changed | resolved | paged
    incident: Incident
    actor_id: str | None = None
    data: dict[str, Any] = field(default_factory=dict)


Listener = Callable[[IncidentEvent], Awaitable[None]]


@dataclass(frozen=True)
class Declared:
    incident: Incident
    created: bool  # False: this request had already declared it (a retry)


@dataclass(frozen=True)
class Deadline:
    what: str
    at: datetime


@dataclass(frozen=True)
class StatusReport:
    incident: Incident
    age: timedelta
    time_to_ack: timedelta | None
    next_deadline: Deadline | None


@dataclass
class TriageDeps:
    config: Config
    sessions: async_sessionmaker[AsyncSession]
    discord: DiscordOut
    oncall: OnCallService
    timers: TimerService
    renderer: Renderer
    clock: Clock
    locks: IncidentLocks
    outbox: Outbox
    notices: ChannelNotices
    listeners: list[Listener] = field(default_factory=list)

    def now(self) -> datetime:
        return self.clock.now()

    def severity(self, name: str) -> Severity:
        try:
            return self.config.procedure.severity(name)
        except KeyError:
            names = ", ".join(self.config.procedure.severity_names)
            raise UserError(
                f"`{in_code(name)}` is not a severity here; choose one of {names}."
            ) from None

    def actor(self, user_id: str) -> Actor:
        return Actor(user_id, self.discord.role_names(user_id))

    async def emit(self, event: IncidentEvent) -> None:
        """Tell every listener; one failing listener does not stop the others."""
        for listener in list(self.listeners):
            try:
                await listener(event)
            except Exception:
                log.exception(
                    "listener %s failed on %s of incident %s",
                    listener,
                    event.kind,
                    event.incident.id,
                )

    async def grant(self, channel_id: str | None, user_id: str) -> None:
        """Channel access for a new responder: wanted, but the state change stands without it."""
        if not channel_id:
            return
        try:
            await self.discord.grant_access(channel_id, user_id)
        except (UserError, ExternalServiceError):
            log.warning(
                "could not give <@%s> access to channel %s", user_id, channel_id, exc_info=True
            )

    def ops_alerts_id(self) -> str | None:
        channel = self.discord.text_channel(self.config.discord.ops_alerts_channel)
        return str(channel.id) if channel else None
