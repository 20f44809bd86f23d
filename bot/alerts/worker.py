"""The alert worker: stored notifications become alert groups, incidents, notes and a digest.

One task applies, posts notes and digests, in rounds, so none of that races with itself:

1. **Apply** pending notifications in order, a batch per transaction: each group
   (source, group key) and alert (fingerprint) row is created or updated, and
   the notification is marked done in the same transaction. A new group is
   decided there and then: an incident (``opening``) or, past
   ``alerts.storm_limit`` incidents in the last minute, a ``digest`` entry.
   A repeat only counts ``fire_count`` up; a new, resolved or re-firing alert of
   a group adds a *note* to it. A new or re-firing alert in a group with no live
   incident opens one, storm allowing: a digested group once the storm is over,
   and a group whose incident people resolved or closed a *new* incident
   (``alert:{source}:{key}:{n}``) that links the previous one, never reopened.
2. **Open** ``opening`` groups, each in a task of its own (at most
   ``OPEN_CONCURRENCY``), started at most one per ``alerts.open_every``, through
   ``IncidentService.declare`` with the group's numbered request key, so a retry
   or a restart never opens a second channel and a slow Discord holds no one back.
3. **Post notes** of open groups: recorded in the timeline (once), then one
   message in the incident channel (the commander mentioned when an alert
   resolves or fires again), then cleared; a group whose posts fail backs off
   alone and is given up after ``NOTE_TRIES``. Machines never close incidents.
4. **Digest** storm entries into the ops-alerts channel every ``alerts.digest_every``.

Every step starts from rows, so a restart finishes what the last run left.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import sqlite3
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select, text, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.adapters.discord_out import DiscordOut
from bot.alerts import severity as severities
from bot.alerts.formats import AlertEvent, BadPayload, Notification, clip, parse
from bot.alerts.metrics import AlertMetrics
from bot.alerts.writer import Writer
from bot.core.render import Renderer
from bot.core.text import from_outside, in_code, safe_url
from bot.errors import ExternalServiceError, UserError
from bot.settings import Config
from bot.triage.lifecycle import OPEN_STATES, Status, record
from bot.triage.oncall import OnCallService
from bot.triage.service import IncidentService
from storage.alerts import db_time
from storage.models import Alert, AlertGroup, AlertNotification, Incident
from storage.types import utcnow

log = logging.getLogger(__name__)

APPLY_BATCH = 200
LINGER = 0.005  # seconds between a commit's wake-up and the apply round
FLOW_LINGER = 0.05  # between rounds while notifications keep coming
CHECKPOINT_EVERY = 1.0  # seconds between WAL checkpoints while alerts are written
STEPS = ("open", "notes", "digest")
NOTES_BATCH = 20
DIGEST_BATCH = 100
DIGEST_CHUNK = 15
MAX_MESSAGE = 2000
NOTE_ALERTS = 10  # alerts shown by name in one note; the rest are counted
STORM_WINDOW = timedelta(minutes=1)
STORM_QUIET = timedelta(minutes=10)  # a digest after this much quiet pings the on-call again
IDLE_POLL = 30.0
MAX_REQUEST_KEY = 200
OPEN_CONCURRENCY = 4  # incidents being opened at once (each paced by alerts.open_every)
NOTES_BACKOFF = 2.0  # seconds before a group's notes are tried again, doubled each time
NOTE_TRIES = 5  # failed posts of a group's notes before they are given up (the timeline has them)
MENTIONING = frozenset({"resolved", "refiring"})
LIVE = frozenset({Status.OPENING.value, *(s.value for s in OPEN_STATES)})


_INSERT_GROUP = (
    "INSERT INTO alert_groups (source, group_key, state, title, summary, severity,"
    " severity_note, notes, open_attempts, first_seen, last_seen)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?)"
)
_INSERT_ALERT = (
    "INSERT INTO alerts (group_id, fingerprint, name, status, labels, annotations, url,"
    " starts_at, ends_at, fire_count, first_seen, last_seen)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


def request_key(source: str, group_key: str, n: int = 0) -> str:
    """The request key of a group's ``n``-th incident (counted from 0): a retry or restart
    finds the same incident, and a group that recurs after its incident was resolved
    opens a new one (``alert:{source}:{key}:{n}``)."""
    suffix = f":{n}" if n else ""
    key = f"alert:{source}:{group_key}{suffix}"
    if len(key) <= MAX_REQUEST_KEY:
        return key
    digest = hashlib.sha256(group_key.encode("utf-8", "surrogatepass")).hexdigest()
    return f"alert:{source}:sha256:{digest}{suffix}"


def next_incident_number(source: str, group_key: str, previous_key: str | None) -> int:
    """How many incidents a group has had, read from its last incident's request key."""
    if previous_key is None:
        return 0
    base = request_key(source, group_key)
    if previous_key == base:
        return 1
    rest = previous_key.removeprefix(base + ":")
    return int(rest) + 1 if rest != previous_key and rest.isdigit() else 1


