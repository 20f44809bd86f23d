"""Queries of the Mitigate phase's tables (storage/mitigate_models.py), each taking the session."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.mitigate_models import (
    Mitigation,
    MitigationConfirmation,
    Signer,
    SignerChallenge,
    SignerEvent,
)
from storage.models import Incident


# -- signers ---------------------------------------------------------------------------------
async def signers(session: AsyncSession, guild_id: str) -> list[Signer]:
    query = select(Signer).where(Signer.guild_id == guild_id).order_by(Signer.bound_at, Signer.id)
    return list(await session.scalars(query))


async def signer_of_member(session: AsyncSession, guild_id: str, member_id: str) -> Signer | None:
    return await session.scalar(
        select(Signer).where(Signer.guild_id == guild_id, Signer.member_id == member_id)
    )


async def signer_of_address(session: AsyncSession, guild_id: str, address: str) -> Signer | None:
    return await session.scalar(
        select(Signer).where(Signer.guild_id == guild_id, Signer.address == address)
    )


async def remove_signer(session: AsyncSession, guild_id: str, member_id: str) -> int:
    result = await session.execute(
        delete(Signer).where(Signer.guild_id == guild_id, Signer.member_id == member_id)
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def latest_challenge(
    session: AsyncSession, guild_id: str, member_id: str
) -> SignerChallenge | None:
    return await session.scalar(
        select(SignerChallenge)
        .where(SignerChallenge.guild_id == guild_id, SignerChallenge.member_id == member_id)
        .order_by(SignerChallenge.id.desc())
        .limit(1)
    )


async def open_challenges(
    session: AsyncSession, guild_id: str, member_id: str, now: datetime
) -> list[SignerChallenge]:
    query = select(SignerChallenge).where(
        SignerChallenge.guild_id == guild_id,
        SignerChallenge.member_id == member_id,
        SignerChallenge.used_at.is_(None),
        SignerChallenge.expires_at > now,
    )
    return list(await session.scalars(query.order_by(SignerChallenge.id.desc())))


def add_signer_event(
    session: AsyncSession,
    guild_id: str,
    member_id: str,
    actor_id: str,
    kind: str,
    text: str,
    at: datetime,
) -> SignerEvent:
    event = SignerEvent(
        guild_id=guild_id, member_id=member_id, actor_id=actor_id, kind=kind, text=text, at=at
    )
    session.add(event)
    return event


async def signer_events(session: AsyncSession, guild_id: str) -> list[SignerEvent]:
    query = select(SignerEvent).where(SignerEvent.guild_id == guild_id).order_by(SignerEvent.id)
    return list(await session.scalars(query))


# -- mitigations -----------------------------------------------------------------------------
async def mitigation(session: AsyncSession, mitigation_id: int) -> Mitigation | None:
    return await session.get(Mitigation, mitigation_id, populate_existing=True)


async def mitigation_by_message(session: AsyncSession, message_id: str) -> Mitigation | None:
    return await session.scalar(select(Mitigation).where(Mitigation.message_id == message_id))


async def mitigations_of(
    session: AsyncSession, incident_id: int, states: Iterable[str] | None = None
) -> list[Mitigation]:
    query = select(Mitigation).where(Mitigation.incident_id == incident_id)
    if states is not None:
        query = query.where(Mitigation.state.in_(list(states)))
    return list(await session.scalars(query.order_by(Mitigation.id)))


async def unrecorded_proposals_in(session: AsyncSession, channel_id: str) -> bool:
    """Whether an open mitigation of the channel's incident has no message id stored yet."""
    query = (
        select(Mitigation.id)
        .join(Incident, Incident.id == Mitigation.incident_id)
        .where(
            Incident.channel_id == channel_id,
            Mitigation.message_id.is_(None),
            Mitigation.state.in_(["proposed", "awaiting_confirm", "approved"]),
        )
        .limit(1)
    )
    return (await session.scalar(query)) is not None


async def open_reaction_proposals(session: AsyncSession) -> list[tuple[Mitigation, str]]:
    """Proposals counting ✅ reactions (shape a, no Safe) still waiting for them, their
    message posted; each with its incident's channel."""
    query = (
        select(Mitigation, Incident.channel_id)
        .join(Incident, Incident.id == Mitigation.incident_id)
        .where(
            Mitigation.state == "proposed",
            Mitigation.message_id.is_not(None),
            Incident.channel_id.is_not(None),
        )
        .order_by(Mitigation.id)
    )
    return [(row, str(channel)) for row, channel in await session.execute(query) if not row.safe_tx]


async def confirmations(
    session: AsyncSession, mitigation_id: int, via: str | None = None
) -> list[MitigationConfirmation]:
    query = select(MitigationConfirmation).where(
        MitigationConfirmation.mitigation_id == mitigation_id
    )
    if via is not None:
        query = query.where(MitigationConfirmation.via == via)
    return list(await session.scalars(query.order_by(MitigationConfirmation.id)))


async def incident(session: AsyncSession, incident_id: int) -> Incident | None:
    return await session.get(Incident, incident_id)


async def existing_incident(session: AsyncSession, incident_id: int) -> Incident:
    """The incident a mitigation belongs to (its row cascades, so it exists)."""
    incident = await session.get(Incident, incident_id)
    if incident is None:
        raise LookupError(f"no incident {incident_id}")
    return incident
