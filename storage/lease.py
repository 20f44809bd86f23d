"""The replica lease: one row naming the replica that acts, with a fencing token.

The database's own clock decides expiry (``db_epoch()``: seconds since the epoch
as the server sees them), so a replica whose clock is off by seconds neither
keeps nor steals the lease early. Taking the lease bumps the token; every effect
(an outbox claim, a timer claim) checks in its own transaction that the token it
carries is still the current, unexpired one (``current()``), so a replica that
was paused past its expiry cannot act on stale authority.

On SQLite there is one process; the same code runs and the lease is simply taken
(``single=True``: a restart need not wait out the last run's expiry).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import BigInteger, Float, String, and_, exists, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.functions import FunctionElement

from storage.models import Base

LEASE = "active"


class ReplicaLease(Base):
    __tablename__ = "replica_lease"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    holder: Mapped[str] = mapped_column(String(200))
    token: Mapped[int] = mapped_column(BigInteger)
    expires_at: Mapped[float] = mapped_column(Float)
    acquired_at: Mapped[float] = mapped_column(Float)


class db_epoch(FunctionElement[float]):
    """The database server's time now, in seconds since the epoch."""

    type = Float()
    inherit_cache = True


@compiles(db_epoch, "postgresql")
def _pg_epoch(_element: Any, _compiler: Any, **_kw: Any) -> str:
    return "extract(epoch from clock_timestamp())::float8"


@compiles(db_epoch, "sqlite")
def _sqlite_epoch(_element: Any, _compiler: Any, **_kw: Any) -> str:
    return "((julianday('now') - 2440587.5) * 86400.0)"


@dataclass(frozen=True)
class LeaseState:
    """What one attempt found: ``token`` when this replica holds the lease."""

    holder: str  # who holds it now ("" when nobody)
    token: int | None  # ours, when we hold it
    expires_in: float  # seconds left on the database's clock
    took_over_from: str | None = None  # set when we just took it from another replica
    renewed: bool = False  # we held it already


async def acquire(session: AsyncSession, me: str, ttl: float, single: bool = False) -> LeaseState:
    """Renew the lease if ``me`` holds it, take it if it expired, else say who has it.

    Run in its own transaction: the row is locked (``FOR UPDATE``) first, so two
    replicas trying at the same instant are served one after the other.
    """
    row = await session.scalar(
        select(ReplicaLease).where(ReplicaLease.name == LEASE).with_for_update()
    )
    if row is None:
        raise LookupError("no replica_lease row: the database is not migrated (0007_lease)")
    now = float(await session.scalar(select(db_epoch())) or 0.0)
    held = row.holder == me and row.expires_at > now
    if held or single or not row.holder or row.expires_at <= now:
        previous = row.holder
        if not held:
            row.token += 1
            row.acquired_at = now
        row.holder = me
        row.expires_at = now + ttl
        await session.flush()
        took = previous if previous and previous != me and not held else None
        return LeaseState(me, row.token, ttl, took_over_from=took, renewed=held)
    return LeaseState(row.holder, None, row.expires_at - now)


async def release(session: AsyncSession, me: str, token: int) -> bool:
    """A clean stop: the lease expires now, so a standby need not wait it out."""
    result = await session.execute(
        update(ReplicaLease)
        .where(ReplicaLease.name == LEASE, ReplicaLease.holder == me, ReplicaLease.token == token)
        .values(expires_at=db_epoch())
    )
    return bool(getattr(result, "rowcount", 0))


def current(token: int) -> ColumnElement[bool]:
    """A WHERE clause: ``token`` is the lease's token and the lease has not expired."""
    return exists().where(
        and_(
            ReplicaLease.name == LEASE,
            ReplicaLease.token == token,
            ReplicaLease.expires_at > db_epoch(),
        )
    )


async def holder(session: AsyncSession) -> ReplicaLease | None:
    return await session.get(ReplicaLease, LEASE, populate_existing=True)


async def expire_now(session: AsyncSession) -> None:
    """Tests and drills: the lease runs out at once, as if its holder had died long ago."""
    await session.execute(
        update(ReplicaLease).where(ReplicaLease.name == LEASE).values(expires_at=0.0)
    )
