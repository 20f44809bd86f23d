"""Queries of the outbox table (see bot/core/outbox.py), each taking the session."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage import lease
from storage.models import OutboxEntry


async def get(session: AsyncSession, entry_id: int) -> OutboxEntry | None:
    return await session.get(OutboxEntry, entry_id, populate_existing=True)


async def by_key(session: AsyncSession, key: str) -> OutboxEntry | None:
    return await session.scalar(select(OutboxEntry).where(OutboxEntry.key == key))


async def in_state(session: AsyncSession, state: str, kind: str | None = None) -> list[OutboxEntry]:
    query = select(OutboxEntry).where(OutboxEntry.state == state).order_by(OutboxEntry.id)
    if kind is not None:
        query = query.where(OutboxEntry.kind == kind)
    return list(await session.scalars(query))


async def of_incident(
    session: AsyncSession, incident_id: int, kind: str | None = None
) -> list[OutboxEntry]:
    query = select(OutboxEntry).where(OutboxEntry.incident_id == incident_id)
    if kind is not None:
        query = query.where(OutboxEntry.kind == kind)
    return list(await session.scalars(query.order_by(OutboxEntry.id)))


async def claim(
    session: AsyncSession, entry_id: int, now: datetime, token: int | None = None
) -> OutboxEntry | None:
    """pending → sending, counted as an attempt; None if it was not pending.

    With a fencing ``token`` (storage/lease.py), only while that token is the lease's
    current one: a replica that lost the lease claims nothing.
    """
    fenced = () if token is None else (lease.current(token),)
    claimed = cast(  # an UPDATE's result is a CursorResult; execute() is typed as Result
        CursorResult[Any],
        await session.execute(
            update(OutboxEntry)
            .where(OutboxEntry.id == entry_id, OutboxEntry.state == "pending", *fenced)
            .values(state="sending", attempts=OutboxEntry.attempts + 1, updated_at=now)
        ),
    )
    if not claimed.rowcount:
        return None
    return await get(session, entry_id)


async def of_kind(session: AsyncSession, kind: str) -> list[OutboxEntry]:
    return list(
        await session.scalars(
            select(OutboxEntry).where(OutboxEntry.kind == kind).order_by(OutboxEntry.id)
        )
    )


async def by_keys(session: AsyncSession, keys: Sequence[str]) -> list[OutboxEntry]:
    """The entries among ``keys`` that exist, oldest first."""
    if not keys:
        return []
    query = select(OutboxEntry).where(OutboxEntry.key.in_(keys)).order_by(OutboxEntry.id)
    return list(await session.scalars(query))


async def last_created(session: AsyncSession, key_prefix: str) -> datetime | None:
    """When the newest entry whose key starts with ``key_prefix`` was added."""
    return await session.scalar(
        select(func.max(OutboxEntry.created_at)).where(
            OutboxEntry.key.startswith(key_prefix, autoescape=True)
        )
    )
