"""Declaring a title that is already open: hold the declaration back and say where.

``/incident declare`` with the title of an open incident (the rule:
``rules.is_duplicate_title``, the same normalised title) creates nothing: no channel, no
#ops-alerts card, no page. The declaration is kept as a row (``DeclarationDraft``) and
the person is shown the open incident's channel and a "Declare anyway" button naming
that row, so the button works after a restart too; pressing it declares the draft once
(its request key is the draft's).

Incidents opened by alerts do not come here: alert groups have their own dedup.
The check and the insert of the new incident's row happen in one transaction under one
lock, so two people declaring the same title at once get one incident and one "already
open".
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from bot.errors import NotFound
from bot.triage.lifecycle import OPEN_STATES, Status
from bot.triage.rules import is_duplicate_title
from storage import declaration_drafts as drafts
from storage import incidents as queries
from storage.models import DeclarationDraft, Incident

DUPLICATES_KEY = "triage:duplicate-titles"  # held from the check to the new row's insert


def draft_request_key(draft_id: int) -> str:
    return f"draft:{draft_id}"


@dataclass(frozen=True)
class Duplicate:
    """Nothing was declared: ``open_incident`` has the same title; ``draft_id`` is what
    "Declare anyway" declares."""

    open_incident: Incident
    draft_id: int


async def open_duplicate(
    session: AsyncSession, title: str, request_key: str | None
) -> Incident | None:
    """The open (or opening) incident ``title`` would duplicate, if any. A retry of the
    request that declared it is no duplicate: it finds its own incident."""
    for incident_id, open_title, key in await queries.titles_in_states(
        session, (*OPEN_STATES, Status.OPENING)
    ):
        if request_key is not None and key == request_key:
            return None
        if is_duplicate_title(title, open_title):
            return await session.get(Incident, incident_id)
    return None


async def hold_back(
    session: AsyncSession,
    title: str,
    severity: str,
    summary: str | None,
    actor_id: str | None,
    request_key: str | None,
) -> Duplicate | None:
    """In ``session``'s transaction: a Duplicate (with its draft saved) or None."""
    match = await open_duplicate(session, title, request_key)
    if match is None:
        return None
    draft = await drafts.add(
        session,
        DeclarationDraft(
            title=title,
            severity=severity,
            summary=summary,
            declared_by=actor_id,
            matched_incident_id=match.id,
        ),
    )
    return Duplicate(match, draft.id)


async def load_draft(session: AsyncSession, draft_id: int) -> DeclarationDraft:
    draft = await drafts.get(session, draft_id)
    if draft is None:
        raise NotFound(
            "That held-back declaration is gone; declare again with `/incident declare`."
        )
    return draft
