"""The ops repository, through real git: clone or fast-forward a local checkout."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from bot.errors import ExternalServiceError

log = logging.getLogger(__name__)


async def git(*args: str, cwd: Path | None = None) -> str:
    process = await asyncio.create_subprocess_exec(
        "git",
        *args,
        cwd=cwd,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={"GIT_TERMINAL_PROMPT": "0", "PATH": "/usr/local/bin:/usr/bin:/bin"},
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
