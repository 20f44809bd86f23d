"""The alert worker's reads on the way to a page, run on the alert writer's connection.

An apply round and the opener's pick are on the path from an alert to the commander's
ping, so they read in DB-API SQL, each in one hop to the writer's thread
(``Writer.read``): a query there costs a tenth of a millisecond, where one through an
``AsyncSession`` cost one to three. The same SQL runs on PostgreSQL through
storage/alerts/pg.py. The rows become the models' (detached) objects, converted as
their column types would: SQLite gives JSON and moments as text, PostgreSQL (asyncpg)
gives them decoded and naive.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NamedTuple

from storage.alerts.writes import db_time
from storage.models import Alert, AlertGroup

_GROUP = (
    "id",
    "source",
    "group_key",
    "state",
    "incident_id",
    "title",
    "summary",
    "severity",
    "severity_note",
    "notes",
    "digest_message_id",
    "open_attempts",
    "next_attempt_at",
    "last_error",
    "first_seen",
    "last_seen",
)
_ALERT = (
    "id",
    "group_id",
    "fingerprint",
    "name",
    "status",
    "labels",
    "annotations",
    "url",
    "starts_at",
    "ends_at",
    "fire_count",
    "first_seen",
    "last_seen",
)
_JSON = {"notes", "labels", "annotations"}
_MOMENTS = {"next_attempt_at", "first_seen", "last_seen", "starts_at", "ends_at"}


def moment(value: Any) -> datetime | None:
    """A stored moment as ``storage.types.UTCDateTime`` gives it: aware, in UTC."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    assert isinstance(value, datetime), value
    return value.replace(tzinfo=UTC)


def _fields(columns: Sequence[str], row: Sequence[Any]) -> dict[str, Any]:
    values = dict(zip(columns, row, strict=True))
    for name in _JSON.intersection(values):
        if isinstance(values[name], str):
            values[name] = json.loads(values[name])
    for name in _MOMENTS.intersection(values):
        values[name] = moment(values[name])
    return values


def _columns(columns: Sequence[str], table: str) -> str:
    return ", ".join(f"{table}.{name}" for name in columns)


def _marks(values: Sequence[Any]) -> str:
    return ",".join("?" * len(values))


# -- an apply round -----------------------------------------------------------------------------
def pending(connection: sqlite3.Connection, limit: int) -> list[tuple[int, str, str]]:
    """The oldest pending notifications: (id, source, body)."""
    rows = connection.execute(
        "SELECT id, source, body FROM alert_notifications WHERE state = 'pending'"
        " ORDER BY id LIMIT ?",
        (limit,),
    ).fetchall()
    return [(int(row[0]), row[1], row[2]) for row in rows]


class BoundIncident(NamedTuple):
    """What a round needs of a group's incident: whether it is over, and since when."""

    id: int
    status: str
    channel_id: str | None
    resolved_at: datetime | None


@dataclass
class RoundRead:
    """What an apply round starts from, read in one hop."""

    groups: list[AlertGroup] = field(default_factory=list)
    alerts: list[Alert] = field(default_factory=list)
    incidents: dict[int, BoundIncident] = field(default_factory=dict)
    opened_in_window: int = 0  # the storm count (``opened_since``)


def round_read(
    keys: set[tuple[str, str]], fingerprints: set[str], since: datetime
) -> Callable[[sqlite3.Connection], RoundRead]:
    """The ``Writer.read`` job reading the groups of ``keys`` (source, group key) that exist, their alerts
    among ``fingerprints``, the groups' incidents, and the storm count since ``since``."""
    window = db_time(since)

    def read(connection: sqlite3.Connection) -> RoundRead:
        found = RoundRead(opened_in_window=opened_since(connection, window))
        group_keys = sorted({key for _, key in keys})
        if not group_keys:
            return found
        rows = connection.execute(
            f"SELECT {_columns(_GROUP, 'g')} FROM alert_groups g"
            f" WHERE g.group_key IN ({_marks(group_keys)})",
            group_keys,
        ).fetchall()
        groups = [AlertGroup(**_fields(_GROUP, row)) for row in rows]
        found.groups = [g for g in groups if (g.source, g.group_key) in keys]
        ids = sorted(g.id for g in found.groups)
        wanted = sorted(fingerprints)
        if ids and wanted:
            rows = connection.execute(
                f"SELECT {_columns(_ALERT, 'a')} FROM alerts a"
                f" WHERE a.group_id IN ({_marks(ids)}) AND a.fingerprint IN ({_marks(wanted)})",
                [*ids, *wanted],
            ).fetchall()
            found.alerts = [Alert(**_fields(_ALERT, row)) for row in rows]
        bound = sorted({g.incident_id for g in found.groups if g.incident_id is not None})
        if bound:
            rows = connection.execute(
                "SELECT id, status, channel_id, resolved_at FROM incidents"
                f" WHERE id IN ({_marks(bound)})",
                bound,
            ).fetchall()
            for row in rows:
                incident = BoundIncident(int(row[0]), row[1], row[2], moment(row[3]))
                found.incidents[incident.id] = incident
        return found

    return read


