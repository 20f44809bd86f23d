"""What the comms pieces share: their dependencies and one lock per incident."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.adapters.discord_out import DiscordOut
from bot.adapters.github import GitHubClient
from bot.adapters.x import XClient
from bot.core.render import Renderer
from bot.core.timers import TimerService
from bot.settings import Config
from bot.triage.service import IncidentService
from storage.models import Incident, Timer

# Timer kinds (durable deadlines) the comms phase owns.
GITHUB_ISSUE = "comms_github_issue"
EXTERNAL_DUE = "comms_external_due"
UPDATE_REMINDER = "comms_update_reminder"
PUBLISH = "comms_publish"
ASK = "comms_ask"  # post a draft's approval request in the incident channel


@dataclass
class _Held:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    users: int = 0  # holding or waiting


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
    _locks: dict[int, _Held] = field(default_factory=dict)

    @asynccontextmanager
    async def lock(self, incident_id: int) -> AsyncIterator[None]:
        """Serialises the comms work of one incident (events, timers, button presses).

        An incident's lock lives only while someone holds it or waits for it: the map
        holds the incidents being worked on now, not every incident this process saw.
        """
        held = self._locks.get(incident_id)
        if held is None:
            held = self._locks[incident_id] = _Held()
        held.users += 1
        try:
            async with held.lock:
                yield
        finally:
            held.users -= 1
            if held.users == 0 and self._locks.get(incident_id) is held:
                del self._locks[incident_id]

    def ops_alerts_id(self) -> str | None:
        channel = self.discord.text_channel(self.config.discord.ops_alerts_channel)
        return str(channel.id) if channel else None

    def channel_url(self, channel_id: str | None) -> str:
        if channel_id is None:
            return ""
        return f"https://discord.com/channels/{self.discord.guild.id}/{channel_id}"


async def has_pending_timer(
    session: AsyncSession, incident_id: int | None, kinds: Iterable[str], post_id: int | None = None
) -> bool:
    query = select(Timer).where(Timer.kind.in_(list(kinds)), Timer.state.in_(("pending", "firing")))
    if incident_id is not None:
        query = query.where(Timer.incident_id == incident_id)
    rows = list(await session.scalars(query))
    if post_id is not None:
        rows = [t for t in rows if t.payload.get("post_id") == post_id]
    return bool(rows)


async def hold_incident(session: AsyncSession, incident_id: int) -> Incident | None:
    """The incident, read after taking the database's write lock in ``session``'s transaction.

    Comms schedules timers from what it reads (``open`` → a reminder). Reading first would
    race a resolution committed in between, whose timer cancellation never sees the new
    row. With the lock taken first, a concurrent change either committed before (and is
    read here) or waits for this commit (and its cancellation then covers our timers).
    """
    await session.execute(text("UPDATE incidents SET id = id WHERE id = :id"), {"id": incident_id})
    return await session.get(Incident, incident_id, populate_existing=True)
