"""What the comms pieces share: their dependencies, and the timer and outbox kinds they own.

The per-incident lock is the bot's one registry (``Services.locks``): comms takes it
only to change rows (lock, change, commit, unlock), then acts on Discord, X or GitHub
without it. Edits of one message that must happen one at a time (the #ops-alerts card,
a draft's approval message) hold a serialiser of their own, which no command waits on.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Hashable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.adapters.discord_out import DiscordOut
from bot.adapters.github import GitHubClient
from bot.adapters.x import XClient
from bot.core.clock import Clock
from bot.core.locks import IncidentLocks
from bot.core.outbox import Outbox
from bot.core.render import Renderer
from bot.core.timers import TimerService
from bot.settings import Config
from bot.triage.lifecycle import record
from bot.triage.service import IncidentService
from storage.models import Incident, TimelineEvent

# Timer kinds (durable deadlines) the comms phase owns.
GITHUB_ISSUE = "comms_github_issue"
EXTERNAL_DUE = "comms_external_due"
UPDATE_REMINDER = "comms_update_reminder"
PUBLISH = "comms_publish"
ASK = "comms_ask"  # post a draft's approval request in the incident channel

# Outbox kinds: effects that must happen once.
X_POST = "x_post"
GITHUB_ISSUE_EFFECT = "github_issue"


@dataclass
class Deps:
    config: Config
    sessions: async_sessionmaker[AsyncSession]
    discord: DiscordOut
    incidents: IncidentService
    timers: TimerService
    renderer: Renderer
    x: XClient | None
    github: GitHubClient | None
    clock: Clock
    locks: IncidentLocks
    outbox: Outbox

    @asynccontextmanager
    async def changing(self, incident_id: int) -> AsyncIterator[AsyncSession]:
        """Hold the incident's lock and a transaction: read, decide, write, commit. No
        outside call inside (the Discord adapter refuses one)."""
        async with self.locks.hold(incident_id), self.sessions.begin() as session:
            yield session

    def serial(self, what: str, key: Hashable) -> AbstractAsyncContextManager[None]:
        """One at a time for the outside effects on one thing (a message's edits)."""
        return self.locks.hold((what, key), across_calls=True)

    def record(
        self,
        session: AsyncSession,
        incident: Incident,
        kind: str,
        text: str,
        actor_id: str | None = None,
        data: dict[str, Any] | None = None,
        message_id: str | None = None,
    ) -> TimelineEvent:
        """A timeline event, stamped by the comms clock."""
        return record(session, incident, kind, text, actor_id, data, message_id, self.clock.now())

    def ops_alerts_id(self) -> str | None:
        channel = self.discord.text_channel(self.config.discord.ops_alerts_channel)
        return str(channel.id) if channel else None

    def channel_url(self, channel_id: str | None) -> str:
        if channel_id is None:
            return ""
        return f"https://discord.com/channels/{self.discord.guild.id}/{channel_id}"

    def name(self, user_id: str | None) -> str | None:
        if user_id is None:
            return None
        member = self.discord.member(user_id)
        return member.display_name if member else f"user {user_id}"
