"""``/mitigate hotfix`` (P1): the incident's hotfix branch, made once from the base branch's sha.

An outbox entry per incident (``hotfix_branch``) guards the effect: the row first, then the
branch. The name is the procedure's ``hotfix/incident-YYYY-MM-DD`` (the incident's local
date), ``-2``, ``-3``… when GitHub already has it (422) or another incident took it. Made,
it is a row (storage/fixes.py) and a timeline event, and the deployments of it are followed
from then on (deployments.py). GitHub unavailable: a durable timer retries with backoff and
the channel hears once; refused (no repository, no base branch, no push rights): the
command says why and nothing is recorded.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from bot.adapters.github import GitHubRejected, GitHubUnavailable
from bot.adapters.notices import ChannelNotices
from bot.communicate.base import Deps
from bot.core.backoff import Backoff
from bot.core.outbox import EffectState, Refused, Retry
from bot.errors import Conflict, ExternalServiceError, UserError
from bot.mitigate.fix_config import FixConfig
from bot.mitigate.fix_rules import NOT_CONFIGURED, branch_names, branch_url
from bot.triage.lifecycle import is_open
from storage import fixes as queries
from storage import incidents as incident_queries
from storage import outbox as outbox_queries
from storage.fixes import FixBranch
from storage.models import Incident, OutboxEntry, Timer

log = logging.getLogger(__name__)

HOTFIX_EFFECT = "hotfix_branch"  # outbox kind
BRANCH_RETRY = "fix_branch_retry"  # timer kinds
POLL = "fix_deploy_poll"
MAX_TRIES = 8


@dataclass(frozen=True)
class Hotfix:
    name: str
    url: str
    base: str
    sha: str
    created: bool  # False: the incident had it already

    @classmethod
    def of(cls, row: FixBranch, created: bool) -> Hotfix:
        return cls(row.name, row.url, row.base, row.sha, created)


@dataclass(frozen=True)
class Post:
    """A message the fix's work posts in the incident channel, once (bot/adapters/notices.py)."""

    key: str  # what it reports: one post per key
    incident_id: int
    channel_id: str
    content: str
    title: str  # the embed's
    detail: str
    mention: str | None = None  # a user pinged by it (the commander asked a question)

    async def add(self, notices: ChannelNotices, session: Any) -> OutboxEntry:
        """Its notice in ``session``'s transaction (deliver it after the commit)."""
        key = f"fix-post:{self.key}"
        return await notices.add(session, key, self.channel_id, self.content, **self._notice())

    async def post(self, notices: ChannelNotices) -> None:
        """Add it (unless it was said already) and post it now; Discord unavailable, it
        stays pending and the deploy poll posts it (``deliver_pending``)."""
        key = f"fix-post:{self.key}"
        await quietly(notices.post(key, self.channel_id, self.content, **self._notice()))

    def _notice(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "description": self.detail[:4000],
            "label": f"incident #{self.incident_id} · {self.key}",
            "mention_users": (self.mention,) if self.mention else (),
            "incident_id": self.incident_id,
        }


async def quietly(delivering: Awaitable[object]) -> None:
    """A fix post delivered now if Discord takes it; else left pending for the poll."""
    try:
        await delivering
    except ExternalServiceError as error:
        log.warning("a fix post waits for Discord: %s", error)


class GitHubBusy(Exception):
    """GitHub is unavailable: the bot retries with backoff (a timer) and says so once."""


