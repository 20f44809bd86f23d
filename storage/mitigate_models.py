"""The Mitigate phase's tables: bound signers, their challenges, and emergency actions
(their proposals and the confirmations they collect). Ids are plain strings."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from storage.models import Base
from storage.types import utcnow


class Signer(Base):
    """A member bound to an address by an EIP-191 signature over a challenge."""

    __tablename__ = "signers"

    id: Mapped[int] = mapped_column(primary_key=True)
    guild_id: Mapped[str] = mapped_column(String(32))
    member_id: Mapped[str] = mapped_column(String(32))
    address: Mapped[str] = mapped_column(String(42))
    chain_id: Mapped[int] = mapped_column(Integer)
    bound_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (
        UniqueConstraint("guild_id", "member_id"),
        UniqueConstraint("guild_id", "address"),
    )


class SignerChallenge(Base):
    """A single-use challenge: the text a member signs to bind ``address``."""

    __tablename__ = "signer_challenges"

    id: Mapped[int] = mapped_column(primary_key=True)
    nonce: Mapped[str] = mapped_column(String(64), unique=True)
    guild_id: Mapped[str] = mapped_column(String(32))
    member_id: Mapped[str] = mapped_column(String(32), index=True)
    address: Mapped[str] = mapped_column(String(42))
    chain_id: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]


class SignerEvent(Base):
    """The registry's audit trail: bindings, removals, and every refused attempt."""

    __tablename__ = "signer_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    guild_id: Mapped[str] = mapped_column(String(32))
    member_id: Mapped[str] = mapped_column(String(32))
    actor_id: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(40))
    text: Mapped[str] = mapped_column(Text)


class Mitigation(Base):
    """One emergency action for an incident (bot/mitigate/rules.py has its state table)."""

    __tablename__ = "mitigations"

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"))
    action: Mapped[str] = mapped_column(String(40))
    state: Mapped[str] = mapped_column(String(20), index=True)
    target: Mapped[str] = mapped_column(String(42))
    function: Mapped[str] = mapped_column(String(200))
    args: Mapped[list[Any]] = mapped_column(JSON, default=list)
    calldata: Mapped[str] = mapped_column(Text)
    account: Mapped[str | None] = mapped_column(String(42))  # the kill switch's address
    threshold: Mapped[int] = mapped_column(Integer)
    proposed_by: Mapped[str] = mapped_column(String(32))
    proposed_at: Mapped[datetime] = mapped_column(default=utcnow)
    deadline: Mapped[datetime]
    message_id: Mapped[str | None] = mapped_column(String(32))
    approved_at: Mapped[datetime | None]
    start_block: Mapped[int] = mapped_column(Integer, default=0)
    scanned_to: Mapped[int] = mapped_column(Integer, default=0)  # the watch's cursor
    applied_at: Mapped[datetime | None]
    applied_tx: Mapped[str | None] = mapped_column(String(66))
    applied_block: Mapped[int | None]
    ended_by: Mapped[str | None] = mapped_column(String(32))
    last_error: Mapped[str | None] = mapped_column(Text)
    effect: Mapped[dict[str, Any]] = mapped_column(default=dict)  # the resolved effect check
    # Shape (b): the Safe transaction owners sign ({safe, nonce, hash, typed_data, owners});
    # empty for shape (a) and the kill switch.
    safe_tx: Mapped[dict[str, Any]] = mapped_column(default=dict)


class MitigationConfirmation(Base):
    """A bound signer's ✅ (``via`` reaction), their transaction seen on-chain (``chain``), or
    a Safe owner's EIP-712 signature of the proposal's Safe transaction (``safe``)."""

    __tablename__ = "mitigation_confirmations"

    id: Mapped[int] = mapped_column(primary_key=True)
    mitigation_id: Mapped[int] = mapped_column(ForeignKey("mitigations.id", ondelete="CASCADE"))
    via: Mapped[str] = mapped_column(String(10))
    member_id: Mapped[str | None] = mapped_column(String(32))
    address: Mapped[str] = mapped_column(String(42))
    tx_hash: Mapped[str | None] = mapped_column(String(66))
    block: Mapped[int | None]
    signature: Mapped[str | None] = mapped_column(String(132))  # a Safe owner's EIP-712 one
    at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (UniqueConstraint("mitigation_id", "via", "address"),)
