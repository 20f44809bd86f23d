"""Starting and stopping everything the bot runs in one process."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence

from bot.client import PHASES, IncidentBot, configure_discord
from bot.gitops import ensure_checkout
from bot.settings import Settings


class BotRuntime:
    """The bot (and, as phases add them, its servers) inside the running event loop."""

    def __init__(self, settings: Settings, extensions: Sequence[str] = PHASES) -> None:
        self.settings = settings
        self.bot = IncidentBot(settings, extensions)
        self.finished: asyncio.Task[None]

    async def start(self) -> None:
        config = self.settings.config
        token = self.settings.secrets.discord_token
        if token is None:
            raise RuntimeError("no Discord token configured")
        configure_discord(self.settings)
        await ensure_checkout(
            config.ops_repo.url,
            self.settings.resolve(config.ops_repo.checkout),
            config.ops_repo.branch,
        )
        self.finished = asyncio.create_task(
            self.bot.start(token.get_secret_value()), name="discord"
        )

    async def wait_ready(self, timeout: float = 30) -> None:
        ready = asyncio.create_task(self.bot.ready_once.wait())
        done, _ = await asyncio.wait(
            {ready, self.finished}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
        )
        if ready not in done:
            ready.cancel()
            if self.finished in done:
                self.finished.result()  # raises what stopped the bot
            raise TimeoutError(f"the bot was not ready within {timeout} s")

    async def stop(self) -> None:
        await self.bot.close()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await asyncio.wait_for(self.finished, timeout=10)
