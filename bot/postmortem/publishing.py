"""``/postmortem publish``: the draft committed to ``incidents/`` in the ops repository and
pushed (real git), the commit recorded in the incident. Publishing again commits the same
file anew; a remote that moved is rebased onto once (bot/adapters/git.py). A remote that
does not answer fails the command (its author is told why and publishes again) and is
named ``ops_repo`` by /healthz until a push goes through (bot/core/outages.py)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.adapters.git import Published, publish_file
from bot.core.clock import Clock
from bot.core.locks import IncidentLocks
from bot.core.outages import Outages
from bot.core.permissions import Actor, allowed, describe
from bot.errors import ExternalServiceError, NotAllowed, UserError
from bot.postmortem.config import PostmortemConfig
from bot.postmortem.drafting import Draft
from bot.triage.lifecycle import record
from storage import postmortem as queries
from storage.models import Incident


@dataclass(frozen=True)
class Publication:
    path: str
    commit: str
    changed: bool
    retried: bool
    first: bool  # the first publication of this postmortem


class PublishService:
    def __init__(
        self,
        config: PostmortemConfig,
        sessions: async_sessionmaker[AsyncSession],
        clock: Clock,
        locks: IncidentLocks,
        url: str | None,
        checkout: Path,
        branch: str,
        token: str | None,
    ) -> None:
        self._config, self._sessions, self._clock, self._locks = config, sessions, clock, locks
        self._url, self._checkout, self._branch, self._token = url, checkout, branch, token
        self._git = asyncio.Lock()  # one checkout: one publication at a time
        self.outages = Outages()  # the composition root's (bot/services.py)

    def check_allowed(self, incident: Incident, actor: Actor) -> None:
        if not allowed(list(self._config.publish), actor, incident.commander_id):
            raise NotAllowed(
                f"Only {describe(list(self._config.publish))} may publish the postmortem."
            )

    async def publish(self, incident: Incident, draft: Draft, actor: Actor) -> Publication:
        self.check_allowed(incident, actor)
        if self._url is None:
            raise UserError(
                "No ops repository is configured (`[ops_repo] url`), so there is nowhere to "
                "publish; `/postmortem draft` gives you the file."
            )
        async with self._sessions() as session:
            before = await queries.find_record(session, incident.id)
        first = before is None or before.published_commit is None
        verb = "Add" if first else "Update"
        title = " ".join(incident.title.split())[:100]
        message = f"{verb} postmortem: {title} ({draft.path})"
        async with self._git:
            try:
                published: Published = await publish_file(
                    self._url,
                    self._checkout,
                    self._branch,
                    draft.path,
                    draft.text,
                    message,
                    (self._config.author_name, self._config.author_email),
                    self._token,
                )
            except ExternalServiceError as error:
                self.outages.down("ops_repo", str(error).splitlines()[0] if str(error) else "")
                raise
        self.outages.up("ops_repo")
        now = self._clock.now()
        async with self._locks.hold(incident.id), self._sessions.begin() as session:
            row = await queries.record_of(session, incident.id)
            row.published_commit = published.commit
            row.published_path = draft.path
            row.published_at = now
            row.published_by = actor.user_id
            held = await queries.hold_incident(session, incident.id)
            assert held is not None
            record(
                session,
                held,
                "postmortem_published",
                f"Postmortem {'published' if first else 'updated'}: {draft.path} at {published.commit[:12]}",
                actor.user_id,
                {"commit": published.commit, "path": draft.path, "changed": published.changed},
                at=now,
            )
        return Publication(
            draft.path, published.commit, published.changed, published.retried, first
        )


def render_publication(done: Publication) -> str:
    short = done.commit[:12]
    if not done.changed:
        return f"`{done.path}` is already published exactly as drafted (commit `{short}`); nothing new to commit."
    verb = "Published" if done.first else "Updated"
    note = " (the repository had moved: rebased and pushed again)" if done.retried else ""
    return f"{verb} `{done.path}` in the ops repository: commit `{short}`{note}."