class Hotfixes:
    def __init__(self, deps: Deps, fix: FixConfig, notices: ChannelNotices, api_base: str) -> None:
        self.d, self.fix, self.notices = deps, fix, notices
        self.api_base = api_base
        self.retry = Backoff(initial=fix.retry_initial, cap=fix.retry_max)
        deps.timers.register(BRANCH_RETRY, self.on_retry)

    @property
    def repository(self) -> str:
        github = self.d.github
        return f"{github.owner}/{github.repo}" if github else ""

    async def branch(self, incident_id: int) -> FixBranch | None:
        async with self.d.sessions() as session:
            return await queries.branch_of(session, incident_id)

    async def create(self, incident: Incident, user_id: str) -> Hotfix:
        """The incident's branch: made now, or the one it has (UserError if it cannot be)."""
        if self.d.github is None:
            raise UserError(NOT_CONFIGURED)
        existing = await self.branch(incident.id)
        if existing is not None:
            return Hotfix.of(existing, created=False)
        if not is_open(incident.status):
            raise Conflict("This incident is resolved: a hotfix branch is made while it is open.")
        try:
            return await self._ensure(incident, user_id)
        except GitHubUnavailable as error:
            await self._schedule_retry(incident.id, user_id, 1, error)
            raise GitHubBusy(str(error)) from None

    async def _ensure(self, incident: Incident, user_id: str | None) -> Hotfix:
        key = f"hotfix_branch:{incident.id}"
        day = self.d.incidents.local_date(incident)
        async with self.d.changing(incident.id) as session:
            entry = await outbox_queries.by_key(session, key)
            if entry is None:
                entry = self.d.outbox.add(
                    session, HOTFIX_EFFECT, key, {"day": day.isoformat()}, incident.id
                )
                await session.flush()
            entry_id, state = entry.id, entry.state
            doubt_told = bool(entry.payload.get("doubt_told"))
            if state == EffectState.IN_DOUBT and not doubt_told:
                entry.payload = {**entry.payload, "doubt_told": True}
        if state == EffectState.SENDING:
            raise Conflict("The hotfix branch is being made right now; run this again in a moment.")
        if state == EffectState.IN_DOUBT and not doubt_told:
            # Never re-sent blindly: a person looks first, then asks again.
            raise Conflict(
                "The bot stopped while GitHub was making the hotfix branch, so whether it "
                f"exists is unknown: look for `{self.fix.branch_prefix}{day.isoformat()}…` on "
                "GitHub. Run `/mitigate hotfix` again to make one anyway."
            )
        if state in (EffectState.FAILED, EffectState.IN_DOUBT):
            # Asked again: the names GitHub has already are skipped, so this makes one branch.
            await self.d.outbox.release(entry_id)
        entry = await self.d.outbox.deliver(entry_id, self._make)
        if entry.state == EffectState.FAILED:
            raise UserError(f"No hotfix branch was made: {entry.last_error}")
        if entry.state == EffectState.PENDING:
            raise GitHubUnavailable(entry.last_error or "GitHub is unavailable")
        if entry.state != EffectState.DONE:
            raise Conflict("Whether the hotfix branch was made is unknown; look on GitHub.")
        return await self._record(incident.id, entry.result, user_id)

    async def _make(self, entry: OutboxEntry) -> Mapping[str, Any]:
        """The effect: the base's sha, then the first free name (GitHub's 422 means taken)."""
        github = self.d.github
        assert github is not None
        base, repository = self.fix.base_branch, self.repository
        try:
            try:
                sha = await github.branch_sha(base)
            except GitHubRejected as error:
                if error.status != 404:
                    raise
                if await github.can_push() is None:
                    raise Refused(
                        f"the repository {repository} does not exist, or the bot's token "
                        "cannot see it: check `[fix] owner` and `repo` (or `[github]`'s)"
                    ) from None
                raise Refused(
                    f"the base branch `{base}` does not exist in {repository}: check "
                    "`[fix] base_branch`"
                ) from None
            for name in branch_names(self.fix.branch_prefix, _day(entry)):
                async with self.d.sessions() as session:
                    if await queries.branch_named(session, repository, name) is not None:
                        continue
                try:
                    await github.create_ref(name, sha)
                except GitHubRejected as error:
                    if error.status == 422:  # the branch exists: the next name
                        continue
                    if error.status in (403, 404):
                        raise Refused(
                            f"the bot's token cannot push to {repository} ({error.status}): "
                            "give it Contents: read and write"
                        ) from None
                    raise
                return {"name": name, "sha": sha, "base": base}
            raise Refused(f"every hotfix branch name of {_day(entry)} is taken")
        except GitHubRejected as error:
            raise Refused(str(error)) from None
        except GitHubUnavailable as error:
            raise Retry(str(error)) from None

    async def _record(
        self, incident_id: int, result: Mapping[str, Any] | None, user_id: str | None
    ) -> Hotfix:
        assert result is not None
        name, sha, base = str(result["name"]), str(result["sha"]), str(result["base"])
        url = branch_url(self.api_base, self.repository, name)
        async with self.d.changing(incident_id) as session:
            existing = await queries.branch_of(session, incident_id)
            if existing is not None:
                return Hotfix.of(existing, created=False)
            incident = await incident_queries.get(session, incident_id)
            assert incident is not None
            await queries.add_branch(
                session,
                FixBranch(
                    incident_id=incident_id,
                    repository=self.repository,
                    name=name,
                    base=base,
                    sha=sha,
                    url=url,
                    created_by=user_id,
                    created_at=self.d.clock.now(),
                ),
            )
            self.d.record(
                session,
                incident,
                "hotfix_branch",
                f"Hotfix branch {name} created from {base} at {sha[:7]}: {url}",
                user_id,
                {"branch": name, "sha": sha, "base": base, "url": url},
            )
            self.d.timers.schedule(
                session, POLL, self.d.clock.now() + self.fix.poll_every, incident_id
            )
        return Hotfix(name, url, base, sha, created=True)

    # -- GitHub unavailable: a durable retry -------------------------------------------------
    async def _schedule_retry(
        self, incident_id: int, user_id: str | None, attempt: int, error: GitHubUnavailable
    ) -> None:
        wait = self.retry.delay(attempt)
        if error.retry_at is not None:
            wait = max(wait, error.retry_at - self.d.clock.now())
        async with self.d.sessions.begin() as session:
            self.d.timers.schedule(
                session,
                BRANCH_RETRY,
                self.d.clock.now() + max(wait, timedelta(0)),
                incident_id,
                {"user": user_id, "attempt": attempt},
            )

    async def on_retry(self, timer: Timer) -> None:
        incident_id = timer.incident_id
        assert incident_id is not None
        attempt = int(timer.payload.get("attempt", 1)) + 1
        user_id = timer.payload.get("user")
        async with self.d.sessions() as session:
            incident = await incident_queries.get(session, incident_id)
        if incident is None or not is_open(incident.status) or incident.channel_id is None:
            return
        if await self.branch(incident_id) is not None:
            return
        try:
            made = await self._ensure(incident, user_id)
        except GitHubUnavailable as error:
            if attempt >= MAX_TRIES:
                await self._tell(incident, f"gave-up:{timer.id}", f"GitHub still fails ({error})")
                return
            await self._schedule_retry(incident_id, user_id, attempt, error)
            return
        except UserError as error:
            await self._tell(incident, f"refused:{timer.id}", str(error))
            return
        await Post(
            f"hotfix:{incident_id}",
            incident_id,
            incident.channel_id,
            self.message(made),
            "Hotfix branch",
            made.url,
        ).post(self.notices)

    async def _tell(self, incident: Incident, key: str, why: str) -> None:
        assert incident.channel_id is not None
        await Post(
            f"hotfix-failed:{incident.id}:{key}",
            incident.id,
            incident.channel_id,
            f"⚠️ No hotfix branch was made: {why}. Make it by hand "
            f"(`git checkout -b {self.fix.branch_prefix}…`) or run `/mitigate hotfix` again.",
            "Hotfix branch not made",
            why,
        ).post(self.notices)

    def message(self, made: Hotfix) -> str:
        return self.d.renderer.render(
            "hotfix.md.j2", hotfix=made, fix=self.fix, repository=self.repository
        )


def _day(entry: OutboxEntry) -> date:
    return date.fromisoformat(str(entry.payload["day"]))
