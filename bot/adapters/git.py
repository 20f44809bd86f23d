"""The ops repository, through real git: clone or fast-forward a local checkout."""

from __future__ import annotations

import asyncio
import logging
import os
from pathlib import Path

from bot.errors import ExternalServiceError

log = logging.getLogger(__name__)


async def git(*args: str, cwd: Path | None = None) -> str:
    # The caller's environment (HOME, SSH_AUTH_SOCK for ssh remotes), never a prompt.
    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0"}
    process = await asyncio.create_subprocess_exec(
        "git",
        *args,
        cwd=cwd,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )
    out, err = await process.communicate()
    if process.returncode != 0:
        raise ExternalServiceError(f"git {args[0]} failed: {err.decode(errors='replace').strip()}")
    return out.decode()


async def ensure_checkout(url: str | None, checkout: Path, branch: str) -> None:
    """Clone ``url`` into ``checkout`` the first time, fast-forward it afterwards."""
    if url is None:
        return
    if not (checkout / ".git").exists():
        checkout.parent.mkdir(parents=True, exist_ok=True)
        await git("clone", "--quiet", "--branch", branch, url, str(checkout))
        return
    try:
        await git("pull", "--quiet", "--ff-only", "origin", branch, cwd=checkout)
    except ExternalServiceError as error:
        log.warning("ops repository not updated, using the checkout as it is: %s", error)


class OpsRepoSync:
    """Fast-forwards the ops checkout every ``every`` so a pushed rotation change is seen."""

    def __init__(self, url: str | None, checkout: Path, branch: str, every: float) -> None:
        self._url, self._checkout, self._branch, self._every = url, checkout, branch, every
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        if self._url is not None and self._task is None:
            self._task = asyncio.create_task(self._loop(), name="ops-repo-sync")

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self._every)
            try:
                await ensure_checkout(self._url, self._checkout, self._branch)
            except ExternalServiceError as error:
                log.warning("ops repository not updated: %s", error)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