GroupKey = tuple[str, str]  # (source, group key)


@dataclass
class _Batch:
    """One apply round: read first, changed in memory, then written in a few bulk statements."""

    session: AsyncSession
    now: datetime
    opened_in_window: int | None = None  # read once, when the batch meets a new group
    groups: dict[GroupKey, AlertGroup] = field(default_factory=dict)
    alerts: dict[tuple[GroupKey, str], Alert] = field(default_factory=dict)
    new_groups: list[AlertGroup] = field(default_factory=list)
    new_alerts: list[tuple[AlertGroup, Alert]] = field(default_factory=list)
    counts: dict[int, int] = field(default_factory=dict)  # alert id → fire_count to add
    seen_groups: set[int] = field(default_factory=set)  # group ids whose last_seen moves
    seen_alerts: set[int] = field(default_factory=set)
    changed_alerts: dict[int, Alert] = field(default_factory=dict)  # status changed
    noted_groups: dict[int, AlertGroup] = field(default_factory=dict)  # notes changed
    moved_groups: dict[int, AlertGroup] = field(default_factory=dict)  # state changed
    incidents: dict[int, Incident] = field(default_factory=dict)  # of the open groups
    digested: list[str] = field(default_factory=list)


class AlertWorker:
    def __init__(
        self,
        config: Config,
        sessions: async_sessionmaker[AsyncSession],
        incidents: IncidentService,
        discord: DiscordOut,
        oncall: OnCallService,
        renderer: Renderer,
        metrics: AlertMetrics,
        writer: Writer,
    ) -> None:
        self._config = config.alerts
        # The hot writes go through the writer's thread in one hop each; the other
        # writes here take its lock, so neither waits at SQLite's lock.
        self._writer = writer
        self._write_lock = writer.lock
        self._procedure = config.procedure
        self._ops_channel = config.discord.ops_alerts_channel
        self._sessions = sessions
        self._incidents = incidents
        self._discord = discord
        self._oncall = oncall
        self._render = renderer
        self._metrics = metrics
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._next_open = 0.0
        self._opening: dict[int, asyncio.Task[None]] = {}  # group id → its open under way
        self._next_digest = 0.0
        self._notes_retry: dict[int, float] = {}  # group id → when its notes are tried again
        self._notes_failures: dict[int, int] = {}  # group id → failed posts in a row
        self._next_notes = 0.0
        self._waiting = False  # work is due later (pacing, backoff): poll sooner than idle
        # Steps with possible work: set by the apply step and by every timed sweep, so a
        # busy webhook costs one apply per round and no empty look at the other tables.
        self._due = set(STEPS)
        self._last_digest_at: datetime | None = None
        self._applied = 0  # notifications applied in this round
        self._noted_at: dict[int, float] = {}  # group id → when its notes were last posted
        self._commits_since_checkpoint = 0
        self._next_checkpoint = 0.0

    # -- running -------------------------------------------------------------------------
    def wake(self) -> None:
        self._wake.set()

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def start(self) -> None:
        if not self.running:
            self._task = asyncio.create_task(self._run(), name="alert-worker")

    async def stop(self) -> None:
        tasks = [*self._opening.values(), *([self._task] if self._task is not None else [])]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._task = None
        self._opening.clear()

    async def _run(self) -> None:
        while True:
            self._wake.clear()
            self._applied = 0
            try:
                busy = await self.step()
                await self._checkpoint()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("the alert worker failed a round; trying again in 1 s")
                busy, self._waiting = False, True
            if busy:
                # A full batch: a backlog, go on. A partial one: a steady flow, so wait a
                # little and take the next round's notifications in one transaction.
                await asyncio.sleep(0 if self._applied >= APPLY_BATCH else FLOW_LINGER)
                continue
            delay = self._delay()
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=delay)
            except TimeoutError:
                self._due = set(STEPS)  # a timed sweep: pacing, backoff and retries come due
            else:
                await asyncio.sleep(LINGER)  # the rest of a burst joins this round

    async def _checkpoint(self) -> None:
        """Move the WAL into the database now and then, outside the write lock.

        The alert connections never checkpoint on commit (a 202 must not wait for a
        checkpoint's fsync); PASSIVE neither waits for nor blocks the other writers.
        """
        now = time.monotonic()
        if self._commits_since_checkpoint == 0 or now < self._next_checkpoint:
            return
        self._next_checkpoint = now + CHECKPOINT_EVERY
        self._commits_since_checkpoint = 0
        async with self._sessions() as session:
            await session.execute(text("PRAGMA wal_checkpoint(PASSIVE)"))

    def _delay(self) -> float:
        if not self._waiting:
            return IDLE_POLL
        now = time.monotonic()
        due = [
            t - now
            for t in (
                self._next_open,
                self._next_digest,
                self._next_notes,
                *self._notes_retry.values(),
            )
        ]
        upcoming = [d for d in due if d > 0]
        return max(0.01, min([1.0, *upcoming]))

    async def step(self) -> bool:
        """One round; True when something was done (the loop goes again at once)."""
        self._waiting = False
        busy = await self.apply_pending()
        for name, run in (
            ("open", self._open_next),
            ("notes", self._post_notes),
            ("digest", self._post_digest),
        ):
            if name in self._due:
                done = await run()
                busy |= done
                if not done and not self._waiting:
                    self._due.discard(name)
        return busy

    # -- 1. apply ------------------------------------------------------------------------
    async def apply_pending(self, limit: int = APPLY_BATCH) -> bool:
        now = utcnow()
        async with self._sessions() as session:
            rows = (
                await session.execute(
                    select(AlertNotification.id, AlertNotification.source, AlertNotification.body)
                    .where(AlertNotification.state == "pending")
                    .order_by(AlertNotification.id)
                    .limit(limit)
                )
            ).all()
            if not rows:
                return False
            parsed: list[Notification] = []
            done: list[int] = []
            failed: list[tuple[int, str]] = []
            for row in rows:
                try:
                    parsed.append(parse(row.source, row.body, self._config.severity_label))
                    done.append(row.id)
                except BadPayload as error:  # refused at the door, so only a changed parser
                    log.error("stored alert notification %s is unreadable: %s", row.id, error)
                    failed.append((row.id, error.message[:2000]))
            batch = await self._load(session, now, parsed)
            with session.no_autoflush:  # the session only reads; the writer writes
                for notification in parsed:
                    await self._apply(batch, notification)
            await self._write(batch, done, failed)
        self._applied += len(rows)
        self._commits_since_checkpoint += 1
        for source in batch.digested:
            self._metrics.digest_entries.labels(source).inc()
        return True

    async def _write(self, batch: _Batch, done: list[int], failed: list[tuple[int, str]]) -> None:
        """The round's changes as one transaction, in one hop to the writer's thread."""
        now = db_time(batch.now)
        index = {id(group): number for number, group in enumerate(batch.new_groups)}
        new_groups = [
            (
                g.source,
                g.group_key,
                g.state,
                g.title,
                g.summary,
                g.severity,
                g.severity_note,
                json.dumps(g.notes),
                now,
                now,
            )
            for g in batch.new_groups
        ]
        new_alerts = [
            (
                index.get(id(group)),
                group.id,
                (
                    a.fingerprint,
                    a.name,
                    a.status,
                    json.dumps(a.labels),
                    json.dumps(a.annotations),
                    a.url,
                    db_time(a.starts_at),
                    db_time(a.ends_at),
                    a.fire_count,
                    now,
                    now,
                ),
            )
            for group, a in batch.new_alerts
        ]
        changed = [
            (a.status, db_time(a.starts_at), db_time(a.ends_at), i)
            for i, a in batch.changed_alerts.items()
        ]
        seen = [(batch.counts.get(i, 0), now, i) for i in batch.seen_alerts]
        noted = [(json.dumps(g.notes), i) for i, g in batch.noted_groups.items()]
        moved = [
            (
                g.state,
                json.dumps(g.notes),
                g.digest_message_id,
                g.severity,
                g.severity_note,
                g.open_attempts,
                db_time(g.next_attempt_at),
                g.last_error,
                i,
            )
            for i, g in batch.moved_groups.items()
        ]
        seen_groups = sorted(batch.seen_groups)

        def write(connection: sqlite3.Connection) -> list[int]:
            ids = [connection.execute(_INSERT_GROUP, row).lastrowid for row in new_groups]
            connection.executemany(
                _INSERT_ALERT,
                [(group_id if n is None else ids[n], *row) for n, group_id, row in new_alerts],
            )
            connection.executemany(
                "UPDATE alerts SET status = ?, starts_at = ?, ends_at = ? WHERE id = ?", changed
            )
            connection.executemany(
                "UPDATE alerts SET fire_count = fire_count + ?, last_seen = ? WHERE id = ?", seen
            )
            if seen_groups:
                marks = ",".join("?" * len(seen_groups))
                connection.execute(
                    f"UPDATE alert_groups SET last_seen = ? WHERE id IN ({marks})",
                    [now, *seen_groups],
                )
            connection.executemany("UPDATE alert_groups SET notes = ? WHERE id = ?", noted)
            connection.executemany(
                "UPDATE alert_groups SET state = ?, notes = ?, digest_message_id = ?,"
                " severity = ?, severity_note = ?, open_attempts = ?, next_attempt_at = ?,"
                " last_error = ? WHERE id = ?",
                moved,
            )
            connection.executemany(
                "UPDATE alert_notifications SET state = 'failed', processed_at = ?, error = ? "
                "WHERE id = ?",
                [(now, message, row_id) for row_id, message in failed],
            )
            if done:
                marks = ",".join("?" * len(done))
                connection.execute(
                    "UPDATE alert_notifications SET state = 'done', processed_at = ? "
                    f"WHERE id IN ({marks})",
                    [now, *done],
                )
            return ids

        ids = await self._writer.run(write)
        for group, group_id in zip(batch.new_groups, ids, strict=True):
            group.id = group_id

    async def _load(
        self, session: AsyncSession, now: datetime, notifications: Sequence[Notification]
    ) -> _Batch:
        batch = _Batch(session, now)
        keys = {(n.source, n.group_key) for n in notifications}
        if not keys:
            return batch
        found = await session.scalars(
            select(AlertGroup).where(AlertGroup.group_key.in_({k for _, k in keys}))
        )
        by_id: dict[int, GroupKey] = {}
        for group in found:
            key = (group.source, group.group_key)
            if key in keys:
                batch.groups[key] = group
                by_id[group.id] = key
        wanted = {
            (batch.groups[(n.source, n.group_key)].id, a.fingerprint)
            for n in notifications
            if (n.source, n.group_key) in batch.groups
            for a in n.alerts
        }
        if wanted:
            found_alerts = await session.scalars(
                select(Alert).where(tuple_(Alert.group_id, Alert.fingerprint).in_(wanted))
            )
            for alert in found_alerts:
                batch.alerts[(by_id[alert.group_id], alert.fingerprint)] = alert
        bound = {g.incident_id for g in batch.groups.values() if g.incident_id is not None}
        if bound:
            found_incidents = await session.scalars(select(Incident).where(Incident.id.in_(bound)))
            batch.incidents = {i.id: i for i in found_incidents}
        return batch

    async def _apply(self, batch: _Batch, notification: Notification) -> None:
        key = (notification.source, notification.group_key)
        group = batch.groups.get(key)
        if notification.action == "acknowledge":
            if group is not None and group.state != "digest":
                self._add_notes(batch, group, [_note("acknowledged", batch.now, [], notification)])
            return
        created = False
        if group is None:
            if not any(a.status == "firing" for a in notification.alerts):
                return  # the resolution of a group this bot never saw firing: nothing to open
            group = await self._new_group(batch, notification)
            created = True
        elif group.id is not None:
            batch.seen_groups.add(group.id)
        changes: dict[str, list[AlertEvent]] = {"new": [], "resolved": [], "refiring": []}
        for event in notification.alerts:
            alert = batch.alerts.get((key, event.fingerprint))
            if alert is None:
                alert = Alert(
                    fingerprint=event.fingerprint,
                    name=event.name,
                    status=event.status,
                    labels=event.labels,
                    annotations=event.annotations,
                    url=event.url,
                    starts_at=event.starts_at,
                    ends_at=event.ends_at,
                    fire_count=1 if event.status == "firing" else 0,
                    first_seen=batch.now,
                    last_seen=batch.now,
                )
                batch.new_alerts.append((group, alert))
                batch.alerts[(key, event.fingerprint)] = alert
                if not created:
                    changes["new" if event.status == "firing" else "resolved"].append(event)
                continue
            if alert.status != event.status:
                alert.status = event.status
                if alert.id is not None:
                    batch.changed_alerts[alert.id] = alert
                if event.status == "resolved":
                    alert.ends_at = event.ends_at or batch.now
                    changes["resolved"].append(event)
                else:
                    alert.starts_at = event.starts_at or alert.starts_at
                    alert.ends_at = None
                    changes["refiring"].append(event)
            if event.status == "firing":  # the same alert again: only the count grows
                if alert.id is None:
                    alert.fire_count += 1
                else:
                    batch.counts[alert.id] = batch.counts.get(alert.id, 0) + 1
            if alert.id is not None:
                batch.seen_alerts.add(alert.id)
        firing = [*changes["new"], *changes["refiring"]]
        if firing and not created and await self._reopen(batch, group, notification, firing):
            return
        if group.state == "digest":
            return
        notes = [
            _note(kind, batch.now, events, notification, self._mapped(events))
            for kind, events in changes.items()
            if events
        ]
        if notes:
            self._add_notes(batch, group, notes)

    async def _reopen(
        self,
        batch: _Batch,
        group: AlertGroup,
        notification: Notification,
        firing: list[AlertEvent],
    ) -> bool:
        """A new firing alert in a group with no live incident: open one (True), storm allowing.

        A group listed in a digest opens once the storm is over: the storm limit batches
        bursts, it does not mute a group for good. A group whose incident people resolved
        or closed opens a *new* incident (``request_key`` numbered), which says it recurred;
        the old one is never reopened by a machine.
        """
        previous = batch.incidents.get(group.incident_id) if group.incident_id else None
        if group.state == "open":
            if previous is None or previous.status in LIVE:
                return False  # bound to a live incident: a note there, as ever
        elif group.state != "digest" or group.id is None:
            return False  # opening already, or digested in this very batch
        if await self._storm(batch):
            if group.state == "digest":
                return False  # still listed in the digest; it opens after the storm
            # The recurrence of a resolved group, in a storm: a digest entry again.
            group.state, group.digest_message_id, group.notes = "digest", None, []
            batch.moved_groups[group.id] = group
            batch.noted_groups.pop(group.id, None)
            batch.digested.append(notification.source)
            self._due.add("digest")
            return True
        batch.opened_in_window = (batch.opened_in_window or 0) + 1
        chosen = severities.choose((a.severity for a in firing), self._config, self._procedure)
        opened = _note("opened", batch.now, firing, notification, self._mapped(firing))
        opened["severity"], opened["severity_note"] = chosen.severity, chosen.note
        if previous is not None:
            opened["recurred"] = {
                "incident_id": previous.id,
                "channel_id": previous.channel_id,
                "status": previous.status,
                "resolved_at": previous.resolved_at.isoformat() if previous.resolved_at else None,
            }
        # Notes the old incident has not shown yet follow the new incident's opening note.
        unposted = [n for n in (group.notes or []) if not n.get("recorded")]
        group.state, group.notes = "opening", [opened, *unposted]
        group.severity, group.severity_note = chosen.severity, chosen.note
        group.open_attempts, group.next_attempt_at, group.last_error = 0, None, None
        batch.moved_groups[group.id] = group
        batch.noted_groups.pop(group.id, None)
        self._due.add("open")
        return True

    async def _storm(self, batch: _Batch) -> bool:
        """True when ``alerts.storm_limit`` incidents were opened in the last minute."""
        if batch.opened_in_window is None:
            since = batch.now - STORM_WINDOW
            new = await batch.session.scalar(
                select(func.count())
                .select_from(AlertGroup)
                .where(AlertGroup.state != "digest", AlertGroup.first_seen >= since)
            )
            # Groups seen before the window that open again in it (after a storm, or
            # recurring after a resolution) count by their new incident or pending open.
            again = await batch.session.scalar(
                select(func.count())
                .select_from(AlertGroup)
                .outerjoin(Incident, AlertGroup.incident_id == Incident.id)
                .where(
                    AlertGroup.first_seen < since,
                    or_(
                        AlertGroup.state == "opening",
                        (AlertGroup.state == "open") & (Incident.declared_at >= since),
                    ),
                )
            )
            batch.opened_in_window = int(new or 0) + int(again or 0)
        return batch.opened_in_window >= self._config.storm_limit

    async def _new_group(self, batch: _Batch, notification: Notification) -> AlertGroup:
        firing = [a for a in notification.alerts if a.status == "firing"]
        chosen = severities.choose((a.severity for a in firing), self._config, self._procedure)
        storm = await self._storm(batch)
        group = AlertGroup(
            source=notification.source,
            group_key=notification.group_key,
            state="digest" if storm else "opening",
            title=notification.title[:300],
            summary=notification.summary,
            severity=chosen.severity,
            severity_note=chosen.note,
            notes=[],
            open_attempts=0,
            first_seen=batch.now,
            last_seen=batch.now,
        )
        batch.new_groups.append(group)
        batch.groups[(notification.source, notification.group_key)] = group
        if storm:
            batch.digested.append(notification.source)
            self._due.add("digest")
        else:
            batch.opened_in_window = (batch.opened_in_window or 0) + 1
            self._due.add("open")
            opened = _note("opened", batch.now, firing, notification, self._mapped(firing))
            opened["severity"] = chosen.severity
            opened["severity_note"] = chosen.note
            group.notes = [opened]
        return group

    def _add_notes(self, batch: _Batch, group: AlertGroup, notes: list[dict[str, Any]]) -> None:
        group.notes = [*(group.notes or []), *notes]
        if group.id is not None:
            batch.noted_groups[group.id] = group
        self._due.add("notes")

    def _mapped(self, events: Sequence[AlertEvent]) -> list[str | None]:
        return [
            severities.map_value(e.severity, self._config, self._procedure)
            for e in events[:NOTE_ALERTS]
        ]

    # -- 2. open -------------------------------------------------------------------------
    async def _open_next(self) -> bool:
        """Start opening the next due group, at most one per ``alerts.open_every``.

        Each open runs in a task of its own (at most ``OPEN_CONCURRENCY`` at once), so a
        Discord retrying one channel's creation holds up neither the other groups nor the
        apply, notes and digest steps. A group being opened is never started twice, and its
        request key finds the same incident after a restart: never two channels per group.
        """
        if len(self._opening) >= OPEN_CONCURRENCY:
            return False  # a finishing open wakes the worker
        now = utcnow()
        busy = list(self._opening)
        async with self._sessions() as session:
            group = await session.scalar(
                select(AlertGroup)
                .where(
                    AlertGroup.state == "opening",
                    AlertGroup.id.not_in(busy),
                    or_(AlertGroup.next_attempt_at.is_(None), AlertGroup.next_attempt_at <= now),
                )
                .order_by(AlertGroup.id)
                .limit(1)
            )
            if group is None:
                waiting = await session.scalar(
                    select(func.min(AlertGroup.next_attempt_at)).where(
                        AlertGroup.state == "opening", AlertGroup.id.not_in(busy)
                    )
                )
                if waiting is not None:
                    self._waiting = True
                return False
            if time.monotonic() < self._next_open:
                self._waiting = True  # paced: Discord sees at most one new channel per interval
                return False
            started = await session.scalar(
                select(func.min(Alert.starts_at)).where(Alert.group_id == group.id)
            )
            previous = None
            if group.incident_id is not None:
                previous = await session.scalar(
                    select(Incident.request_key).where(Incident.id == group.incident_id)
                )
        self._next_open = time.monotonic() + self._config.open_every.total_seconds()
        number = next_incident_number(group.source, group.group_key, previous)
        task = asyncio.create_task(
            self._open(group, started, number), name=f"alert-open-{group.id}"
        )
        self._opening[group.id] = task
        return True

    async def _open(self, group: AlertGroup, started: datetime | None, number: int) -> None:
        try:
            await self._declare(group, started, number)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("opening the incident of alert group %s failed", group.id)
        finally:
            self._opening.pop(group.id, None)
            self._due.add("open")
            self.wake()

    async def _declare(self, group: AlertGroup, started: datetime | None, number: int) -> None:
        now = utcnow()
        down_since = started if started and now - timedelta(days=7) <= started <= now else None
        try:
            declared = await self._incidents.declare(
                None,
                group.title,
                group.severity or self._config.default_severity,
                group.summary,
                request_key=request_key(group.source, group.group_key, number),
                source="alert",
                down_since=down_since,
            )
        except UserError as error:
            # Discord refused for good (a full server or category, say): list it instead.
            log.warning("alert group %s gets a digest entry, not a channel: %s", group.id, error)
            async with self._write_lock, self._sessions.begin() as session:
                row = await session.get(AlertGroup, group.id)
                row.state, row.notes, row.last_error = "digest", [], str(error)[:2000]
                row.digest_message_id = None
            self._metrics.digest_entries.labels(group.source).inc()
            self._due.add("digest")
            return
        except Exception as error:
            attempts = group.open_attempts + 1
            delay = min(60.0, 2.0**attempts)
            log.warning(
                "could not open the incident of alert group %s (attempt %d, next in %.0f s): %s",
                group.id,
                attempts,
                delay,
                error,
            )
            async with self._write_lock, self._sessions.begin() as session:
                row = await session.get(AlertGroup, group.id)
                row.open_attempts = attempts
                row.next_attempt_at = utcnow() + timedelta(seconds=delay)
                row.last_error = f"{type(error).__name__}: {error}"[:2000]
            return
        async with self._write_lock, self._sessions.begin() as session:
            row = await session.get(AlertGroup, group.id)
            row.incident_id, row.state, row.last_error = declared.incident.id, "open", None
            row.open_attempts, row.next_attempt_at = 0, None
        self._due.add("notes")

    # -- 3. notes ------------------------------------------------------------------------
    async def _post_notes(self) -> bool:
        """Post the notes of open groups; a group Discord keeps refusing backs off alone.

        After ``NOTE_TRIES`` failed posts a group's notes are given up (they are in the
        timeline already), logged and kept in ``last_error``: one bad channel never holds
        the other groups' notes back, nor is it retried for ever.
        """
        now = time.monotonic()
        backing_off = [i for i, at in self._notes_retry.items() if at > now]
        async with self._sessions() as session:
            rows = (
                await session.execute(
                    select(AlertGroup, Incident)
                    .join(Incident, AlertGroup.incident_id == Incident.id)
                    .where(
                        AlertGroup.state == "open",
                        func.json_array_length(AlertGroup.notes) > 0,
                        AlertGroup.id.not_in(backing_off),
                    )
                    .order_by(AlertGroup.id)
                    .limit(NOTES_BATCH)
                )
            ).all()
        if backing_off:
            self._waiting = True
        if not rows:
            return False
        every = self._config.notes_every.total_seconds()
        due, later = [], []
        for group, incident in rows:
            at = self._noted_at.get(group.id, -every) + every
            if now >= at:
                due.append((group, incident))
            else:
                later.append(at)
        if later:
            self._waiting = True  # paced: one message per incident channel per notes_every
            self._next_notes = min(later)
        if not due:
            return False
        for group, incident in due:
            self._noted_at[group.id] = time.monotonic()
            try:
                await self._post_group_notes(group, incident)
            except ExternalServiceError as error:
                await self._notes_failed(group, incident, error)
            else:
                self._notes_retry.pop(group.id, None)
                self._notes_failures.pop(group.id, None)
        return True

    async def _notes_failed(
        self, group: AlertGroup, incident: Incident, error: ExternalServiceError
    ) -> None:
        tries = self._notes_failures.get(group.id, 0) + 1
        if tries < NOTE_TRIES:
            delay = min(60.0, NOTES_BACKOFF * 2.0 ** (tries - 1))
            log.warning(
                "could not post alert notes of incident %s (try %d of %d, next in %.1f s): %s",
                incident.id,
                tries,
                NOTE_TRIES,
                delay,
                error,
            )
            self._notes_failures[group.id] = tries
            self._notes_retry[group.id] = time.monotonic() + delay
            self._waiting = True
            return
        self._notes_failures.pop(group.id, None)
        self._notes_retry.pop(group.id, None)
        given_up = len(group.notes)
        log.error(
            "gave up posting %d alert note(s) of incident %s after %d tries: %s",
            given_up,
            incident.id,
            tries,
            error,
        )
        async with self._write_lock, self._sessions.begin() as session:
            row = await session.get(AlertGroup, group.id)
            row.notes = list(row.notes)[given_up:]
            row.last_error = (
                f"{given_up} note(s) not posted after {tries} tries "
                f"(in the timeline): {type(error).__name__}: {error}"
            )[:2000]

    async def _post_group_notes(self, group: AlertGroup, incident: Incident) -> None:
        notes = list(group.notes)
        if any(not n.get("recorded") for n in notes):
            async with self._write_lock, self._sessions.begin() as session:
                row = await session.get(AlertGroup, group.id)
                current = await session.get(Incident, incident.id)
                marked = []
                for note in row.notes:
                    if not note.get("recorded"):
                        record(
                            session,
                            current,
                            f"alert_{note['kind']}",
                            _timeline_text(note),
                            None,
                            _timeline_data(note, group),
                        )
                        note = {**note, "recorded": True}
                    marked.append(note)
                row.notes = marked
                notes = marked
        async with self._sessions() as session:
            firing = await session.scalar(
                select(func.count())
                .select_from(Alert)
                .where(Alert.group_id == group.id, Alert.status == "firing")
            )
        commander = incident.commander_id
        mention = bool(commander) and any(n["kind"] in MENTIONING for n in notes)
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
        content = clip("\n\n".join(parts), MAX_MESSAGE) or ""
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
            row = await session.get(AlertGroup, group.id)
            row.notes = list(row.notes)[len(notes) :]

    # -- 4. digest -----------------------------------------------------------------------
    async def _post_digest(self) -> bool:
        async with self._sessions() as session:
            groups = list(
                await session.scalars(
                    select(AlertGroup)
                    .where(AlertGroup.state == "digest", AlertGroup.digest_message_id.is_(None))
                    .order_by(AlertGroup.id)
                    .limit(DIGEST_BATCH)
                )
            )
        if not groups:
            return False
        if time.monotonic() < self._next_digest:
            self._waiting = True
            return False
        self._next_digest = time.monotonic() + self._config.digest_every.total_seconds()
        channel = self._discord.text_channel(self._ops_channel)
        if channel is None:
            log.error(
                "no #%s channel for the alert digest; %d entries wait",
                self._ops_channel,
                len(groups),
            )
            self._waiting = True
            return False
        now = utcnow()
        quiet = self._last_digest_at is None or now - self._last_digest_at > STORM_QUIET
        primary = (await self._oncall.at()).primary_id if quiet else None
        counts = await self._alert_counts([g.id for g in groups])
        for number, (chunk, content) in enumerate(self._digest_messages(groups, counts, primary)):
            mention = (primary,) if number == 0 and primary else ()
            try:
                message_id = await self._discord.send(
                    str(channel.id), content=content, mention_users=mention
                )
            except ExternalServiceError as error:
                log.warning("could not post the alert digest: %s", error)
                self._waiting = True
                return True
            async with self._write_lock, self._sessions.begin() as session:
                await session.execute(
                    update(AlertGroup)
                    .where(AlertGroup.id.in_([g.id for g in chunk]))
                    .values(digest_message_id=message_id)
                )
        self._last_digest_at = now
        return True

    def _digest_messages(
        self, groups: list[AlertGroup], counts: dict[int, int], primary_id: str | None
    ) -> list[tuple[list[AlertGroup], str]]:
        """The entries packed into messages of at most 2000 characters, the first with a header."""
        messages: list[tuple[list[AlertGroup], str]] = []
        chunk: list[AlertGroup] = []
        content = ""
        for group in groups:
            trial = [*chunk, group]
            text = self._digest_message(trial, counts, not messages, primary_id)
            if chunk and (len(text) > MAX_MESSAGE or len(trial) > DIGEST_CHUNK):
                messages.append((chunk, content))
                trial = [group]
                text = self._digest_message(trial, counts, False, None)
            chunk, content = trial, text
        if chunk:
            messages.append((chunk, content))
        return [(c, clip(t, MAX_MESSAGE) or "") for c, t in messages]

    def _digest_message(
        self,
        groups: list[AlertGroup],
        counts: dict[int, int],
        header: bool,
        primary_id: str | None,
    ) -> str:
        return self._render.render(
            "alert_digest.md.j2",
            groups=groups,
            counts=counts,
            header=header,
            primary_id=primary_id if header else None,
            storm_limit=self._config.storm_limit,
        )

    async def _alert_counts(self, group_ids: list[int]) -> dict[int, int]:
        async with self._sessions() as session:
            rows = await session.execute(
                select(Alert.group_id, func.count())
                .where(Alert.group_id.in_(group_ids))
                .group_by(Alert.group_id)
            )
            return {group_id: int(count) for group_id, count in rows}


