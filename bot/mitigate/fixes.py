"""The P1–P3 fix put together (the hotfix branch, its deployments, the ticket) as the cog and
the composition root see it: one call per command, all of them thin."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from bot.adapters.github import GitHubClient
from bot.communicate.base import Deps
from bot.mitigate.deploy_hook import DeployWebhook
from bot.mitigate.deployments import Deployments
from bot.mitigate.hotfix import GitHubBusy, Hotfixes
from bot.mitigate.ticket import Ticket, Tickets

if TYPE_CHECKING:
    from bot.adapters.notices import ChannelNotices
    from bot.communicate import CommsService
    from bot.settings import Settings


def product_client(settings: Settings) -> GitHubClient | None:
    """The product repository's client: ``[fix] owner/repo``, else ``[github]``'s."""
    github, fix = settings.config.github, settings.config.fix
    token = settings.secrets.github_token
    owner, repo = fix.owner or github.owner, fix.repo or github.repo
    if token is None or not owner or not repo:
        return None
    return GitHubClient(
        github.api_base,
        token.get_secret_value(),
        owner,
        repo,
        github.api_version,
        github.request_timeout.total_seconds(),
    )


class FixService:
    def __init__(self, settings: Settings, comms: CommsService, notices: ChannelNotices) -> None:
        fix = settings.config.fix
        self.github = product_client(settings)
        # The comms phase's dependencies, with the product repository's client.
        deps: Deps = replace(comms.deps, github=self.github)
        self.deps = deps
        self.hotfixes = Hotfixes(deps, fix, notices, settings.config.github.api_base)
        self.deployments = Deployments(deps, fix, notices, self.hotfixes)
        self.tickets = Tickets(comms.deps, fix, comms.github_issues)
        secrets = [s.get_secret_value() for s in settings.secrets.github_webhook_secrets]
        self.webhook = DeployWebhook(lambda: secrets, self.deployments, self.hotfixes.repository)

    # Each command's answer, posted in the incident channel for everyone.
    async def hotfix(self, channel_id: str, user_id: str) -> str:
        incident = await self.deps.incidents.in_channel(channel_id)
        try:
            made = await self.hotfixes.create(incident, user_id)
        except GitHubBusy as error:
            return (
                f"⚠️ GitHub is unavailable ({error}), so there is no hotfix branch yet. The bot "
                "retries with backoff and posts the branch here once it is made."
            )
        return self.hotfixes.message(made)

    async def deployed(self, channel_id: str, user_id: str, url: str) -> str:
        incident = await self.deps.incidents.in_channel(channel_id)
        link = await self.deployments.by_hand(incident, user_id, url)
        return f"Recorded: the fix is live in production at {link}."

    async def ticket(self, channel_id: str, user_id: str) -> str:
        incident = await self.deps.incidents.in_channel(channel_id)
        found: Ticket = await self.tickets.request(incident, user_id)
        if found.number is None:
            return "📋 Opening this incident's GitHub ticket; its link is posted here when it is."
        return f"📋 This incident's ticket is [#{found.number}]({found.url})."

    async def stop(self) -> None:
        await self.webhook.stop()
        if self.github is not None:
            await self.github.close()
