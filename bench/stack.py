"""What the alert bench, the other benches and the drills share: a world process and a bot
process on fresh files (``Stack``), the Alertmanager notification they send, bounded waits.

The world and the bot run as their own processes, as in production; this process is the
alert sender. All traffic goes to 127.0.0.1 and every wait is bounded.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sqlite3
import subprocess
import threading
import time
import tomllib
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
from sqlalchemy import URL

from bench.procs import spawn, stop, wait_for_line
from bot.sandbox_run import free_port
from sandbox.control_client import Control

REPO = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
OVERLAY = """
[[rotation.shifts]]
start = "2020-01-01T00:00+00:00"
end = "2099-01-01T00:00+00:00"
primary = "@alice"
secondary = "@bob"
"""


def notification(group: str, fingerprint: str, title: str, severity: str = "critical") -> bytes:
    labels = {"alertname": group, "severity": severity, "instance": fingerprint}
    return json.dumps(
        {
            "version": "4",
            "groupKey": f'{{}}:{{alertname="{group}"}}',
            "truncatedAlerts": 0,
            "status": "firing",
            "receiver": "incident-bot",
            "groupLabels": {"alertname": group},
            "commonLabels": {"alertname": group, "severity": severity},
            "commonAnnotations": {"summary": title},
            "externalURL": "http://alertmanager.bench.invalid",
            "alerts": [
                {
                    "status": "firing",
                    "labels": labels,
                    "annotations": {"summary": title},
                    "startsAt": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
                    "endsAt": "0001-01-01T00:00:00Z",
                    "generatorURL": "http://prometheus.bench.invalid/graph",
                    "fingerprint": fingerprint,
                }
            ],
        }
    ).encode()


# -- processes ---------------------------------------------------------------------------------
class Stack:
    """A world process and a bot process on fresh files; this process sends the alerts."""

    bot_log: Path | None = None  # where the bot's output goes (a subclass sets it); dropped

    def __init__(
        self,
        root: Path,
        overlay: str = "",
        database: URL | None = None,
        world_args: tuple[str, ...] = (),
    ) -> None:
        self.root = root
        self.world_args = world_args  # more options of the world's command (--chain-shape b)
        self.overlay = OVERLAY + overlay
        self.processes: list[subprocess.Popen] = []
        self.pg = database  # PostgreSQL (its URL with the password); None: the SQLite file
        self.env: dict[str, str] = {}
        if database is not None:
            bare = URL.create(
                database.drivername,
                username=database.username,
                host=database.host,
                port=database.port,
                database=database.database,
            )
            self.overlay += f'\n[storage]\ndatabase_url = "{bare.render_as_string()}"\n'
            self.env["INCIDENT_BOT_DATABASE_PASSWORD"] = str(database.password)

    async def __aenter__(self) -> Stack:
        port = free_port(HOST)
        (self.root / "overlay.toml").write_text(self.overlay)
        self.config = self.root / "bot.toml"
        world = self.spawn(
            "-m",
            "bot.cli",
            "sandbox",
            "--world-only",
            "--config-out",
            str(self.config),
            "--config",
            str(self.root / "overlay.toml"),
            "--port",
            str(port),
            "--data-dir",
            str(self.root / "data"),
            *self.world_args,
        )
        await wait_for_line(world, "sandbox world at")
        _drain(world)
        self.control = await Control(f"http://{HOST}:{port}").__aenter__()
        hook = (await self.control.world())["webhook"]
        self.webhook, self.token = hook["base_url"], hook["bearer_token"]
        config = tomllib.loads(self.config.read_text())
        self.database = Path(config["storage"]["database"])
        _drain(self.spawn("-m", "bot.cli", "run", "--config", str(self.config)), self.bot_log)
        self.http = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=256))
        await _until(self._connected, 60, "the bot's gateway")
        return self

    async def __aexit__(self, *_exc: object) -> None:
        with contextlib.suppress(Exception):
            await self.http.close()
        with contextlib.suppress(Exception):
            await self.control.__aexit__()
        for process in reversed(self.processes):
            stop(process)

    def spawn(self, *args: str) -> subprocess.Popen:
        process = spawn(*args, env_extra=self.env)
        self.processes.append(process)
        return process

    async def _connected(self) -> bool:
        try:
            health = await self.health()
        except aiohttp.ClientError:
            return False
        return health.get("gateway") == "connected" and health.get("worker") == "running"

    async def health(self) -> dict[str, Any]:
        async with self.http.get(f"{self.webhook}/healthz") as response:
            return await response.json()

    async def post(self, body: bytes) -> tuple[int, float]:
        started = time.perf_counter()
        async with self.http.post(
            f"{self.webhook}/alerts/alertmanager",
            data=body,
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {self.token}"},
        ) as response:
            await response.read()
            return response.status, time.perf_counter() - started

    def rows(self, query: str) -> list[tuple]:
        if self.pg is not None:
            from tests.pg.support import sql_rows

            return sql_rows(self.pg, query)
        with sqlite3.connect(self.database, timeout=30) as db:
            return db.execute(query).fetchall()

    async def settled(self, timeout: float) -> None:
        def quiet() -> bool:
            return not self.rows(
                "SELECT 1 FROM alert_notifications WHERE state = 'pending' UNION ALL "
                "SELECT 1 FROM alert_groups WHERE state = 'opening' UNION ALL "
                "SELECT 1 FROM alert_groups WHERE state = 'digest' AND digest_message_id IS NULL"
            )

        await _until(quiet, timeout, "the alert worker to settle")


def _drain(process: subprocess.Popen, to: Path | None = None) -> None:
    """Keep reading a child's output (in a thread), so a full pipe never blocks it; the
    lines go to the file ``to`` when given."""

    def read() -> None:
        with open(to or os.devnull, "w") as out:
            for line in iter(process.stdout.readline, ""):
                out.write(line)

    threading.Thread(target=read, daemon=True).start()


async def _until(probe: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = probe()
        if isinstance(result, Awaitable):
            result = await result
        if result:
            return result
        await asyncio.sleep(0.05)
    raise TimeoutError(f"waited {timeout} s for {what}")
