"""What the drills share: the bench's world + bot processes, plus killing and restarting the bot.

The bot is ``incident-bot run --config ...`` against ``incident-bot sandbox --world-only``
(bench/stack.py ``Stack``); here its output goes to ``bot-N.log`` in the drill's
folder, so a failed drill can be read afterwards.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from typing import Any

from bench.stack import Stack, _drain, _until

__all__ = ["Chaos", "Findings", "until"]

until = _until


class Findings:
    """What a drill tried, what it found, and the invariants it saw broken."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.tried: list[str] = []
        self.found: list[str] = []
        self.broken: list[str] = []
        self.figures: dict[str, Any] = {}
        self.not_run: str | None = None

    def tried_(self, what: str) -> None:
        self.tried.append(what)
        print(f"  [{self.name}] try: {what}", flush=True)

    def saw(self, what: str) -> None:
        self.found.append(what)
        print(f"  [{self.name}] found: {what}", flush=True)

    def check(self, ok: bool, invariant: str, detail: str = "") -> bool:
        """Record an invariant; a broken one is named (and makes the drill fail)."""
        if not ok:
            self.broken.append(f"{invariant}{f' ({detail})' if detail else ''}")
            print(f"  [{self.name}] BROKEN: {self.broken[-1]}", flush=True)
        return ok

    @property
    def status(self) -> str:
        if self.not_run:
            return "not run"
        return "FAILED" if self.broken else "passed"

    def result(self) -> dict[str, Any]:
        return {
            "drill": self.name,
            "status": self.status,
            "not_run_because": self.not_run,
            "tried": self.tried,
            "found": self.found,
            "broken": self.broken,
            "figures": self.figures,
        }


class Chaos(Stack):
    """The bench's stack whose bot can be killed with SIGKILL and started again."""

    async def __aenter__(self) -> Chaos:
        self.bot_log = self.root / "bot-1.log"
        await super().__aenter__()
        self.bot = self.processes[-1]
        self.starts = 1
        return self

    def kill_bot(self) -> None:
        """``kill -9`` the bot's process group: no shutdown code runs."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.bot.pid, signal.SIGKILL)
        self.bot.wait(timeout=10)

    async def start_bot(self, timeout: float = 60) -> None:
        """Start the bot again on the same files and wait until its gateway and worker run."""
        self.starts += 1
        self.bot = self.spawn("-m", "bot.cli", "run", "--config", str(self.config))
        _drain(self.bot, self.root / f"bot-{self.starts}.log")
        await until(self._connected, timeout, "the restarted bot's gateway and worker")

    async def ready_down(self, timeout: float = 30) -> None:
        """Until /healthz no longer answers (the killed bot's port is free)."""

        async def down() -> bool:
            try:
                await self.health()
            except Exception:
                return True
            return False

        await until(down, timeout, "the killed bot's /healthz to stop answering")

    async def health_any(self) -> dict[str, Any]:
        """/healthz's body, whatever its status (a 503 names the failing parts)."""
        async with self.http.get(f"{self.webhook}/healthz") as response:
            return await response.json(content_type=None)

    async def held(self, timeout: float = 30, count: int = 1) -> list[dict[str, Any]]:
        """Until ``count`` requests a hold fault stopped are waiting; those requests."""

        async def waiting() -> list[dict[str, Any]] | None:
            held = [h for h in await self.control.holds() if not h["released"]]
            return held if len(held) >= count else None

        return await until(waiting, timeout, "the held Discord request to arrive")

    async def incident_channels(self) -> list[dict[str, Any]]:
        prefix = "incident-"
        return [
            c
            for c in (await self.control.world(refresh=True))["channels"]
            if c["type"] == 0 and c["name"].startswith(prefix)
        ]

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)
