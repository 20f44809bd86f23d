"""`incident-bot sandbox --demo` plays a whole P0 to its last line at full speed, as a person
would run it: a subprocess, its terminal read line by line, then stopped with SIGTERM."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from pathlib import Path

import pytest

from sandbox.chain import NodeTools
from sandbox.demo import DONE_LINE

BOUND_S = 400.0  # a bound on a hung demo (60 s a step at most), not a speed requirement

pytestmark = pytest.mark.skipif(
    NodeTools().missing() is not None, reason="the demo needs anvil (make node)"
)


async def test_the_demo_plays_a_p0_to_its_last_line_and_leaves_the_world_up(tmp_path: Path):
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot.cli",
        "sandbox",
        "--demo",
        "--demo-speed",
        "0",
        "--port",
        "0",
        "--data-dir",
        str(tmp_path / "sandbox"),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    lines: list[str] = []
    try:
        assert process.stdout is not None

        async def read() -> None:
            while line := (await process.stdout.readline()).decode():
                lines.append(line.rstrip("\n"))
                if line.startswith("demo: done") or line.startswith("demo: stopped"):
                    return

        await asyncio.wait_for(read(), BOUND_S)
        assert lines[-1] == DONE_LINE, "\n".join(lines)
        steps = [line for line in lines if line.startswith("demo: [")]
        assert len(steps) == 13 and steps[-1].startswith("demo: [13/13] Closed")
        assert any("on X" in s for s in steps) and any("paused()" in s for s in steps)
        assert process.returncode is None  # the world stays up to explore
    finally:
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signal.SIGTERM)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(process.wait(), 30)
        if process.returncode is None:
            process.kill()
            await process.wait()
