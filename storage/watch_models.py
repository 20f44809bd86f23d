"""The chain watch's tables: its durable cursor, every transaction it classified (with the
events it decoded), and the vault outflows it counted. Nothing is deleted: a reorg marks a
transaction removed."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from storage.models import Base
from storage.types import utcnow


class WatchState(Base):
    """One row: the last block read (and its hash, to see a reorg), and whether the watch
    is stopped (the RPC down or wrong) since which outage."""

    __tablename__ = "watch_state"

    id: Mapped[int] = mapped_column(primary_key=True)
    cursor: Mapped[int] = mapped_column(Integer)
    cursor_hash: Mapped[str | None] = mapped_column(String(66))
    # The block before the first one read: a reorg rewinds no further (what came before
    # is history the watch was not asked to read, not news to declare).
    origin: Mapped[int | None] = mapped_column(Integer)
    stopped: Mapped[bool] = mapped_column(Boolean, default=False)
    stop_reason: Mapped[str | None] = mapped_column(Text)
    outages: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class WatchedTx(Base):
    """A transaction with watched events: approved (an action of the bot), unauthorized
    (declared, or joined to an attack's incident), or outflow. ``state``: pending until its
    incident has it, then done; removed after a reorg dropped it."""

    __tablename__ = "watch_txs"

    id: Mapped[int] = mapped_column(primary_key=True)
    tx_hash: Mapped[str] = mapped_column(String(66))
    sender: Mapped[str] = mapped_column(String(42))
    to: Mapped[str | None] = mapped_column(String(42))
    block: Mapped[int] = mapped_column(Integer, index=True)  # ix_watch_txs_block (0006)
    block_hash: Mapped[str] = mapped_column(String(66))
    block_time: Mapped[datetime]
    kind: Mapped[str] = mapped_column(String(20))  # approved | unauthorized | outflow | counted
    state: Mapped[str] = mapped_column(String(20), default="pending")
    contracts: Mapped[list[str]] = mapped_column(JSON, default=list)
    events: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    incident_id: Mapped[int | None] = mapped_column(Integer)
    mitigation_id: Mapped[int | None] = mapped_column(Integer)
    seen_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (UniqueConstraint("tx_hash"),)


class WatchTransfer(Base):
    """An ERC-20 transfer out of a watched vault (the value as a decimal string: uint256).
    A rule's window sums its token and vault's rows (lowercase addresses)."""

    __tablename__ = "watch_transfers"

    id: Mapped[int] = mapped_column(primary_key=True)
    rule: Mapped[int] = mapped_column(Integer)  # its index in [[watch.outflows]] then
    token: Mapped[str] = mapped_column(String(42))
    vault: Mapped[str] = mapped_column(String(42))
    tx_hash: Mapped[str] = mapped_column(String(66))
    log_index: Mapped[int] = mapped_column(Integer)
    value: Mapped[str] = mapped_column(String(80))
    block_time: Mapped[datetime]
    removed: Mapped[bool] = mapped_column(Boolean, default=False)

    __table_args__ = (
        UniqueConstraint("tx_hash", "log_index"),
        Index("ix_watch_transfers_pair", "token", "vault", "block_time"),
    )
