"""The worker's first step: stored notifications become groups, alerts and notes.

Pending notifications are applied in order, a batch per transaction: each group
(source, group key) and alert (fingerprint) row is created or updated, and the
notification is marked done in the same transaction. A new group is decided
there and then: an incident (``opening``) or, past ``alerts.storm_limit``
incidents in the last minute, a ``digest`` entry. A repeat only counts
``fire_count`` up; a new, resolved or re-firing alert adds a *note* to its group,
and may open a new incident (:func:`bot.alerts.rules.on_new_firing`).

The round reads in one hop to the writer's thread (:func:`storage.alerts.reads.round_read`),
changes rows in memory, then writes them in one hop too
(:class:`storage.alerts.RoundWrite`): this is on the way from an alert to its page.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from bot.alerts import rules
from bot.alerts import severity as severities
from bot.alerts.formats import BadPayload
from bot.alerts.metrics import AlertMetrics
from bot.alerts.notification import AlertEvent, Notification, parse
from bot.alerts.rules import GROUP_STATES, GroupState
from bot.alerts.steps import Schedule
from bot.alerts.writer import Writer
from bot.core.clock import Clock
from bot.settings import Config
from storage import alerts as queries
from storage.alerts import reads
from storage.models import Alert, AlertGroup

log = logging.getLogger(__name__)

APPLY_BATCH = 200
GroupKey = tuple[str, str]  # (source, group key)


_SHARED = ("fingerprint", "name", "status", "labels", "annotations", "url", "starts_at", "ends_at")


def shared_fields(source: AlertEvent | Alert) -> dict[str, Any]:
    """What an alert as received (AlertEvent) and as stored (Alert) have in common: the
    one conversion between them, each way."""
    return {name: getattr(source, name) for name in _SHARED}


@dataclass
class _Batch:
    """One apply round: what was read, and the changes to write (``changes``)."""

    changes: queries.RoundWrite
    opened_in_window: int  # the storm count, as read, plus those this batch opens
    groups: dict[GroupKey, AlertGroup] = field(default_factory=dict)
    alerts: dict[tuple[GroupKey, str], Alert] = field(default_factory=dict)
    incidents: dict[int, reads.BoundIncident] = field(default_factory=dict)  # of the groups
    digested: list[str] = field(default_factory=list)

    @property
    def now(self) -> Any:
        return self.changes.now


class Applier:
    def __init__(
        self,
        config: Config,
        writer: Writer,
        metrics: AlertMetrics,
        clock: Clock,
        schedule: Schedule,
    ) -> None:
        self._config = config.alerts
        self._procedure = config.procedure
        self._writer = writer
        self._metrics = metrics
        self._clock = clock
        self._schedule = schedule

    async def apply_pending(self, limit: int = APPLY_BATCH) -> int:
        """Apply up to ``limit`` pending notifications; how many there were."""
        now = self._clock.now()
        rows = await self._writer.read(lambda connection: reads.pending(connection, limit))
        if not rows:
            return 0
        changes = queries.RoundWrite(now)
        parsed: list[Notification] = []
        for row_id, source, body in rows:
            try:
                parsed.append(parse(source, body, self._config.severity_label))
                changes.done.append(row_id)
            except BadPayload as error:  # refused at the door, so only a changed parser
                log.error("stored alert notification %s is unreadable: %s", row_id, error)
                changes.failed.append((row_id, error.message[:2000]))
        batch = await self._load(changes, parsed)
        for notification in parsed:
            await self._apply(batch, notification)
        ids = await self._writer.run(changes.job())
        for group, group_id in zip(changes.new_groups, ids, strict=True):
            group.id = group_id
        for source in batch.digested:
            self._metrics.digest_entries.labels(source).inc()
        return len(rows)

    async def _load(
        self, changes: queries.RoundWrite, notifications: Sequence[Notification]
    ) -> _Batch:
        keys = {(n.source, n.group_key) for n in notifications}
        fingerprints = {a.fingerprint for n in notifications for a in n.alerts}
        since = changes.now - rules.STORM_WINDOW
        found = await self._writer.read(reads.round_read(keys, fingerprints, since))
        batch = _Batch(changes, found.opened_in_window, incidents=found.incidents)
        by_id: dict[int, GroupKey] = {}
        for group in found.groups:
            key = (group.source, group.group_key)
            batch.groups[key] = group
            by_id[group.id] = key
        wanted = {
            (batch.groups[(n.source, n.group_key)].id, a.fingerprint)
            for n in notifications
            if (n.source, n.group_key) in batch.groups
            for a in n.alerts
        }
        for alert in found.alerts:  # read by group and fingerprint: only the pairs asked
            if (alert.group_id, alert.fingerprint) in wanted:
                batch.alerts[(by_id[alert.group_id], alert.fingerprint)] = alert
        return batch

    async def _apply(self, batch: _Batch, notification: Notification) -> None:
        key = (notification.source, notification.group_key)
        group = batch.groups.get(key)
        changes = batch.changes
        if notification.action == "acknowledge":
            if group is not None and group.state != GroupState.DIGEST:
                note = rules.make_note("acknowledged", batch.now, [], notification)
                self._add_notes(batch, group, [note])
            return
        created = False
        if group is None:
            if not any(a.status == "firing" for a in notification.alerts):
                return  # the resolution of a group this bot never saw firing: nothing to open
            group = await self._new_group(batch, notification)
            created = True
        elif group.id is not None:
            changes.seen_groups.add(group.id)
        found: dict[str, list[AlertEvent]] = {"new": [], "resolved": [], "refiring": []}
        for event in notification.alerts:
            alert = batch.alerts.get((key, event.fingerprint))
            if alert is None:
                alert = Alert(
                    **shared_fields(event),
                    fire_count=1 if event.status == "firing" else 0,
                    first_seen=batch.now,
                    last_seen=batch.now,
                )
                changes.new_alerts.append((group, alert))
                batch.alerts[(key, event.fingerprint)] = alert
                if not created:
                    found["new" if event.status == "firing" else "resolved"].append(event)
                continue
            if alert.status != event.status:
                alert.status = event.status
                if alert.id is not None:
                    changes.changed_alerts[alert.id] = alert
                if event.status == "resolved":
                    alert.ends_at = event.ends_at or batch.now
                    found["resolved"].append(event)
                else:
                    alert.starts_at = event.starts_at or alert.starts_at
                    alert.ends_at = None
                    found["refiring"].append(event)
            if event.status == "firing":  # the same alert again: only the count grows
                if alert.id is None:
                    alert.fire_count += 1
                else:
                    changes.counts[alert.id] = changes.counts.get(alert.id, 0) + 1
            if alert.id is not None:
                changes.seen_alerts.add(alert.id)
        firing = [*found["new"], *found["refiring"]]
        if firing and not created and await self._reopen(batch, group, notification, firing):
            return
        if group.state == GroupState.DIGEST:
            return
        notes = [
            rules.make_note(kind, batch.now, events, notification, self._mapped(events))
            for kind, events in found.items()
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
        """A new firing alert in a group with no live incident: a new incident or a digest
        entry (True), as :func:`bot.alerts.rules.on_new_firing` says; False: a note."""
        previous = batch.incidents.get(group.incident_id) if group.incident_id else None
        status = previous.status if previous is not None else None
        if not rules.wants_incident(group.state, status, group.id is not None):
            return False
        target = rules.on_new_firing(group.state, self._storm(batch))
        if target is None:
            return True  # still listed in the digest; it opens after the storm
        assert group.id is not None
        GROUP_STATES.check(group.state, target)
        changes = batch.changes
        if target == GroupState.DIGEST:  # the recurrence of a resolved group, in a storm
            group.state, group.digest_message_id, group.notes = target.value, None, []
            changes.moved_groups[group.id] = group
            changes.noted_groups.pop(group.id, None)
            batch.digested.append(notification.source)
            self._schedule.mark("digest")
            return True
        batch.opened_in_window += 1
        # The new incident shows every alert of the group still firing, those that came
        # while it sat in a storm digest included, not only this notification's.
        firing = await self._still_firing(batch, group, firing)
        chosen = severities.choose((a.severity for a in firing), self._config, self._procedure)
        opened = rules.make_note("opened", batch.now, firing, notification, self._mapped(firing))
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
        group.state, group.notes = target.value, [opened, *unposted]
        group.severity, group.severity_note = chosen.severity, chosen.note
        group.open_attempts, group.next_attempt_at, group.last_error = 0, None, None
        changes.moved_groups[group.id] = group
        changes.noted_groups.pop(group.id, None)
        self._schedule.mark("open")
        return True

    async def _still_firing(
        self, batch: _Batch, group: AlertGroup, firing: list[AlertEvent]
    ) -> list[AlertEvent]:
        """``firing`` first, then the group's other alerts still firing (as this batch
        leaves them), oldest first."""
        assert group.id is not None
        key = (group.source, group.group_key)
        seen = {e.fingerprint for e in firing}
        earlier = []
        for stored in await self._writer.read(reads.firing_alerts(group.id)):
            alert = batch.alerts.get((key, stored.fingerprint), stored)
            if alert.fingerprint in seen or alert.status != "firing":
                continue
            seen.add(alert.fingerprint)
            severity = alert.labels.get(self._config.severity_label)
            earlier.append(AlertEvent(**shared_fields(alert), severity=severity))
        return [*firing, *earlier]

    def _storm(self, batch: _Batch) -> bool:
        """True when ``alerts.storm_limit`` incidents were opened in the last minute."""
        return rules.is_storm(batch.opened_in_window, self._config.storm_limit)

    async def _new_group(self, batch: _Batch, notification: Notification) -> AlertGroup:
        firing = [a for a in notification.alerts if a.status == "firing"]
        chosen = severities.choose((a.severity for a in firing), self._config, self._procedure)
        storm = self._storm(batch)
        group = AlertGroup(
            source=notification.source,
            group_key=notification.group_key,
            state=GroupState.DIGEST.value if storm else GroupState.OPENING.value,
            title=notification.title[:300],
            summary=notification.summary,
            severity=chosen.severity,
            severity_note=chosen.note,
            notes=[],
            open_attempts=0,
            first_seen=batch.now,
            last_seen=batch.now,
        )
        batch.changes.new_groups.append(group)
        batch.groups[(notification.source, notification.group_key)] = group
        if storm:
            batch.digested.append(notification.source)
            self._schedule.mark("digest")
        else:
            batch.opened_in_window += 1
            self._schedule.mark("open")
            opened = rules.make_note(
                "opened", batch.now, firing, notification, self._mapped(firing)
            )
            opened["severity"] = chosen.severity
            opened["severity_note"] = chosen.note
            group.notes = [opened]
        return group

    def _add_notes(self, batch: _Batch, group: AlertGroup, notes: list[dict[str, Any]]) -> None:
        group.notes = [*(group.notes or []), *notes]
        if group.id is not None:
            batch.changes.noted_groups[group.id] = group
        self._schedule.mark("notes")

    def _mapped(self, events: Sequence[AlertEvent]) -> list[str | None]:
        return [
            severities.map_value(e.severity, self._config, self._procedure)
            for e in events[: rules.NOTE_ALERTS]
        ]
