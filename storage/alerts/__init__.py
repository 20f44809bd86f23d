"""Queries of the alert tables (alert_notifications, alert_groups, alerts).

Functions taking an ``AsyncSession`` here (the worker's reads and small writes);
the hot writes, run in one transaction on the alert writer's thread, are in
:mod:`storage.alerts.writes` and named here too.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Row, func, or_, select, text, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.alerts.writes import (
    RoundWrite,
    connect_writer,
    db_time,
    in_transaction,
    insert_notifications,
    pending_count,
)
from storage.models import Alert, AlertGroup, AlertNotification, Incident

__all__ = [
    "RoundWrite",
    "connect_writer",
    "db_time",
    "in_transaction",
    "insert_notifications",
    "pending_count",
]


# -- the worker's reads and small writes (sessions) ----------------------------------------------
async def pending_notifications(session: AsyncSession, limit: int) -> Sequence[Row[int, str, str]]:
    return (
        await session.execute(
            select(AlertNotification.id, AlertNotification.source, AlertNotification.body)
            .where(AlertNotification.state == "pending")
            .order_by(AlertNotification.id)
            .limit(limit)
        )
    ).all()


async def groups_of(session: AsyncSession, keys: set[tuple[str, str]]) -> list[AlertGroup]:
    """The groups of these (source, group key) pairs that exist."""
    found = await session.scalars(
        select(AlertGroup).where(AlertGroup.group_key.in_({k for _, k in keys}))
    )
    return [g for g in found if (g.source, g.group_key) in keys]


async def alerts_of(session: AsyncSession, wanted: set[tuple[int, str]]) -> list[Alert]:
    """The alerts of these (group id, fingerprint) pairs that exist."""
    if not wanted:
        return []
    return list(
        await session.scalars(
            select(Alert).where(tuple_(Alert.group_id, Alert.fingerprint).in_(wanted))
        )
    )


async def incidents_by_id(session: AsyncSession, ids: set[int]) -> dict[int, Incident]:
    if not ids:
        return {}
    return {i.id: i for i in await session.scalars(select(Incident).where(Incident.id.in_(ids)))}


async def opened_since(session: AsyncSession, since: datetime) -> int:
    """Incidents opened (or being opened) by alert groups since ``since``: the storm count
    (one round trip: it is on the way from a new group's alert to its ping)."""
    new = (
        select(func.count())
        .select_from(AlertGroup)
        .where(AlertGroup.state != "digest", AlertGroup.first_seen >= since)
        .scalar_subquery()
    )
    # Groups seen before the window that open again in it (after a storm, or recurring
    # after a resolution) count by their new incident or pending open.
    again = (
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
        .scalar_subquery()
    )
    counts = (await session.execute(select(new, again))).one()
    return int(counts[0] or 0) + int(counts[1] or 0)


async def next_opening(
    session: AsyncSession, busy: list[int], now: datetime
) -> tuple[AlertGroup, datetime | None] | None:
    """The first group to open whose retry is due, other than those being opened, with
    the start of its first alert (one round trip: this is on the way to a ping)."""
    first_start = (
        select(func.min(Alert.starts_at))
        .where(Alert.group_id == AlertGroup.id)
        .correlate(AlertGroup)
        .scalar_subquery()
    )
    row = (
        await session.execute(
            select(AlertGroup, first_start)
            .where(
                AlertGroup.state == "opening",
                AlertGroup.id.not_in(busy),
                or_(AlertGroup.next_attempt_at.is_(None), AlertGroup.next_attempt_at <= now),
            )
            .order_by(AlertGroup.id)
            .limit(1)
        )
    ).first()
    return None if row is None else (row[0], row[1])


async def next_open_retry(session: AsyncSession, busy: list[int]) -> datetime | None:
    return await session.scalar(
        select(func.min(AlertGroup.next_attempt_at)).where(
            AlertGroup.state == "opening", AlertGroup.id.not_in(busy)
        )
    )


async def request_key_of(session: AsyncSession, incident_id: int | None) -> str | None:
    if incident_id is None:
        return None
    return await session.scalar(select(Incident.request_key).where(Incident.id == incident_id))


async def group(session: AsyncSession, group_id: int) -> AlertGroup:
    found = await session.get(AlertGroup, group_id)
    assert found is not None, f"alert group {group_id} is gone"
    return found


async def groups_with_notes(
    session: AsyncSession, skipped: list[int], limit: int
) -> list[tuple[AlertGroup, Incident]]:
    """Open groups with notes to post (and their incidents), other than ``skipped``."""
    rows = await session.execute(
        select(AlertGroup, Incident)
        .join(Incident, AlertGroup.incident_id == Incident.id)
        .where(
            AlertGroup.state == "open",
            func.json_array_length(AlertGroup.notes) > 0,
            AlertGroup.id.not_in(skipped),
        )
        .order_by(AlertGroup.id)
        .limit(limit)
    )
    return [(g, i) for g, i in rows.all()]


async def firing_alerts(session: AsyncSession, group_id: int) -> list[Alert]:
    """The group's firing alerts, oldest first."""
    return list(
        await session.scalars(
            select(Alert)
            .where(Alert.group_id == group_id, Alert.status == "firing")
            .order_by(Alert.starts_at, Alert.id)
        )
    )


async def firing_count(session: AsyncSession, group_id: int) -> int:
    count = await session.scalar(
        select(func.count())
        .select_from(Alert)
        .where(Alert.group_id == group_id, Alert.status == "firing")
    )
    return int(count or 0)


async def unposted_digest(session: AsyncSession, limit: int) -> list[AlertGroup]:
    return list(
        await session.scalars(
            select(AlertGroup)
            .where(AlertGroup.state == "digest", AlertGroup.digest_message_id.is_(None))
            .order_by(AlertGroup.id)
            .limit(limit)
        )
    )


async def set_digest_message(session: AsyncSession, group_ids: list[int], message_id: str) -> None:
    await session.execute(
        update(AlertGroup).where(AlertGroup.id.in_(group_ids)).values(digest_message_id=message_id)
    )


async def alert_counts(session: AsyncSession, group_ids: list[int]) -> dict[int, int]:
    rows = await session.execute(
        select(Alert.group_id, func.count())
        .where(Alert.group_id.in_(group_ids))
        .group_by(Alert.group_id)
    )
    return {group_id: int(count) for group_id, count in rows.all()}


async def count_incidents(session: AsyncSession, statuses: list[str]) -> int:
    count = await session.scalar(
        select(func.count()).select_from(Incident).where(Incident.status.in_(statuses))
    )
    return int(count or 0)


# -- the WAL ------------------------------------------------------------------------------------
async def checkpoint(session: AsyncSession) -> None:
    """Move the WAL into the database; PASSIVE neither waits for nor blocks the writers.

    SQLite only: PostgreSQL checkpoints its own WAL.
    """
    if session.get_bind().dialect.name == "sqlite":
        await session.execute(text("PRAGMA wal_checkpoint(PASSIVE)"))


def no_autocheckpoint(dbapi_connection: Any, _record: Any) -> None:
    """A connection listener: never checkpoint on commit (the worker checkpoints)."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA wal_autocheckpoint=0")
    cursor.close()