# -- notes -------------------------------------------------------------------------------------
def _note(
    kind: str,
    at: datetime,
    events: Sequence[AlertEvent],
    notification: Notification,
    mapped: Sequence[str | None] = (),
) -> dict[str, Any]:
    shown = list(events[:NOTE_ALERTS])
    return {
        "kind": kind,
        "at": at.isoformat(),
        "source": notification.source,
        "count": len(events),
        "alerts": [
            {
                # What the sender wrote is made inert here, once, for every message after.
                "name": from_outside(e.name, 200) or "alert",
                "fingerprint": e.fingerprint,
                "summary": from_outside(e.summary, 300),
                "url": safe_url(e.url),
                "value": in_code(e.severity) if e.severity else None,
                "severity": mapped[i] if i < len(mapped) else None,
                "starts_at": e.starts_at.isoformat() if e.starts_at else None,
            }
            for i, e in enumerate(shown)
        ],
        "fingerprints": [e.fingerprint for e in events],
        "link": safe_url(notification.link),
        "recorded": False,
    }


def _names(note: dict[str, Any]) -> str:
    names = ", ".join(a["name"] for a in note["alerts"])
    more = note["count"] - len(note["alerts"])
    return names + (f" and {more} more" if more > 0 else "")


def _timeline_text(note: dict[str, Any]) -> str:
    kind, count = note["kind"], note["count"]
    plural = "s" if count != 1 else ""
    if kind == "opened":
        opened = f"Opened by {note['source']}: {count} alert{plural} firing ({_names(note)})"
        recurred = note.get("recurred")
        if recurred:
            opened += (
                f"; recurred after incident #{recurred['incident_id']} was {recurred['status']}"
            )
        return opened
    if kind == "new":
        return f"New alert{plural} in the group: {_names(note)}"
    if kind == "resolved":
        return f"Alert{plural} resolved at the source: {_names(note)}"
    if kind == "refiring":
        return f"Alert{plural} firing again: {_names(note)}"
    return f"Acknowledged at the source ({note['source']})"


def _timeline_data(note: dict[str, Any], group: AlertGroup) -> dict[str, Any]:
    return {
        "source": note["source"],
        "group_id": group.id,
        "count": note["count"],
        "fingerprints": note["fingerprints"][:1000],
        **({"recurred_from": note["recurred"]["incident_id"]} if note.get("recurred") else {}),
    }
