"""The chain watch's queries (functions taking the session)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.mitigate_models import Mitigation
from storage.models import Incident
from storage.watch_models import WatchedTx, WatchState, WatchTransfer

STATE_ID = 1
UNAUTHORIZED, APPROVED, OUTFLOW = "unauthorized", "approved", "outflow"
COUNTED = "counted"  # transfers out of a vault, under every limit: counted, nothing declared
PENDING, DONE, REMOVED = "pending", "done", "removed"


async def state(session: AsyncSession) -> WatchState | None:
    return await session.get(WatchState, STATE_ID)


def start_state(session: AsyncSession, cursor: int, cursor_hash: str | None) -> WatchState:
    row = WatchState(
        id=STATE_ID,
        cursor=cursor,
        cursor_hash=cursor_hash,
        origin=cursor,
        stopped=False,
        outages=0,
    )
    session.add(row)
    return row


async def tx(session: AsyncSession, tx_hash: str) -> WatchedTx | None:
    return await session.scalar(select(WatchedTx).where(WatchedTx.tx_hash == tx_hash))


async def pending(session: AsyncSession) -> Sequence[WatchedTx]:
    """Transactions recorded but not yet in their incident (a run stopped between the two)."""
    rows = await session.scalars(
        select(WatchedTx).where(WatchedTx.state == PENDING).order_by(WatchedTx.id)
    )
    return rows.all()


async def since_block(session: AsyncSession, first: int) -> Sequence[WatchedTx]:
    """What a reorg from ``first`` on may have removed."""
    rows = await session.scalars(
        select(WatchedTx)
        .where(WatchedTx.block >= first, WatchedTx.state != REMOVED)
        .order_by(WatchedTx.id)
    )
    return rows.all()


async def recent_attacks(session: AsyncSession, after: datetime) -> Sequence[WatchedTx]:
    """Unauthorized transactions of open incidents, their blocks later than ``after``."""
    rows = await session.scalars(
        select(WatchedTx)
        .join(Incident, Incident.id == WatchedTx.incident_id)
        .where(
            WatchedTx.kind.in_((UNAUTHORIZED, OUTFLOW)),
            WatchedTx.state == DONE,
            WatchedTx.block_time > after,
            Incident.status.not_in(("resolved", "closed", "failed")),
        )
    )
    return rows.all()


async def approved_actions(session: AsyncSession, states: Sequence[str]) -> Sequence[Mitigation]:
    rows = await session.scalars(select(Mitigation).where(Mitigation.state.in_(states)))
    return rows.all()


async def transfers(
    session: AsyncSession, token: str, vault: str, after: datetime
) -> Sequence[WatchTransfer]:
    """The counted outflows of ``token`` out of ``vault`` in blocks later than ``after``."""
    rows = await session.scalars(
        select(WatchTransfer).where(
            WatchTransfer.token == token.lower(),
            WatchTransfer.vault == vault.lower(),
            WatchTransfer.block_time > after,
            WatchTransfer.removed.is_(False),
        )
    )
    return rows.all()


async def transfer(session: AsyncSession, tx_hash: str, log_index: int) -> WatchTransfer | None:
    return await session.scalar(
        select(WatchTransfer).where(
            WatchTransfer.tx_hash == tx_hash, WatchTransfer.log_index == log_index
        )
    )


async def transfers_of(session: AsyncSession, tx_hash: str) -> Sequence[WatchTransfer]:
    rows = await session.scalars(select(WatchTransfer).where(WatchTransfer.tx_hash == tx_hash))
    return rows.all()
