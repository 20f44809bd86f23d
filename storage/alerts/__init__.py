"""Queries of the alert tables (alert_notifications, alert_groups, alerts).

Functions taking an ``AsyncSession`` here (the worker's reads and small writes off the
page's path); the hot writes, run in one transaction on the alert writer's thread, are in
:mod:`storage.alerts.writes` and named here too, and the reads on the way to a page,
run on that thread as well, in :mod:`storage.alerts.reads`.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.alerts.writes import (
    RoundWrite,
    connect_writer,
    db_time,
    in_transaction,
    insert_notifications,
    pending_count,
)
from storage.models import Alert, AlertGroup, Incident

__all__ = [
    "RoundWrite",
    "connect_writer",
    "db_time",
    "in_transaction",
    "insert_notifications",
    "pending_count",
]


# -- the worker's reads and small writes (sessions) ----------------------------------------------


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
