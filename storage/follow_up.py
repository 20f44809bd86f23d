"""The follow-up phase's tables (action items, the close-out record) and their queries,
each query taking the session (bot/follow_up/ applies them)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, String, Text, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from storage.models import Base, Incident, Timer
from storage.types import utcnow


class ActionItem(Base):
    """One action item of an incident: what, who, by when (a local date), and when done."""

    __tablename__ = "action_items"

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"))
    action: Mapped[str] = mapped_column(Text)
    owner_id: Mapped[str] = mapped_column(String(32))
    owner_name: Mapped[str] = mapped_column(String(100))
    due_on: Mapped[date] = mapped_column(Date)
    created_by: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    done_at: Mapped[datetime | None]
    done_by: Mapped[str | None] = mapped_column(String(32))


class CloseOut(Base):
    """What the close-out checklist asked and was answered, the close, and the archive."""

    __tablename__ = "follow_up_closeouts"

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(
        ForeignKey("incidents.id", ondelete="CASCADE"), unique=True
    )
    alert_rules_updated_by: Mapped[str | None] = mapped_column(String(32))
    runbooks: Mapped[str | None] = mapped_column(String(16))  # "updated" | "clear"
    runbooks_by: Mapped[str | None] = mapped_column(String(32))
    closed_at: Mapped[datetime | None]
    closed_by: Mapped[str | None] = mapped_column(String(32))
    override_reason: Mapped[str | None] = mapped_column(Text)
    archived_at: Mapped[datetime | None]
    archive_category_id: Mapped[str | None] = mapped_column(String(32))
    deleted_at: Mapped[datetime | None]


async def add_item(session: AsyncSession, item: ActionItem) -> ActionItem:
    session.add(item)
    await session.flush()
    return item


async def item(session: AsyncSession, item_id: int) -> ActionItem | None:
    return await session.get(ActionItem, item_id)


async def items_of(session: AsyncSession, incident_id: int) -> list[ActionItem]:
    return list(
        await session.scalars(
            select(ActionItem).where(ActionItem.incident_id == incident_id).order_by(ActionItem.id)
        )
    )


async def open_items(session: AsyncSession) -> list[tuple[ActionItem, Incident]]:
    """Every item not done yet, with its incident."""
    rows = await session.execute(
        select(ActionItem, Incident)
        .join(Incident, Incident.id == ActionItem.incident_id)
        .where(ActionItem.done_at.is_(None))
        .order_by(ActionItem.due_on, ActionItem.id)
    )
    return [(a, i) for a, i in rows]


async def every_item(session: AsyncSession) -> list[tuple[ActionItem, Incident]]:
    """Every item of every incident (the plan tracker), oldest incident first."""
    rows = await session.execute(
        select(ActionItem, Incident)
        .join(Incident, Incident.id == ActionItem.incident_id)
        .order_by(Incident.declared_at, Incident.id, ActionItem.id)
    )
    return [(a, i) for a, i in rows]


async def closeout_of(session: AsyncSession, incident_id: int) -> CloseOut:
    """The incident's close-out row, made empty the first time it is asked for."""
    row = await find_closeout(session, incident_id)
    if row is None:
        row = CloseOut(incident_id=incident_id)
        session.add(row)
        await session.flush()
    return row


async def find_closeout(session: AsyncSession, incident_id: int) -> CloseOut | None:
    return await session.scalar(select(CloseOut).where(CloseOut.incident_id == incident_id))


async def pending_timer(session: AsyncSession, kind: str) -> Timer | None:
    """The pending timer of ``kind`` that belongs to no incident (the weekly digest)."""
    return await session.scalar(
        select(Timer).where(
            Timer.kind == kind, Timer.state == "pending", Timer.incident_id.is_(None)
        )
    )


async def pending_item_timer(
    session: AsyncSession, kind: str, incident_id: int, item_id: int, payload_kind: str
) -> Timer | None:
    """A pending ``kind`` timer of the incident for action item ``item_id`` (the payload is
    JSON on either engine, so it is matched here rather than in SQL)."""
    rows = await session.scalars(
        select(Timer).where(
            Timer.kind == kind, Timer.state == "pending", Timer.incident_id == incident_id
        )
    )
    for timer in rows:
        if timer.payload.get("item") == item_id and timer.payload.get("kind") == payload_kind:
            return timer
    return None


async def closed_not_deleted(session: AsyncSession) -> list[tuple[CloseOut, Incident]]:
    """Closed incidents whose channel is not deleted yet (the archive sweep's work)."""
    rows = await session.execute(
        select(CloseOut, Incident)
        .join(Incident, Incident.id == CloseOut.incident_id)
        .where(CloseOut.closed_at.is_not(None), CloseOut.deleted_at.is_(None))
        .order_by(CloseOut.closed_at)
    )
    return [(c, i) for c, i in rows]


async def incidents_since(session: AsyncSession, since: datetime) -> list[Incident]:
    """Incidents declared at or after ``since`` (failed openings left out), oldest first."""
    return list(
        await session.scalars(
            select(Incident)
            .where(Incident.declared_at >= since, Incident.status.not_in(["failed", "opening"]))
            .order_by(Incident.declared_at)
        )
    )
