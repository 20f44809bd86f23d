"""Queries of the postmortem phase: what people wrote, the timeline, the alerts' start
times; each taking the session (bot/postmortem/ applies them)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import (
    Alert,
    AlertGroup,
    ExternalPost,
    Incident,
    PostmortemRecord,
    TimelineEvent,
    Timer,
)


async def record_of(session: AsyncSession, incident_id: int) -> PostmortemRecord:
    """The incident's postmortem row, made empty the first time it is asked for."""
    row = await session.scalar(
        select(PostmortemRecord).where(PostmortemRecord.incident_id == incident_id)
    )
    if row is None:
        row = PostmortemRecord(incident_id=incident_id, whys=[], lessons=[])
        session.add(row)
        await session.flush()
    return row


async def find_record(session: AsyncSession, incident_id: int) -> PostmortemRecord | None:
    return await session.scalar(
        select(PostmortemRecord).where(PostmortemRecord.incident_id == incident_id)
    )


async def hold_incident(session: AsyncSession, incident_id: int) -> Incident | None:
    return await session.get(Incident, incident_id)


async def timeline(session: AsyncSession, incident_id: int) -> list[TimelineEvent]:
    return list(
        await session.scalars(
            select(TimelineEvent)
            .where(TimelineEvent.incident_id == incident_id)
            .order_by(TimelineEvent.at, TimelineEvent.id)
        )
    )


async def marked(
    session: AsyncSession, incident_id: int, message_id: str, kind: str
) -> TimelineEvent | None:
    """The timeline entry that marks ``message_id`` as ``kind`` (a reaction's entry)."""
    return await session.scalar(
        select(TimelineEvent).where(
            TimelineEvent.incident_id == incident_id,
            TimelineEvent.message_id == message_id,
            TimelineEvent.kind == kind,
        )
    )


async def remove_event(session: AsyncSession, event_id: int) -> None:
    await session.execute(delete(TimelineEvent).where(TimelineEvent.id == event_id))


async def alert_starts(session: AsyncSession, incident_id: int) -> list[tuple[str, datetime]]:
    """(alert name, startsAt) of every alert of the incident's alert groups, earliest first."""
    rows = await session.execute(
        select(Alert.name, Alert.starts_at)
        .join(AlertGroup, AlertGroup.id == Alert.group_id)
        .where(AlertGroup.incident_id == incident_id, Alert.starts_at.is_not(None))
        .order_by(Alert.starts_at)
    )
    return [(str(name), at) for name, at in rows if at is not None]


async def alert_urls(session: AsyncSession, incident_id: int) -> list[str]:
    rows = await session.scalars(
        select(Alert.url)
        .join(AlertGroup, AlertGroup.id == Alert.group_id)
        .where(AlertGroup.incident_id == incident_id, Alert.url.is_not(None))
        .order_by(Alert.id)
    )
    return [str(url) for url in rows if url]


async def posted_urls(session: AsyncSession, incident_id: int) -> list[str]:
    """The public links of the incident's X posts, in order."""
    rows = await session.scalars(
        select(ExternalPost.url)
        .where(ExternalPost.incident_id == incident_id, ExternalPost.url.is_not(None))
        .order_by(ExternalPost.posted_at, ExternalPost.id)
    )
    return [str(url) for url in rows if url]


async def timers_due_after(
    session: AsyncSession, incident_id: int, kinds: list[str], after: datetime, by: datetime
) -> list[Timer]:
    """The incident's timers of ``kinds`` due from ``after`` to ``by``, not cancelled."""
    return list(
        await session.scalars(
            select(Timer).where(
                Timer.incident_id == incident_id,
                Timer.kind.in_(kinds),
                Timer.state != "cancelled",
                Timer.due_at >= after,
                Timer.due_at <= by,
            )
        )
    )


async def pending_timer_count(session: AsyncSession, incident_id: int, kinds: list[str]) -> int:
    return int(
        await session.scalar(
            select(func.count())
            .select_from(Timer)
            .where(
                Timer.incident_id == incident_id, Timer.state == "pending", Timer.kind.in_(kinds)
            )
        )
        or 0
    )


async def resolved_without_postmortem(session: AsyncSession) -> list[Incident]:
    """Resolved incidents whose postmortem is not published: the deadlines to keep."""
    return list(
        await session.scalars(
            select(Incident)
            .outerjoin(PostmortemRecord, PostmortemRecord.incident_id == Incident.id)
            .where(
                Incident.status == "resolved",
                Incident.resolved_at.is_not(None),
                PostmortemRecord.published_at.is_(None),
            )
            .order_by(Incident.id)
        )
    )
