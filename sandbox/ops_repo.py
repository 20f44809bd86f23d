"""The ops repository: a bare git repo seeded with the on-call rotation, made with real ``git``."""

from __future__ import annotations

import asyncio
import os
import subprocess
import tempfile
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROTATION_PATH = "runbooks/on-call-rotation.md"
HAND_OVER_HOUR = 9
WEEKS_BEFORE = 4
WEEKS_AFTER = 12


def rotation_markdown(oncall: Sequence[str], start: datetime) -> str:
    """Weekly shifts (Monday 09:00 UTC hand-over) from 4 weeks before ``start`` to 12 after.

    Shift ``i`` has ``oncall[i % n]`` as primary and the next person as secondary.
    """
    if len(oncall) < 2:
        raise ValueError("a rotation needs at least two on-call people")
    start = start.astimezone(UTC)
    first = (start - timedelta(weeks=WEEKS_BEFORE)).replace(
        hour=HAND_OVER_HOUR, minute=0, second=0, microsecond=0
    )
    first -= timedelta(days=first.weekday())
    if first > start - timedelta(weeks=WEEKS_BEFORE):
        first -= timedelta(weeks=1)
    end = start + timedelta(weeks=WEEKS_AFTER)
    lines = [
        "# On-call rotation",
        "",
        "Time zone: UTC. Hand-over at 09:00.",
        "",
        "| Start | End | Primary | Secondary |",
        "|---|---|---|---|",
    ]
    shift = first
    index = 0
    while shift < end:
        following = shift + timedelta(weeks=1)
        primary = oncall[index % len(oncall)]
        secondary = oncall[(index + 1) % len(oncall)]
        lines.append(f"| {_stamp(shift)} | {_stamp(following)} | @{primary} | @{secondary} |")
        shift = following
        index += 1
    return "\n".join(lines) + "\n"


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M+00:00")


def _git(*args: str, cwd: Path | None = None) -> str:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "Atrium Sandbox",
        "GIT_AUTHOR_EMAIL": "sandbox@atrium.invalid",
        "GIT_COMMITTER_NAME": "Atrium Sandbox",
        "GIT_COMMITTER_EMAIL": "sandbox@atrium.invalid",
        "GIT_TERMINAL_PROMPT": "0",
    }
    result = subprocess.run(
        ["git", "-c", "commit.gpgsign=false", "-c", "init.defaultBranch=main", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)} failed: {result.stderr.strip()}")
    return result.stdout


def create_ops_repo(path: Path, files: dict[str, str]) -> Path:
    """A bare repo at ``path`` whose ``main`` has one commit with ``files``; kept if it exists."""
    if (path / "HEAD").exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    _git("init", "--bare", "--initial-branch=main", str(path))
    with tempfile.TemporaryDirectory(prefix="ops-seed-") as work:
        work_dir = Path(work)
        _git("init", "--initial-branch=main", cwd=work_dir)
        for name, text in files.items():
            target = work_dir / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
        _git("add", "--all", cwd=work_dir)
        _git("commit", "--quiet", "-m", "Seed the ops repository", cwd=work_dir)
        _git("push", "--quiet", str(path), "main:main", cwd=work_dir)
    return path


async def create_ops_repo_async(path: Path, files: dict[str, str]) -> Path:
    return await asyncio.to_thread(create_ops_repo, path, files)
