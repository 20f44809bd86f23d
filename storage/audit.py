"""Refusals, one row each: who tried what, where, and the reason they were told.

Every refused command, button or reaction lands here (bot/core/permissions.py
``record_refusal``), whichever phase refused it, so "who tried to resolve this at 3 a.m."
has one answer. Phases that also note a refusal in the incident's timeline keep doing so.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String, Text, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from storage.models import Base, Incident
from storage.types import utcnow


class Refusal(Base):
    __tablename__ = "audit"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    user_id: Mapped[str] = mapped_column(String(32))
    action: Mapped[str] = mapped_column(String(100))  # `/incident resolve`, `✅ reaction`…
    reason: Mapped[str] = mapped_column(Text)  # what the member was told
    channel_id: Mapped[str | None] = mapped_column(String(32))
    incident_id: Mapped[int | None] = mapped_column(Integer)


async def add_refusal(
    session: AsyncSession,
    at: datetime,
    user_id: str,
    action: str,
    reason: str,
    channel_id: str | None,
) -> Refusal:
    incident_id = None
    if channel_id is not None:
        incident_id = await session.scalar(
            select(Incident.id).where(Incident.channel_id == channel_id)
        )
    row = Refusal(
        at=at,
        user_id=user_id,
        action=action[:100],
        reason=reason[:2000],
        channel_id=channel_id,
        incident_id=incident_id,
    )
    session.add(row)
    return row


async def refusals(session: AsyncSession) -> list[Refusal]:
    return list(await session.scalars(select(Refusal).order_by(Refusal.id)))
