"""The ops repository, through real git: clone or fast-forward a local checkout."""

from __future__ import annotations

import asyncio
import base64
import logging
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from bot.errors import ExternalServiceError

log = logging.getLogger(__name__)


async def git(*args: str, cwd: Path | None = None, extra_env: dict[str, str] | None = None) -> str:
    # The caller's environment (HOME, SSH_AUTH_SOCK for ssh remotes), never a prompt.
    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", **(extra_env or {})}
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
        # Some refusals ("nothing to commit") are told on stdout only.
        said = err.decode(errors="replace").strip() or out.decode(errors="replace").strip()
        raise GitFailed(_subcommand(args), said or f"exit status {process.returncode}")
    return out.decode()


def _subcommand(args: tuple[str, ...]) -> str:
    """``commit`` of ``git -c user.name=… commit …``: what a failure message names."""
    rest = iter(args)
    for arg in rest:
        if arg in ("-c", "-C"):
            next(rest, None)
        elif not arg.startswith("-"):
            return arg
    return args[0] if args else "git"


class GitFailed(ExternalServiceError):
    def __init__(self, command: str, stderr: str) -> None:
        super().__init__(f"git {command} failed: {stderr}")
        self.command, self.stderr = command, stderr


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


# -- publishing a file (postmortems) --------------------------------------------------------
# What git says when the remote moved under a push.
_MOVED = ("[rejected]", "non-fast-forward", "fetch first", "cannot lock ref", "[remote rejected]")


class PushRejected(ExternalServiceError):
    """The remote refused the push twice (it moved again after the rebase)."""


@dataclass(frozen=True)
class Published:
    commit: str  # the commit on the remote branch that holds the file
    changed: bool  # False: the remote already had exactly this text (nothing committed)
    retried: bool  # the first push was rejected, rebased and pushed again


def token_env(token: str | None) -> dict[str, str]:
    """An HTTPS token as an Authorization header given through the environment: never in
    a URL, an argument list, the checkout's config or a log line."""
    if not token:
        return {}
    basic = base64.b64encode(f"x-access-token:{token}".encode()).decode()
    return {
        "GIT_CONFIG_COUNT": "1",
        "GIT_CONFIG_KEY_0": "http.extraHeader",
        "GIT_CONFIG_VALUE_0": f"Authorization: Basic {basic}",
    }


def _moved(error: GitFailed) -> bool:
    return any(marker in error.stderr for marker in _MOVED)


async def publish_file(
    url: str,
    checkout: Path,
    branch: str,
    path: str,
    text: str,
    message: str,
    author: tuple[str, str],
    token: str | None = None,
) -> Published:
    """Commit ``text`` as ``path`` on ``branch`` of ``url`` and push it (real git).

    The checkout is reset to the remote first. A push the remote rejects because it moved
    is rebased onto the remote and pushed once more; rejected again, it raises
    PushRejected and the checkout is put back to the remote's state (nothing half-done).
    """
    env = token_env(token)
    secret = [token] if token else []

    async def run(*args: str) -> str:
        try:
            return await git(*args, cwd=checkout, extra_env=env)
        except GitFailed as error:
            raise GitFailed(error.command, _scrub(error.stderr, secret)) from None

    if not (checkout / ".git").exists():
        checkout.parent.mkdir(parents=True, exist_ok=True)
        try:
            await git("clone", "--quiet", "--branch", branch, url, str(checkout), extra_env=env)
        except GitFailed as error:
            raise GitFailed("clone", _scrub(error.stderr, secret)) from None
    await run("fetch", "--quiet", "origin", branch)
    await run("checkout", "--quiet", "-B", branch, f"origin/{branch}")
    await run("reset", "--quiet", "--hard", f"origin/{branch}")
    target = checkout / path
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")
    await run("add", "--", path)
    if not (await run("status", "--porcelain", "--", path)).strip():
        return Published((await run("rev-parse", "HEAD")).strip(), False, False)
    name, email = author
    identity = (
        "-c",
        f"user.name={name}",
        "-c",
        f"user.email={email}",
        "-c",
        "commit.gpgsign=false",
    )
    await run(*identity, "commit", "--quiet", "-m", message)
    retried = False
    try:
        await run("push", "--quiet", "origin", f"HEAD:refs/heads/{branch}")
    except GitFailed as error:
        if not _moved(error):
            await _reset(run, branch, checkout)
            raise
        retried = True
        try:
            await run(*identity, "pull", "--quiet", "--rebase", "origin", branch)
            await run("push", "--quiet", "origin", f"HEAD:refs/heads/{branch}")
        except GitFailed as again:
            await _reset(run, branch, checkout)
            if _moved(again) or again.command == "pull":
                raise PushRejected(
                    "the ops repository moved again while publishing (rejected twice, once "
                    f"after a rebase): {again.stderr.splitlines()[-1] if again.stderr else again}"
                ) from None
            raise
    return Published((await run("rev-parse", "HEAD")).strip(), True, retried)


async def _reset(run: Callable[..., Awaitable[str]], branch: str, checkout: Path) -> None:
    """After a failed publication: no rebase left open, the checkout at the remote's state."""
    try:
        if (checkout / ".git" / "rebase-merge").exists() or (
            checkout / ".git" / "rebase-apply"
        ).exists():
            await run("rebase", "--abort")
        await run("fetch", "--quiet", "origin", branch)
        await run("reset", "--quiet", "--hard", f"origin/{branch}")
    except GitFailed as error:
        log.warning("the postmortem checkout could not be reset: %s", error)


def _scrub(text: str, secrets: list[str]) -> str:
    for secret in secrets:
        text = text.replace(secret, "***")
    return text
