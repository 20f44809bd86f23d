"""The hotfix's deployments, followed: what the deploy tool reports through GitHub Deployments
(polled, and pushed by the ``deployment_status`` webhook, deploy_hook.py) or a person
records by hand (``/mitigate deployed url:``).

Each status is acted on once (its id is unique in ``fix_deployments``): a preview ready is
posted ("Fix deployed to preview"), a failure at once, a production success recorded as
"Fix deployed to production" with the commander asked whether service is restored. The row,
the timeline event and the post's outbox row commit together; the post follows.

Polling is a durable timer per incident: every ``[fix] poll_every`` while the incident is
open, waiting for the reset when GitHub's ``x-ratelimit-remaining`` falls to
``rate_limit_reserve``; an outage or a used-up limit backs off (Backoff), and the channel
hears of it once until GitHub answers again.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from bot.adapters.github import Deployment, DeploymentStatus, GitHubError, GitHubUnavailable
from bot.adapters.notices import ChannelNotices
from bot.communicate.base import Deps
from bot.core.backoff import Backoff
from bot.core.text import in_code, safe_url
from bot.errors import Conflict, UserError
from bot.mitigate.fix_config import FixConfig
from bot.mitigate.fix_rules import Report, report_of
from bot.mitigate.hotfix import POLL, Hotfixes, Post, quietly
from bot.triage.lifecycle import is_open
from storage import fixes as queries
from storage import incidents as incident_queries
from storage.fixes import FixBranch, FixDeployment
from storage.models import Incident, Timer

log = logging.getLogger(__name__)

KINDS = {
    Report.PREVIEW_READY: "fix_preview",
    Report.PRODUCTION_READY: "fix_production",
    Report.FAILED: "fix_deploy_failed",
}


class Deployments:
    def __init__(
        self, deps: Deps, fix: FixConfig, notices: ChannelNotices, hotfixes: Hotfixes
    ) -> None:
        self.d, self.fix, self.notices, self.hotfixes = deps, fix, notices, hotfixes
        self.backoff = Backoff(initial=fix.retry_initial, cap=fix.retry_max)
        deps.timers.register(POLL, self.on_poll)

    def report(self, environment: str, state: str) -> Report:
        return report_of(
            environment, state, self.fix.preview_environment, self.fix.production_environment
        )

    # -- acting on one status ----------------------------------------------------------------
    async def observe(
        self, incident_id: int, deployment: Deployment, status: DeploymentStatus, via: str
    ) -> bool:
        """Record and post one deployment status of the fix; False if seen before or moot."""
        entry_id = await self.record_status(incident_id, deployment, status, via)
        if entry_id is None:
            return False
        await quietly(self.notices.deliver(entry_id))
        return True

    async def record_status(
        self, incident_id: int, deployment: Deployment, status: DeploymentStatus, via: str
    ) -> int | None:
        """Record one status (row, timeline, the post's outbox row); the post's entry id, or
        None when it was seen before or means nothing for the channel."""
        report = self.report(deployment.environment, status.state)
        if report is Report.NOTHING:
            return None
        row = FixDeployment(
            incident_id=incident_id,
            deployment_id=deployment.id,
            status_id=status.id,
            sha=deployment.sha,
            environment=deployment.environment[:100],
            state=status.state[:20],
            url=safe_url(status.environment_url),
            via=via,
            at=self.d.clock.now(),
        )
        return await self._record(incident_id, row, report, None, f"deploy:{status.id}")

    async def by_hand(self, incident: Incident, user_id: str, url: str) -> str:
        """``/mitigate deployed url:``: a production promotion nothing reported."""
        link = safe_url(url)
        if link is None:
            raise UserError(
                "`url` must be the production URL the fix is live at, a plain `https://…` address."
            )
        if not is_open(incident.status):
            raise Conflict("This incident is resolved: record deploys while it is open.")
        row = FixDeployment(
            incident_id=incident.id,
            environment=self.fix.production_environment[:100],
            state="success",
            url=link,
            via="hand",
            actor_id=user_id,
            at=self.d.clock.now(),
        )
        at = int(self.d.clock.now().timestamp() * 1000)
        key = f"hand:{incident.id}:{at}"
        entry_id = await self._record(incident.id, row, Report.PRODUCTION_READY, user_id, key)
        if entry_id is not None:
            await quietly(self.notices.deliver(entry_id))
        return link

    async def _record(
        self, incident_id: int, row: FixDeployment, report: Report, actor: str | None, key: str
    ) -> int | None:
        async with self.d.changing(incident_id) as session:
            if row.status_id is not None and await queries.seen_status(session, row.status_id):
                return None
            incident = await incident_queries.get(session, incident_id)
            if incident is None or incident.channel_id is None:
                return None
            await queries.add_deployment(session, row)
            text, title = self._words(row, report, incident, actor)
            self.d.record(
                session,
                incident,
                KINDS[report],
                title + (f": {row.url}" if row.url else ""),
                actor,
                {"environment": row.environment, "sha": row.sha, "url": row.url, "via": row.via},
            )
            mention = incident.commander_id if report is Report.PRODUCTION_READY else None
            post = Post(
                key, incident_id, incident.channel_id, text, title, row.url or title, mention
            )
            return (await post.add(self.notices, session)).id

    def _words(
        self, row: FixDeployment, report: Report, incident: Incident, actor: str | None
    ) -> tuple[str, str]:
        """(the channel's message, the timeline's title) for one status."""
        where = f" {row.url}" if row.url else ""
        commit = f", commit `{row.sha[:7]}`" if row.sha else ""
        env = in_code(row.environment)
        if report is Report.PREVIEW_READY:
            ui = f" in the deploy UI: {self.fix.deploy_ui_url}" if self.fix.deploy_ui_url else ""
            return (
                f"🔎 **Fix deployed to preview**:{where} (`{env}`{commit}). Check the fix "
                f"there, then promote it to production{ui}.",
                "Fix deployed to preview",
            )
        if report is Report.FAILED:
            return (
                f"❌ **Deploy failed**: the `{env}` deploy{commit} ended `{in_code(row.state)}`."
                f"{where} Read its log, fix and push again.",
                f"Deploy failed ({row.environment})",
            )
        asker = f" (recorded by <@{actor}>)" if actor else ""
        who = f"<@{incident.commander_id}>" if incident.commander_id else "Commander"
        return (
            f"✅ **Fix deployed to production**{asker}:{where}{commit}. {who}, is service "
            "restored? If it is, `/incident resolve`; if not, say here what is still broken.",
            "Fix deployed to production",
        )

    # -- polling -----------------------------------------------------------------------------
    async def on_poll(self, timer: Timer) -> None:
        incident_id = timer.incident_id
        assert incident_id is not None
        async with self.d.sessions() as session:
            incident = await incident_queries.get(session, incident_id)
            branch = await queries.branch_of(session, incident_id)
        github = self.d.github
        if incident is None or not is_open(incident.status) or branch is None or github is None:
            return  # resolved: the deploys are no longer the incident's
        await quietly(self.notices.deliver_pending(incident_id))  # Discord's outage, before
        fails, told = int(timer.payload.get("fails", 0)), bool(timer.payload.get("told"))
        now = self.d.clock.now()
        limit = github.rate_limit
        if (
            limit is not None
            and limit.remaining <= self.fix.rate_limit_reserve
            and limit.reset_at > now
        ):
            await self._again(incident_id, limit.reset_at + timedelta(seconds=1), fails, told)
            return
        try:
            found = await self._look(incident_id, branch)
        except GitHubError as error:
            fails += 1
            if not told and incident.channel_id is not None:
                await Post(
                    f"poll-failing:{incident_id}:{timer.id}",
                    incident_id,
                    incident.channel_id,
                    f"⚠️ GitHub does not answer the bot ({error}). It keeps looking for the "
                    "hotfix's deploys, with backoff, and posts them here when GitHub answers.",
                    "Deploys not followed for now",
                    str(error),
                ).post(self.notices)
            due = now + self.backoff.delay(fails)
            if isinstance(error, GitHubUnavailable) and error.retry_at is not None:
                due = max(due, error.retry_at)
            await self._again(incident_id, due, fails, True)
            return
        for deployment, status in found:
            await self.observe(incident_id, deployment, status, "poll")
        await self._again(incident_id, now + self.fix.poll_every, 0, False)

    async def _again(self, incident_id: int, due: datetime, fails: int, told: bool) -> None:
        payload: dict[str, Any] = {"fails": fails, "told": told}
        async with self.d.sessions.begin() as session:
            self.d.timers.schedule(session, POLL, due, incident_id, payload)

    async def _look(
        self, incident_id: int, branch: FixBranch
    ) -> list[tuple[Deployment, DeploymentStatus]]:
        """The newest status of each deployment of the fix: the branch's own (previews), and
        production deployments of a commit of the branch."""
        github = self.d.github
        assert github is not None
        own = await github.deployments(ref=branch.name)
        async with self.d.sessions() as session:
            shas = await queries.deployed_shas(session, incident_id)
            done = await queries.final_deployments(session, incident_id)
        shas |= {d.sha for d in own}
        head = await github.branch_sha(branch.name)
        if head != branch.sha:  # the branch has commits of its own: the fix
            shas.add(head)
        production = await github.deployments(environment=self.fix.production_environment)
        ids = {d.id for d in own}
        candidates = own + [d for d in production if d.sha in shas and d.id not in ids]
        found = []
        for deployment in candidates:
            if deployment.id in done:
                continue
            statuses = await github.deployment_statuses(deployment.id)
            if statuses:
                found.append((deployment, statuses[0]))
        return found
