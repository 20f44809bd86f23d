"""Queries of the durable timers (see bot/core/timers.py), each taking the session."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage import lease
from storage.models import Incident, Timer

OPEN_INCIDENT_STATES = ("declared", "acknowledged", "mitigated")


async def cancel(
    session: AsyncSession, incident_id: int, kinds: Iterable[str] | None = None
) -> int:
    query = (
        update(Timer)
        .where(Timer.incident_id == incident_id, Timer.state == "pending")
        .values(state="cancelled")
    )
    if kinds is not None:
        query = query.where(Timer.kind.in_(list(kinds)))
    result = await session.execute(query)
    return int(getattr(result, "rowcount", 0) or 0)


async def rearm_firing(session: AsyncSession) -> None:
    """A crash between claim and done leaves "firing": those run again."""
    await session.execute(update(Timer).where(Timer.state == "firing").values(state="pending"))


async def due(session: AsyncSession, now: datetime, limit: int = 100) -> list[Timer]:
    return list(
        await session.scalars(
            select(Timer)
            .where(Timer.state == "pending", Timer.due_at <= now)
            .order_by(Timer.due_at)
            .limit(limit)
        )
    )


async def claim(session: AsyncSession, timer_id: int, token: int | None = None) -> bool:
    """pending → firing, counted as an attempt; False if someone else had it, or if the
    fencing ``token`` given is no longer the lease's (storage/lease.py)."""
    fenced = () if token is None else (lease.current(token),)
    claimed = await session.execute(
        update(Timer)
        .where(Timer.id == timer_id, Timer.state == "pending", *fenced)
        .values(state="firing", attempts=Timer.attempts + 1)
        # The loaded row keeps its attempts as read: the runner counts this one itself.
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(claimed, "rowcount", 0))


async def next_due(session: AsyncSession, after: datetime) -> datetime | None:
    return await session.scalar(
        select(Timer.due_at)
        .where(Timer.state == "pending", Timer.due_at > after)
        .order_by(Timer.due_at)
        .limit(1)
    )


async def settle(session: AsyncSession, timer_id: int, values: dict[str, Any]) -> None:
    await session.execute(
        update(Timer).where(Timer.id == timer_id, Timer.state == "firing").values(**values)
    )


async def next_pending(
    session: AsyncSession, incident_id: int, kinds: Iterable[str]
) -> Timer | None:
    """The incident's soonest pending timer of ``kinds``."""
    return await session.scalar(
        select(Timer)
        .where(
            Timer.incident_id == incident_id,
            Timer.state == "pending",
            Timer.kind.in_(list(kinds)),
        )
        .order_by(Timer.due_at)
        .limit(1)
    )


async def failing(session: AsyncSession) -> list[Timer]:
    """Timers that failed and are being retried, or gave up, while their incident is
    still open (or that belong to no incident): what /healthz names."""
    query = (
        select(Timer)
        .outerjoin(Incident, Incident.id == Timer.incident_id)
        .where(
            or_(
                Timer.state == "failed",
                Timer.state.in_(("pending", "firing")) & Timer.last_error.is_not(None),
            ),
            or_(Timer.incident_id.is_(None), Incident.status.in_(OPEN_INCIDENT_STATES)),
        )
        .order_by(Timer.id)
    )
    return list(await session.scalars(query))
