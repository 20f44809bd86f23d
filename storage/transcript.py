"""Queries of incident transcripts (bot/postmortem/transcript.py keeps them), each taking
the session. A message is stored once, by its snowflake: storing it again (a backfill
after a restart, an edit) updates the one row."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import TranscriptMessage


@dataclass(frozen=True)
class Captured:
    """A message as Discord gave it, ready to store (plain values, no discord.py)."""

    message_id: int
    incident_id: int
    channel_id: str
    thread_id: str | None
    author_id: str
    author_name: str
    is_bot: bool
    content: str
    attachments: tuple[str, ...]
    created_at: datetime
    edited_at: datetime | None


def _row(message: Captured) -> dict[str, Any]:
    return {
        "message_id": message.message_id,
        "incident_id": message.incident_id,
        "channel_id": message.channel_id,
        "thread_id": message.thread_id,
        "author_id": message.author_id,
        "author_name": message.author_name[:100],
        "is_bot": message.is_bot,
        "content": message.content,
        "attachments": list(message.attachments),
        "created_at": message.created_at,
        "edited_at": message.edited_at,
    }


async def store(session: AsyncSession, messages: Sequence[Captured]) -> None:
    """Insert each message, or update its text and edit time if it is already kept.

    An older copy never overwrites a newer edit: a backfill that reads a message edited
    since keeps whichever version was edited last.
    """
    if not messages:
        return
    # An upsert is each engine's own construct (the same ON CONFLICT on both).
    postgres = session.get_bind().dialect.name == "postgresql"
    insert = postgresql.insert if postgres else sqlite.insert
    statement = insert(TranscriptMessage).values([_row(m) for m in messages])
    excluded = statement.excluded
    statement = statement.on_conflict_do_update(
        index_elements=[TranscriptMessage.message_id],
        set_={
            "content": excluded.content,
            "attachments": excluded.attachments,
            "edited_at": excluded.edited_at,
            "author_name": excluded.author_name,
        },
        where=(
            TranscriptMessage.edited_at.is_(None)
            | (
                excluded.edited_at.is_not(None)
                & (excluded.edited_at >= TranscriptMessage.edited_at)
            )
        ),
    )
    await session.execute(statement)


async def edit(session: AsyncSession, message_id: int, content: str, edited_at: datetime) -> bool:
    """The message's new text; False when it is not in any transcript."""
    result = await session.execute(
        update(TranscriptMessage)
        .where(TranscriptMessage.message_id == message_id)
        .values(content=content, edited_at=edited_at)
    )
    return bool(getattr(result, "rowcount", 0))


async def delete(session: AsyncSession, message_ids: Sequence[int], at: datetime) -> int:
    """Mark messages deleted (their text stays for the postmortem's record)."""
    result = await session.execute(
        update(TranscriptMessage)
        .where(
            TranscriptMessage.message_id.in_(list(message_ids)),
            TranscriptMessage.deleted_at.is_(None),
        )
        .values(deleted_at=at)
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def get(session: AsyncSession, message_id: int) -> TranscriptMessage | None:
    return await session.scalar(
        select(TranscriptMessage).where(TranscriptMessage.message_id == message_id)
    )


async def newest_id(
    session: AsyncSession, channel_id: str, thread_id: str | None, below: int | None = None
) -> int | None:
    """The newest kept message of the channel (or of one of its threads): where a backfill
    starts reading. ``below``: only messages older than that snowflake (the gap's start)."""
    query = select(func.max(TranscriptMessage.message_id)).where(
        TranscriptMessage.channel_id == channel_id
    )
    if below is not None:
        query = query.where(TranscriptMessage.message_id < below)
    if thread_id is None:
        query = query.where(TranscriptMessage.thread_id.is_(None))
    else:
        query = query.where(TranscriptMessage.thread_id == thread_id)
    return await session.scalar(query)


async def of_incident(session: AsyncSession, incident_id: int) -> list[TranscriptMessage]:
    """Every kept message of the incident, oldest first (threads interleaved by time)."""
    return list(
        await session.scalars(
            select(TranscriptMessage)
            .where(TranscriptMessage.incident_id == incident_id)
            .order_by(TranscriptMessage.created_at, TranscriptMessage.message_id)
        )
    )


async def count(session: AsyncSession, incident_id: int) -> int:
    return int(
        await session.scalar(
            select(func.count())
            .select_from(TranscriptMessage)
            .where(TranscriptMessage.incident_id == incident_id)
        )
        or 0
    )


async def authors(session: AsyncSession, incident_id: int) -> list[tuple[str, str, int]]:
    """(author id, name, messages) of everyone but bots who wrote in the incident,
    by who wrote first."""
    rows = await session.execute(
        select(
            TranscriptMessage.author_id,
            func.max(TranscriptMessage.author_name),
            func.count(),
        )
        .where(
            TranscriptMessage.incident_id == incident_id,
            TranscriptMessage.is_bot.is_(False),
        )
        .group_by(TranscriptMessage.author_id)
        .order_by(func.min(TranscriptMessage.message_id))
    )
    return [(str(a), str(n), int(c)) for a, n, c in rows]
