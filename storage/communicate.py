"""Queries of the Communicate phase (bot/communicate/), each taking the session."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import and_, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import ExternalPost, Incident, ReactionRefusal, TimelineEvent, Timer


# -- incidents -------------------------------------------------------------------------------
async def incident(session: AsyncSession, incident_id: int) -> Incident | None:
    return await session.get(Incident, incident_id, populate_existing=True)


async def existing_incident(session: AsyncSession, incident_id: int) -> Incident:
    """The incident of a post or timer being worked on: its row is there (posts cascade)."""
    row = await incident(session, incident_id)
    if row is None:
        raise LookupError(f"incident {incident_id} has no row")
    return row


async def hold_incident(session: AsyncSession, incident_id: int) -> Incident | None:
    """The incident, read after taking the database's write lock in ``session``'s transaction.

    Comms schedules timers from what it reads (``open`` → a reminder). Reading first would
    race a resolution committed in between, whose timer cancellation never sees the new
    row. With the lock taken first, a concurrent change either committed before (and is
    read here) or waits for this commit (and its cancellation then covers our timers).
    """
    await session.execute(update(Incident).where(Incident.id == incident_id).values(id=Incident.id))
    return await session.get(Incident, incident_id, populate_existing=True)


async def incident_in_channel(session: AsyncSession, channel_id: str) -> Incident | None:
    return await session.scalar(select(Incident).where(Incident.channel_id == channel_id))


async def incidents_to_reconcile(
    session: AsyncSession, open_states: Iterable[str], resolved: str, since: datetime
) -> list[int]:
    """Open incidents, and those resolved since ``since`` (their posts may lag behind)."""
    rows = await session.scalars(
        select(Incident.id).where(
            or_(
                Incident.status.in_(list(open_states)),
                and_(Incident.status == resolved, Incident.resolved_at >= since),
            )
        )
    )
    return list(rows)


# -- timeline --------------------------------------------------------------------------------
async def latest_update(session: AsyncSession, incident_id: int) -> TimelineEvent | None:
    return await session.scalar(
        select(TimelineEvent)
        .where(TimelineEvent.incident_id == incident_id, TimelineEvent.kind == "update")
        .order_by(TimelineEvent.at.desc(), TimelineEvent.id.desc())
        .limit(1)
    )


async def post_events(session: AsyncSession, post: ExternalPost, kind: str) -> list[TimelineEvent]:
    """The post's timeline events of ``kind``, newest first."""
    rows = await session.scalars(
        select(TimelineEvent)
        .where(TimelineEvent.incident_id == post.incident_id, TimelineEvent.kind == kind)
        .order_by(TimelineEvent.id.desc())
    )
    return [e for e in rows if (e.data or {}).get("post_id") == post.id]


# -- timers ----------------------------------------------------------------------------------
async def has_pending_timer(
    session: AsyncSession, incident_id: int | None, kinds: Iterable[str], post_id: int | None = None
) -> bool:
    query = select(Timer).where(Timer.kind.in_(list(kinds)), Timer.state.in_(("pending", "firing")))
    if incident_id is not None:
        query = query.where(Timer.incident_id == incident_id)
    rows = list(await session.scalars(query))
    if post_id is not None:
        rows = [t for t in rows if t.payload.get("post_id") == post_id]
    return bool(rows)


# -- external posts --------------------------------------------------------------------------
async def post(session: AsyncSession, post_id: int) -> ExternalPost | None:
    return await session.get(ExternalPost, post_id, populate_existing=True)


async def post_of(session: AsyncSession, incident_id: int, purpose: str) -> ExternalPost | None:
    return await session.scalar(
        select(ExternalPost).where(
            ExternalPost.incident_id == incident_id, ExternalPost.purpose == purpose
        )
    )


async def posted_url(session: AsyncSession, incident_id: int, purpose: str) -> str | None:
    return await session.scalar(
        select(ExternalPost.url).where(
            ExternalPost.incident_id == incident_id,
            ExternalPost.purpose == purpose,
            ExternalPost.state == "posted",
        )
    )


async def post_by_approval_message(session: AsyncSession, message_id: str) -> ExternalPost | None:
    return await session.scalar(
        select(ExternalPost).where(ExternalPost.approval_message_id == message_id)
    )


async def posts_in_state(session: AsyncSession, *states: str) -> list[ExternalPost]:
    rows = await session.scalars(
        select(ExternalPost).where(ExternalPost.state.in_(states)).order_by(ExternalPost.id)
    )
    return list(rows)


async def posts_being_edited(session: AsyncSession) -> list[ExternalPost]:
    rows = await session.scalars(
        select(ExternalPost).where(ExternalPost.editing_since.is_not(None))
    )
    return list(rows)


async def update_post(
    session: AsyncSession, post_id: int, only_in: Iterable[str] | None = None, **values: Any
) -> bool:
    """Set ``values`` on the post (only while its state is one of ``only_in``); True if set."""
    query = update(ExternalPost).where(ExternalPost.id == post_id)
    if only_in is not None:
        query = query.where(ExternalPost.state.in_(list(only_in)))
    result = await session.execute(query.values(**values))
    return bool(getattr(result, "rowcount", 0))


# -- refused reactions -----------------------------------------------------------------------
async def note_refusal(session: AsyncSession, message_id: str, user_id: str, at: datetime) -> bool:
    """Remember that ``user_id`` was told about a refused reaction on ``message_id``;
    False if they had been told already."""
    known = await session.scalar(
        select(ReactionRefusal.id).where(
            ReactionRefusal.message_id == message_id, ReactionRefusal.user_id == user_id
        )
    )
    if known is not None:
        return False
    try:
        async with session.begin_nested():
            session.add(ReactionRefusal(message_id=message_id, user_id=user_id, at=at))
    except IntegrityError:  # told by a concurrent toggle a moment ago
        return False
    return True
