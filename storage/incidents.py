"""Queries of incidents and their pages, each taking the session (see bot/triage/)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Incident, Page, RotationOverride


async def get(session: AsyncSession, incident_id: int) -> Incident | None:
    return await session.get(Incident, incident_id)


async def by_channel(session: AsyncSession, channel_id: str) -> Incident | None:
    return await session.scalar(select(Incident).where(Incident.channel_id == channel_id))


async def by_kickoff(session: AsyncSession, channel_id: str, message_id: str) -> Incident | None:
    return await session.scalar(
        select(Incident).where(
            Incident.channel_id == channel_id, Incident.kickoff_message_id == message_id
        )
    )


async def by_request_key(session: AsyncSession, request_key: str) -> Incident | None:
    return await session.scalar(select(Incident).where(Incident.request_key == request_key))


async def in_states(session: AsyncSession, states: Iterable[str]) -> list[Incident]:
    return list(
        await session.scalars(
            select(Incident)
            .where(Incident.status.in_([str(s) for s in states]))
            .order_by(Incident.declared_at, Incident.id)
        )
    )


async def titles_in_states(
    session: AsyncSession, states: Iterable[str]
) -> list[tuple[int, str, str | None]]:
    """(id, title, request key) of the incidents in ``states``, oldest first: what the
    duplicate check reads on the way to a declaration's ping, without whole rows."""
    rows = await session.execute(
        select(Incident.id, Incident.title, Incident.request_key)
        .where(Incident.status.in_([str(s) for s in states]))
        .order_by(Incident.declared_at, Incident.id)
    )
    return [(row[0], row[1], row[2]) for row in rows.all()]


async def paged_users(session: AsyncSession, incident_id: int) -> frozenset[str]:
    """Everyone paged for the incident (the commander's ping counts, level 0)."""
    rows = await session.scalars(
        select(Page.target_id).where(Page.incident_id == incident_id, Page.target_kind == "user")
    )
    return frozenset(rows)


async def highest_page(session: AsyncSession, incident_id: int) -> tuple[int, datetime | None]:
    """The highest escalation level paged so far (0: only the commander) and when."""
    level = await session.scalar(
        select(func.max(Page.level)).where(Page.incident_id == incident_id)
    )
    if level is None:
        return 0, None
    at = await session.scalar(
        select(func.max(Page.at)).where(Page.incident_id == incident_id, Page.level == level)
    )
    return int(level), at


async def page_at_level(session: AsyncSession, incident_id: int, level: int) -> Page | None:
    return await session.scalar(
        select(Page)
        .where(Page.incident_id == incident_id, Page.level == level)
        .order_by(Page.id)
        .limit(1)
    )


async def set_page_state(
    session: AsyncSession, page_id: int, state: str, message_id: str | None = None
) -> None:
    values: dict[str, object] = {"state": state}
    if message_id is not None:
        values["message_id"] = message_id
    await session.execute(update(Page).where(Page.id == page_id).values(**values))


async def rotation_overrides(session: AsyncSession) -> list[RotationOverride]:
    """Every `/oncall override`, oldest first (a later one wins where they overlap)."""
    rows = await session.scalars(
        select(RotationOverride).order_by(RotationOverride.created_at, RotationOverride.id)
    )
    return list(rows)
