"""The timeline responders build: a reaction marks a message as a milestone (removing it
unmarks), "Add to timeline" on a message, ``/timeline add``; ``/timeline show`` reads it.

A marked message's entry keeps the message's own time and author, not the reaction's.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.adapters.discord_files import fetch_message
from bot.adapters.discord_out import DiscordOut
from bot.core.clock import Clock
from bot.core.locks import IncidentLocks
from bot.core.text import from_outside
from bot.errors import UserError
from bot.postmortem import timeline_rules as rules
from bot.postmortem.config import MILESTONES, PostmortemConfig
from bot.postmortem.transcript import TranscriptService
from bot.triage.lifecycle import record
from storage import postmortem as queries
from storage import transcript as transcript_queries
from storage.models import TimelineEvent

log = logging.getLogger(__name__)
VARIATION = "\ufe0f"  # ⏱ and ⏱️ are the same reaction to a person
ENTRY_TEXT_LIMIT = 300


def normalise(emoji: str) -> str:
    return emoji.replace(VARIATION, "")


@dataclass(frozen=True)
class Source:
    """The message an entry is about: its time, author and text."""

    message_id: str
    channel_id: str
    author_id: str
    at: datetime
    text: str


def as_event(row: TimelineEvent) -> rules.Event:
    return rules.Event(
        row.at, row.kind, row.text, row.actor_id, dict(row.data or {}), row.message_id, row.id
    )


class TimelineService:
    def __init__(
        self,
        config: PostmortemConfig,
        sessions: async_sessionmaker[AsyncSession],
        out: DiscordOut,
        transcript: TranscriptService,
        clock: Clock,
        locks: IncidentLocks,
        zone: ZoneInfo,
    ) -> None:
        self._config, self._sessions, self._out = config, sessions, out
        self._transcript, self._clock, self._locks, self._zone = transcript, clock, locks, zone
        self._reactions = {normalise(e): m for e, m in config.reactions.items()}

    def milestone_for(self, emoji: str) -> str | None:
        return self._reactions.get(normalise(emoji))

    async def _source(self, channel_id: str, message_id: str) -> Source | None:
        """The message from the transcript (no Discord call), else from Discord."""
        async with self._sessions() as session:
            row = await transcript_queries.get(session, int(message_id))
        if row is not None:
            return Source(message_id, channel_id, row.author_id, row.created_at, row.content)
        message = await fetch_message(self._out, channel_id, message_id)
        if message is None:
            return None
        return Source(
            message_id, channel_id, str(message.author.id), message.created_at, message.content
        )

    # -- reactions --------------------------------------------------------------------------
    async def on_reaction(
        self,
        channel: object,
        channel_id: int,
        message_id: int,
        emoji: str,
        user_id: str,
        added: bool,
    ) -> bool:
        """A milestone reaction added or removed in an incident channel; True if it counted."""
        milestone = self.milestone_for(emoji)
        if milestone is None or user_id == self._out.bot_user_id:
            return False
        found = await self._transcript.place_of(channel, channel_id)
        if found is None:
            return False
        incident_id, _ = found
        kind = rules.MARK + milestone
        if not added:
            return await self._unmark(incident_id, str(message_id), kind, user_id)
        source = await self._source(str(channel_id), str(message_id))
        if source is None:
            return False
        await self._mark(incident_id, source, kind, user_id, via="reaction")
        return True

    async def _mark(
        self, incident_id: int, source: Source, kind: str, user_id: str, via: str
    ) -> TimelineEvent:
        async with self._locks.hold(incident_id), self._sessions.begin() as session:
            existing = await queries.marked(session, incident_id, source.message_id, kind)
            if existing is not None:
                data = dict(existing.data or {})
                reactors = list(data.get("reactors", []))
                if via == "reaction" and user_id not in reactors:
                    reactors.append(user_id)
                data["reactors"] = reactors
                if via != "reaction":
                    data["kept"] = True  # added by hand: a reaction removed keeps it
                existing.data = data
                return existing
            incident = await queries.hold_incident(session, incident_id)
            assert incident is not None
            return record(
                session,
                incident,
                kind,
                source.text[:2000],
                source.author_id,
                {
                    "reactors": [user_id] if via == "reaction" else [],
                    "kept": via != "reaction",
                    "marked_by": user_id,
                    "via": via,
                    "channel_id": source.channel_id,
                },
                message_id=source.message_id,
                at=source.at,
            )

    async def _unmark(self, incident_id: int, message_id: str, kind: str, user_id: str) -> bool:
        async with self._locks.hold(incident_id), self._sessions.begin() as session:
            existing = await queries.marked(session, incident_id, message_id, kind)
            if existing is None:
                return False
            data = dict(existing.data or {})
            reactors = [r for r in data.get("reactors", []) if r != user_id]
            if reactors or data.get("kept"):
                data["reactors"] = reactors
                existing.data = data
                return False
            await queries.remove_event(session, existing.id)
            return True

    # -- by hand ---------------------------------------------------------------------------
    async def add_message(
        self, channel: object, channel_id: int, message_id: int, user_id: str
    ) -> rules.Line:
        """ "Add to timeline" on a message: a note at the message's time, by its author."""
        incident_id = await self._incident(channel, channel_id)
        source = await self._source(str(channel_id), str(message_id))
        if source is None:
            raise UserError("That message is gone; nothing was added.")
        row = await self._mark(
            incident_id, source, rules.MARK + "note", user_id, via="message command"
        )
        return self._line(row)

    async def add(
        self, channel: object, channel_id: int, user_id: str, kind: str, text: str
    ) -> rules.Line:
        """``/timeline add kind: text:``: an entry now, by whoever added it."""
        if kind not in MILESTONES:
            raise UserError(f"`{kind}` is not a milestone; choose one of {', '.join(MILESTONES)}.")
        cleaned = text.strip()
        if not cleaned:
            raise UserError("Say what happened: `text:` is empty.")
        if len(cleaned) > ENTRY_TEXT_LIMIT * 5:
            raise UserError(f"Keep an entry under {ENTRY_TEXT_LIMIT * 5} characters.")
        incident_id = await self._incident(channel, channel_id)
        async with self._locks.hold(incident_id), self._sessions.begin() as session:
            incident = await queries.hold_incident(session, incident_id)
            assert incident is not None
            row = record(
                session,
                incident,
                rules.MARK + kind,
                cleaned,
                user_id,
                {"via": "command", "kept": True, "marked_by": user_id},
                at=self._clock.now(),
            )
        return self._line(row)

    async def _incident(self, channel: object, channel_id: int) -> int:
        found = await self._transcript.place_of(channel, channel_id)
        if found is None:
            raise UserError("The timeline belongs to an incident: run this in its channel.")
        return found[0]

    def name_of(self, user_id: str) -> str:
        member = self._out.member(user_id)
        return member.display_name if member is not None else f"user {user_id}"

    def _line(self, row: TimelineEvent) -> rules.Line:
        return rules.lines([as_event(row)], [])[0]

    # -- reading -----------------------------------------------------------------------------
    async def lines(self, incident_id: int) -> list[rules.Line]:
        async with self._sessions() as session:
            events = [as_event(e) for e in await queries.timeline(session, incident_id)]
            starts = await queries.alert_starts(session, incident_id)
        return rules.lines(events, starts)

    async def show(self, channel: object, channel_id: int) -> str:
        incident_id = await self._incident(channel, channel_id)
        found = await self.lines(incident_id)
        if not found:
            return "The timeline is empty so far."
        stamps = rules.stamps([line.at for line in found], self._zone)
        rows = [
            f"- {stamp}, {line.label}: {inline(line.text, self.name_of)}"
            + (f" (tx `{line.tx_hash}`)" if line.tx_hash else "")
            for stamp, line in zip(stamps, found, strict=True)
        ]
        text = "\n".join(rows)
        if len(text) > 1900:
            kept: list[str] = []
            for row in reversed(rows):
                if sum(len(r) + 1 for r in kept) + len(row) > 1850:
                    break
                kept.insert(0, row)
            text = (
                f"… {len(rows) - len(kept)} earlier entries (see `/postmortem draft`)\n"
                + "\n".join(kept)
            )
        return text


def inline(text: str, name_of: Callable[[str], str] | None = None) -> str:
    """An entry's text on one line, inert (no ping, no heading), at most 300 characters;
    with ``name_of``, a mention becomes the person's name."""
    if name_of is not None:
        text = rules.named(text, name_of)
    one_line = " ".join(text.split())
    return from_outside(one_line, ENTRY_TEXT_LIMIT) or "(no text)"
