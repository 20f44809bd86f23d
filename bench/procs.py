"""What the benchmarks share: child processes (world, bot, floor), percentiles, snowflake times."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

DISCORD_EPOCH_MS = 1420070400000
REPO = Path(__file__).resolve().parent.parent


def percentile(values: list[float], q: float) -> float:
    """The nearest-rank ``q`` quantile (0.95 for p95)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def snowflake_time(snowflake: str) -> datetime:
    """When Discord (here the world) made an id: interactions and messages carry their time."""
    return datetime.fromtimestamp(((int(snowflake) >> 22) + DISCORD_EPOCH_MS) / 1000, tz=UTC)


def spawn(
    *args: str, cwd: Path = REPO, env_extra: dict[str, str] | None = None
) -> subprocess.Popen:
    """``python ARGS`` in its own process group, without the caller's INCIDENT_BOT_* secrets
    (``env_extra``: those this child is given)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("INCIDENT_BOT_")}
    env.update(env_extra or {})
    return subprocess.Popen(
        [sys.executable, *args],
        cwd=cwd,
        env=env,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


async def wait_for_line(process: subprocess.Popen, needle: str, timeout: float = 60) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        line = await asyncio.to_thread(process.stdout.readline)
        if needle in line:
            return
        if not line and process.poll() is not None:
            break
    raise RuntimeError(f"{process.args} did not print {needle!r}")


def stop(process: subprocess.Popen) -> None:
    """SIGTERM the process group, SIGKILL it if it lingers."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=5)
