"""The worker's last steps: notes into incident channels, storm entries into the digest.

Notes of open groups are recorded in the timeline (once), then posted as one message
in the incident channel (the commander mentioned when an alert resolves or fires
again), then cleared; a group whose posts fail backs off alone and is given up after
``rules.NOTE_TRIES``. Machines never close incidents. Storm entries are posted to the
ops-alerts channel every ``alerts.digest_every``.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.adapters.discord_out import DiscordOut
from bot.adapters.notices import ChannelNotices
from bot.alerts import rules
from bot.alerts.steps import Schedule
from bot.alerts.writer import Writer
from bot.core.clock import Clock
from bot.core.outbox import EffectState, marker
from bot.core.render import Renderer
from bot.errors import ExternalServiceError, UserError
from bot.settings import Config
from bot.triage.lifecycle import OPEN_STATES, record
from bot.triage.oncall import OnCallService
from storage import alerts as queries
from storage import outbox as outbox_queries
from storage.models import AlertGroup, Incident

log = logging.getLogger(__name__)

NOTES_BATCH = 20
DIGEST_BATCH = 100


class NotesPoster:
    def __init__(
        self,
        config: Config,
        sessions: async_sessionmaker[AsyncSession],
        discord: DiscordOut,
        renderer: Renderer,
        writer: Writer,
        clock: Clock,
        schedule: Schedule,
    ) -> None:
        self._config = config.alerts
        self._sessions = sessions
        self._discord = discord
        self._render = renderer
        self._write_lock = writer.lock
        self._clock = clock
        self._schedule = schedule
        self.retry_at: dict[int, datetime] = {}  # group id → when its notes are tried again
        self._failures: dict[int, int] = {}  # group id → failed posts in a row
        self._posted_at: dict[int, datetime] = {}  # group id → when its notes were last posted
        self.next_due: datetime | None = None

    async def post(self) -> bool:
        """Post the notes of open groups; a group Discord keeps refusing backs off alone.

        After ``NOTE_TRIES`` failed posts a group's notes are given up (they are in the
        timeline already), logged and kept in ``last_error``: one bad channel never holds
        the other groups' notes back, nor is it retried for ever.
        """
        now = self._clock.now()
        backing_off = [i for i, at in self.retry_at.items() if at > now]
        async with self._sessions() as session:
            rows = await queries.groups_with_notes(session, backing_off, NOTES_BATCH)
        if backing_off:
            self._schedule.waiting = True
        if not rows:
            return False
        due, later = [], []
        for group, incident in rows:
            at = rules.notes_due(self._posted_at.get(group.id), now, self._config.notes_every)
            if at is None:
                due.append((group, incident))
            else:
                later.append(at)
        if later:
            self._schedule.waiting = True  # paced: one message per incident channel per interval
            self.next_due = min(later)
        if not due:
            return False
        for group, incident in due:
            self._posted_at[group.id] = self._clock.now()
            try:
                await self._post_group(group, incident)
            except ExternalServiceError as error:
                await self._failed(group, incident, error)
            else:
                self.retry_at.pop(group.id, None)
                self._failures.pop(group.id, None)
        return True

    async def _failed(
        self, group: AlertGroup, incident: Incident, error: ExternalServiceError
    ) -> None:
        tries = self._failures.get(group.id, 0) + 1
        if not rules.notes_given_up(tries):
            delay = rules.NOTES_BACKOFF.delay(tries)
            log.warning(
                "could not post alert notes of incident %s (try %d of %d, next in %.1f s): %s",
                incident.id,
                tries,
                rules.NOTE_TRIES,
                delay.total_seconds(),
                error,
            )
            self._failures[group.id] = tries
            self.retry_at[group.id] = self._clock.now() + delay
            self._schedule.waiting = True
            return
        self._failures.pop(group.id, None)
        self.retry_at.pop(group.id, None)
        given_up = len(group.notes)
        log.error(
            "gave up posting %d alert note(s) of incident %s after %d tries: %s",
            given_up,
            incident.id,
            tries,
            error,
        )
        async with self._write_lock, self._sessions.begin() as session:
            row = await queries.group(session, group.id)
            row.notes = list(row.notes)[given_up:]
            row.last_error = (
                f"{given_up} note(s) not posted after {tries} tries "
                f"(in the timeline): {type(error).__name__}: {error}"
            )[:2000]

    async def _post_group(self, group: AlertGroup, incident: Incident) -> None:
        notes = list(group.notes)
        if any(not n.get("recorded") for n in notes):
            async with self._write_lock, self._sessions.begin() as session:
                row = await queries.group(session, group.id)
                current = await session.get(Incident, incident.id)
                assert current is not None  # a group's incident row stays (no incident is deleted)
                marked = []
                for note in row.notes:
                    if not note.get("recorded"):
                        record(
                            session,
                            current,
                            f"alert_{note['kind']}",
                            rules.timeline_text(note),
                            None,
                            rules.timeline_data(note, group.id),
                        )
                        note = {**note, "recorded": True}
                    marked.append(note)
                row.notes = marked
                notes = marked
        async with self._sessions() as session:
            firing = await queries.firing_count(session, group.id)
        commander = incident.commander_id
        mention = rules.mentions_commander(notes, commander)
        parts = []
        for note in notes:
            template = "alert_opened.md.j2" if note["kind"] == "opened" else "alert_update.md.j2"
            parts.append(
                self._render.render(
                    template,
                    note=note,
                    group=group,
                    incident=incident,
                    commander_id=commander if mention else None,
                    all_resolved=not firing,
                    live=incident.status in {s.value for s in OPEN_STATES},
                )
            )
        content = rules.clip_message("\n\n".join(parts))
        if incident.channel_id:
            try:
                await self._discord.send(
                    incident.channel_id,
                    content=content,
                    mention_users=(commander,) if mention and commander else (),
                )
            except UserError as error:  # the channel is gone: the timeline has it all
                log.warning("alert notes of incident %s not posted: %s", incident.id, error)
        async with self._write_lock, self._sessions.begin() as session:
            row = await queries.group(session, group.id)
            row.notes = list(row.notes)[len(notes) :]


class DigestPoster:
    """Storm entries listed in #ops-alerts, each chunk posted exactly once.

    A chunk is a notice (bot/adapters/notices.py) keyed by its first entry
    (``alert-digest:<group id>``, the entries in its data): the row is committed before
    the post, and a run that stops between Discord's taking it and the entries' record
    finds the notice on its next look and finishes it (looking for the message by its
    footer first) instead of listing, and pinging, again. The entries'
    ``digest_message_id`` stays empty until the message is posted.
    """

    def __init__(
        self,
        config: Config,
        sessions: async_sessionmaker[AsyncSession],
        discord: DiscordOut,
        oncall: OnCallService,
        renderer: Renderer,
        writer: Writer,
        clock: Clock,
        schedule: Schedule,
        notices: ChannelNotices,
    ) -> None:
        self._config = config.alerts
        self._ops_channel = config.discord.ops_alerts_channel
        self._sessions = sessions
        self._discord = discord
        self._oncall = oncall
        self._render = renderer
        self._write_lock = writer.lock
        self._clock = clock
        self._schedule = schedule
        self._notices = notices
        self.next_digest: datetime | None = None
        self._last_digest_at: datetime | None = None
        self._last_loaded = False

    async def post(self) -> bool:
        async with self._sessions() as session:
            groups = await queries.unposted_digest(session, DIGEST_BATCH)
        if not groups:
            return False
        now = self._clock.now()
        if self.next_digest is not None and now < self.next_digest:
            self._schedule.waiting = True
            return False
        self.next_digest = now + self._config.digest_every
        channel = self._discord.text_channel(self._ops_channel)
        if channel is None:
            log.error(
                "no #%s channel for the alert digest; %d entries wait",
                self._ops_channel,
                len(groups),
            )
            self._schedule.waiting = True
            return False
        # First the chunks an earlier try (or run) committed and did not finish.
        async with self._sessions() as session:
            started = await outbox_queries.by_keys(session, [digest_key(g.id) for g in groups])
        for entry in started:
            if not await self._deliver(entry.id, entry.payload["data"]["groups"]):
                return True
        taken = {g for entry in started for g in entry.payload["data"]["groups"]}
        groups = [g for g in groups if g.id not in taken]
        if not groups:
            return True
        primary = (await self._oncall.at()).primary_id if await self._quiet(now) else None
        async with self._sessions() as session:
            counts = await queries.alert_counts(session, [g.id for g in groups])

        def render(entries: list[AlertGroup], header: bool) -> str:
            return self._render.render(
                "alert_digest.md.j2",
                groups=entries,
                counts=counts,
                header=header,
                primary_id=primary if header else None,
                storm_limit=self._config.storm_limit,
            )

        for number, (chunk, content) in enumerate(rules.pack_digest(groups, render)):
            ids = [g.id for g in chunk]
            async with self._write_lock, self._sessions.begin() as session:
                entry = await self._notices.add(
                    session,
                    digest_key(ids[0]),
                    str(channel.id),
                    content,
                    title="Alert digest",
                    label="alert digest",
                    mention_users=(primary,) if number == 0 and primary else (),
                    data={"groups": ids},
                )
                entry_id = entry.id
            self._last_digest_at = now
            if not await self._deliver(entry_id, ids):
                return True
        return True

    async def _quiet(self, now: datetime) -> bool:
        """No digest for ``STORM_QUIET``: this one mentions the on-call primary. The last
        digest's time survives a restart (its notice), so a storm pings once."""
        if not self._last_loaded:
            async with self._sessions() as session:
                last = await outbox_queries.last_created(session, DIGEST_KEY)
            if last is not None and (self._last_digest_at is None or last > self._last_digest_at):
                self._last_digest_at = last
            self._last_loaded = True
        return self._last_digest_at is None or now - self._last_digest_at > rules.STORM_QUIET

    async def _deliver(self, entry_id: int, group_ids: list[int]) -> bool:
        """Post a chunk's notice (once) and record its entries listed; False while it is not."""
        try:
            entry = await self._notices.deliver(entry_id)
        except ExternalServiceError as error:
            log.warning("could not post the alert digest: %s", error)
            self._schedule.waiting = True
            return False
        if entry.state != EffectState.DONE:  # another poster holds it: it records it
            self._schedule.waiting = True
            return False
        message_id = str((entry.result or {}).get("message_id") or marker(entry.id))
        async with self._write_lock, self._sessions.begin() as session:
            await queries.set_digest_message(session, group_ids, message_id[:32])
        return True


DIGEST_KEY = "alert-digest:"


def digest_key(first_group_id: int) -> str:
    """The notice of the digest chunk that begins with this entry (a group is in one chunk)."""
    return f"{DIGEST_KEY}{first_group_id}"
