"""The P1 fix's rows (bot/mitigate/): the hotfix branch of an incident and the deployments of
it the bot has seen, with their queries (each taking the session)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from storage.models import Base, Incident
from storage.types import utcnow


class FixBranch(Base):
    """The hotfix branch made for one incident (one per incident, one incident per name)."""

    __tablename__ = "fix_branches"

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(
        ForeignKey("incidents.id", ondelete="CASCADE"), unique=True
    )
    repository: Mapped[str] = mapped_column(String(200))  # owner/repo
    name: Mapped[str] = mapped_column(String(200))
    base: Mapped[str] = mapped_column(String(200))
    sha: Mapped[str] = mapped_column(String(64))  # the base's head when the branch was made
    url: Mapped[str] = mapped_column(Text)
    created_by: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (Index("ix_fix_branches_name", "repository", "name"),)


class FixDeployment(Base):
    """A deployment status of the fix the bot acted on (posted, recorded), once each.

    ``status_id`` is GitHub's deployment status id (None for one recorded by hand), so
    the webhook and the polling never act twice on the same report."""

    __tablename__ = "fix_deployments"

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"))
    deployment_id: Mapped[int | None]
    status_id: Mapped[int | None] = mapped_column(unique=True)
    sha: Mapped[str | None] = mapped_column(String(64))
    environment: Mapped[str] = mapped_column(String(100))
    state: Mapped[str] = mapped_column(String(20))
    url: Mapped[str | None] = mapped_column(Text)
    via: Mapped[str] = mapped_column(String(12))  # poll | webhook | hand
    actor_id: Mapped[str | None] = mapped_column(String(32))
    at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (Index("ix_fix_deployments_sha", "sha"),)


async def branch_of(session: AsyncSession, incident_id: int) -> FixBranch | None:
    return await session.scalar(select(FixBranch).where(FixBranch.incident_id == incident_id))


async def branch_named(session: AsyncSession, repository: str, name: str) -> FixBranch | None:
    return await session.scalar(
        select(FixBranch).where(FixBranch.repository == repository, FixBranch.name == name)
    )


async def add_branch(session: AsyncSession, branch: FixBranch) -> FixBranch:
    session.add(branch)
    await session.flush()
    return branch


async def seen_status(session: AsyncSession, status_id: int) -> bool:
    found = await session.scalar(
        select(FixDeployment.id).where(FixDeployment.status_id == status_id)
    )
    return found is not None


async def add_deployment(session: AsyncSession, row: FixDeployment) -> FixDeployment:
    session.add(row)
    await session.flush()
    return row


async def deployed_shas(session: AsyncSession, incident_id: int) -> set[str]:
    """The commits of the incident's fix seen deployed (any environment)."""
    rows = await session.scalars(
        select(FixDeployment.sha).where(
            FixDeployment.incident_id == incident_id, FixDeployment.sha.is_not(None)
        )
    )
    return {sha for sha in rows if sha}


async def deployments_of(session: AsyncSession, incident_id: int) -> list[FixDeployment]:
    rows = await session.scalars(
        select(FixDeployment)
        .where(FixDeployment.incident_id == incident_id)
        .order_by(FixDeployment.id)
    )
    return list(rows)


async def incident_of_ref(
    session: AsyncSession, repository: str, ref: str, sha: str
) -> Incident | None:
    """The incident whose hotfix branch is ``ref``, or whose fix was deployed at ``sha``."""
    branch = await branch_named(session, repository, ref.removeprefix("refs/heads/"))
    if branch is None and sha:
        incident_id = await session.scalar(
            select(FixDeployment.incident_id).where(FixDeployment.sha == sha).limit(1)
        )
        if incident_id is None:
            return None
        return await session.get(Incident, incident_id)
    if branch is None:
        return None
    return await session.get(Incident, branch.incident_id, populate_existing=True)


async def final_deployments(session: AsyncSession, incident_id: int) -> set[int]:
    """Deployments of the incident's fix already acted on as succeeded or failed."""
    rows = await session.scalars(
        select(FixDeployment.deployment_id).where(
            FixDeployment.incident_id == incident_id,
            FixDeployment.deployment_id.is_not(None),
            FixDeployment.state.in_(("success", "failure", "error")),
        )
    )
    return {int(d) for d in rows if d is not None}
