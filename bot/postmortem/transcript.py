"""The incident channel's transcript: every message of the channel and its threads kept as
it arrives (edits and deletions too), and backfilled from the channel's history after a
restart or a gateway gap, so a postmortem is drafted from the database alone.

Capture is keyed by the message's snowflake: live events and a backfill reading the same
message store one row, never two.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import discord
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.adapters.discord_files import history_after, threads_of
from bot.adapters.discord_out import DiscordOut
from bot.core.clock import Clock
from bot.errors import UserError
from storage import incidents as incident_queries
from storage import transcript as queries
from storage.models import Incident

if TYPE_CHECKING:
    from bot.triage.base import IncidentEvent
from storage.transcript import Captured

log = logging.getLogger(__name__)
# Incidents whose channels are still read and written: a resolved one is where its
# postmortem is discussed, so it is captured too.
CAPTURED_STATES = ("declared", "acknowledged", "mitigated", "resolved")
GAP_MARGIN = timedelta(seconds=2)  # for clock skew between the bot and Discord


@dataclass(frozen=True)
class Where:
    channel_id: str  # the incident channel
    thread_id: str | None


def where(channel: object, channel_id: int) -> Where:
    """The incident channel a message belongs to: a thread's is its parent's."""
    if isinstance(channel, discord.Thread):
        return Where(str(channel.parent_id), str(channel.id))
    return Where(str(channel_id), None)


def captured(message: discord.Message, incident_id: int, place: Where) -> Captured:
    author = message.author
    return Captured(
        message_id=message.id,
        incident_id=incident_id,
        channel_id=place.channel_id,
        thread_id=place.thread_id,
        author_id=str(author.id),
        author_name=getattr(author, "display_name", None) or author.name,
        is_bot=bool(author.bot),
        content=message.content or "",
        attachments=tuple(a.filename for a in message.attachments),
        created_at=message.created_at,
        edited_at=message.edited_at,
    )


@dataclass(frozen=True)
class Backfilled:
    incidents: int
    messages: int  # messages read (new ones and ones already kept)


class TranscriptService:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        out: DiscordOut,
        clock: Clock,
        backfill_limit: int = 20_000,
    ) -> None:
        self._sessions, self._out, self._clock = sessions, out, clock
        self._limit = backfill_limit
        self._incident_of: dict[str, int] = {}  # incident channel id → incident id
        self._backfilling = asyncio.Lock()
        self._reads: set[asyncio.Task[None]] = set()
        # When the bot last stopped hearing the gateway (this process's start, a lost
        # session). Live capture goes on before the next backfill, so the backfill reads
        # after the newest message kept from before then, not after the newest kept.
        # Wall time, as Discord's snowflakes carry it (not the injected procedure clock).
        self._gap_since: datetime | None = datetime.now(UTC)

    def gateway_lost(self) -> None:
        """The gateway went away: what arrives until the next backfill may have been missed."""
        if self._gap_since is None:
            self._gap_since = datetime.now(UTC)

    # -- which incident ---------------------------------------------------------------
    async def incident_for(self, channel_id: str) -> int | None:
        """The incident whose channel is ``channel_id`` (not a thread: its parent)."""
        known = self._incident_of.get(channel_id)
        if known is not None:
            return known
        async with self._sessions() as session:
            incident = await incident_queries.by_channel(session, channel_id)
        if incident is None or incident.status in ("opening", "failed"):
            return None  # not remembered: a channel being opened gets its id stored later
        self._incident_of[channel_id] = incident.id
        return incident.id

    async def place_of(self, channel: object, channel_id: int) -> tuple[int, Where] | None:
        place = where(channel, channel_id)
        if place.thread_id is None and channel is None:
            # A raw event for a channel the cache does not know: maybe a thread.
            thread = self._out.guild.get_thread(channel_id)
            if thread is not None:
                place = where(thread, channel_id)
        incident_id = await self.incident_for(place.channel_id)
        return None if incident_id is None else (incident_id, place)

    # -- live events ----------------------------------------------------------------------
    async def on_message(self, message: discord.Message) -> bool:
        """Keep ``message`` if it is in an incident channel or thread; True if kept."""
        if message.guild is None or message.flags.ephemeral:
            return False
        found = await self.place_of(message.channel, message.channel.id)
        if found is None:
            return False
        incident_id, place = found
        async with self._sessions.begin() as session:
            await queries.store(session, [captured(message, incident_id, place)])
        return True

    async def on_edit(self, payload: discord.RawMessageUpdateEvent) -> None:
        message = payload.message
        edited = message.edited_at or self._clock.now()
        async with self._sessions.begin() as session:
            if await queries.edit(session, payload.message_id, message.content or "", edited):
                return
        await self.on_message(message)  # not kept yet (before a backfill): keep it whole

    async def on_delete(self, message_ids: list[int]) -> None:
        async with self._sessions.begin() as session:
            await queries.delete(session, message_ids, self._clock.now())

    async def on_event(self, event: IncidentEvent) -> None:
        """Subscribed to IncidentService: once an incident is declared its channel is known,
        so what was said there while it was being opened is read (beside the command)."""
        if event.kind != "declared" or event.incident.channel_id is None:
            return
        self._incident_of[event.incident.channel_id] = event.incident.id
        task = asyncio.create_task(
            self._first_read(event.incident), name=f"transcript-{event.incident.id}"
        )
        self._reads.add(task)
        task.add_done_callback(self._reads.discard)

    async def _first_read(self, incident: Incident) -> None:
        try:
            await self.backfill(incident)
        except Exception:
            log.exception("transcript of incident %s: the first read failed", incident.id)

    async def stop(self) -> None:
        for task in list(self._reads):
            task.cancel()
        await asyncio.gather(*self._reads, return_exceptions=True)

    # -- after a restart or a gap ---------------------------------------------------------
    async def backfill_all(self) -> Backfilled:
        """Read what every captured incident's channel (and its threads) got while the bot
        was away. One at a time, so the pages of many channels never burst."""
        async with self._sessions() as session:
            incidents = await incident_queries.in_states(session, CAPTURED_STATES)
        read = 0
        gap = self._gap_since
        below = None if gap is None else discord.utils.time_snowflake(gap - GAP_MARGIN)
        async with self._backfilling:
            for incident in incidents:
                if incident.channel_id is None:
                    continue
                self._incident_of[incident.channel_id] = incident.id
                try:
                    read += await self._backfill(incident, below)
                except UserError as error:  # the channel is gone: its transcript stays
                    log.info("transcript of incident %s not backfilled: %s", incident.id, error)
        if self._gap_since == gap:
            self._gap_since = None  # read through: the next backfill starts from the newest
        return Backfilled(len(incidents), read)

    async def backfill(self, incident: Incident) -> int:
        async with self._backfilling:
            return await self._backfill(incident)

    async def _backfill(self, incident: Incident, below: int | None = None) -> int:
        assert incident.channel_id is not None
        places = [Where(incident.channel_id, None)]
        places += [
            Where(incident.channel_id, str(t.id))
            for t in threads_of(self._out, incident.channel_id)
        ]
        read = 0
        for place in places:
            async with self._sessions() as session:
                after = await queries.newest_id(session, place.channel_id, place.thread_id, below)
            source = place.thread_id or place.channel_id
            async for page in history_after(self._out, source, after, self._limit):
                rows = [captured(m, incident.id, place) for m in page]
                async with self._sessions.begin() as session:
                    await queries.store(session, rows)
                read += len(rows)
        if read:
            log.info("transcript of incident %s: %d message(s) backfilled", incident.id, read)
        return read

    # -- reading --------------------------------------------------------------------------
    async def lines(self, incident_id: int) -> list[str]:
        """The whole transcript as plain text lines (for ``/postmortem transcript``)."""
        async with self._sessions() as session:
            rows = await queries.of_incident(session, incident_id)
        return [transcript_line(row) for row in rows]


def transcript_line(row: queries.TranscriptMessage) -> str:
    stamp = _utc(row.created_at)
    where_ = f" [thread {row.thread_id}]" if row.thread_id else ""
    notes = []
    if row.edited_at is not None:
        notes.append(f"edited {_utc(row.edited_at)}")
    if row.deleted_at is not None:
        notes.append(f"deleted {_utc(row.deleted_at)}")
    if row.attachments:
        notes.append("attachments: " + ", ".join(str(a) for a in row.attachments))
    suffix = f" ({'; '.join(notes)})" if notes else ""
    body = row.content.replace("\n", "\n    ")
    return f"{stamp} {row.author_name}{where_}: {body}{suffix}"


def _utc(at: datetime) -> str:
    return at.strftime("%Y-%m-%d %H:%M:%S UTC")