def opened_since(connection: sqlite3.Connection, since: str | None) -> int:
    """Incidents opened (or being opened) by alert groups since ``since``: the storm count.
    Groups seen before the window that open again in it (after a storm, or recurring after
    a resolution) count by their new incident or pending open."""
    row = connection.execute(
        "SELECT"
        " (SELECT count(*) FROM alert_groups WHERE state != 'digest' AND first_seen >= ?),"
        " (SELECT count(*) FROM alert_groups g LEFT JOIN incidents i ON g.incident_id = i.id"
        "   WHERE g.first_seen < ? AND (g.state = 'opening'"
        "   OR (g.state = 'open' AND i.declared_at >= ?)))",
        (since, since, since),
    ).fetchone()
    assert row is not None
    return int(row[0] or 0) + int(row[1] or 0)


def firing_alerts(group_id: int) -> Callable[[sqlite3.Connection], list[Alert]]:
    """The ``Writer.read`` job reading the group's firing alerts, oldest first."""

    def read(connection: sqlite3.Connection) -> list[Alert]:
        rows = connection.execute(
            f"SELECT {_columns(_ALERT, 'a')} FROM alerts a"
            " WHERE a.group_id = ? AND a.status = 'firing' ORDER BY a.starts_at, a.id",
            (group_id,),
        ).fetchall()
        return [Alert(**_fields(_ALERT, row)) for row in rows]

    return read


# -- the opener's pick --------------------------------------------------------------------------
class NextOpening(NamedTuple):
    """The group to open, the start of its first alert, and its last incident's request
    key; or only when the next one waiting on a retry is due."""

    group: AlertGroup | None
    first_start: datetime | None = None
    previous_key: str | None = None
    retry_at: datetime | None = None


def next_opening(busy: Iterable[int], now: datetime) -> Callable[[sqlite3.Connection], NextOpening]:
    """The ``Writer.read`` job picking the first ``opening`` group whose retry is due, other than
    ``busy`` (those being opened)."""
    skipped = sorted(busy)
    others = f" AND g.id NOT IN ({_marks(skipped)})" if skipped else ""
    at = db_time(now)

    def read(connection: sqlite3.Connection) -> NextOpening:
        row = connection.execute(
            f"SELECT {_columns(_GROUP, 'g')},"
            " (SELECT min(a.starts_at) FROM alerts a WHERE a.group_id = g.id),"
            " (SELECT i.request_key FROM incidents i WHERE i.id = g.incident_id)"
            f" FROM alert_groups g WHERE g.state = 'opening'{others}"
            " AND (g.next_attempt_at IS NULL OR g.next_attempt_at <= ?)"
            " ORDER BY g.id LIMIT 1",
            [*skipped, at],
        ).fetchone()
        if row is not None:
            group = AlertGroup(**_fields(_GROUP, row[: len(_GROUP)]))
            return NextOpening(group, moment(row[len(_GROUP)]), row[len(_GROUP) + 1])
        retry = connection.execute(
            f"SELECT min(g.next_attempt_at) FROM alert_groups g WHERE g.state = 'opening'{others}",
            skipped,
        ).fetchone()
        return NextOpening(None, retry_at=moment(retry[0]) if retry else None)

    return read
