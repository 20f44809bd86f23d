"""Queries of held-back declarations ("Declare anyway"), each taking the session."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import DeclarationDraft


async def add(session: AsyncSession, draft: DeclarationDraft) -> DeclarationDraft:
    session.add(draft)
    await session.flush()
    return draft


async def get(session: AsyncSession, draft_id: int) -> DeclarationDraft | None:
    return await session.get(DeclarationDraft, draft_id)
