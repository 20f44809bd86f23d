"""Failover (issue 16): kill -9 of the active replica → the standby's first Discord action.

One sandbox world and one throw-away PostgreSQL cluster (tests/pg/cluster.py); two
``incident-bot run`` processes on it. Each drill kills the active replica with
SIGKILL and measures, on the world's clock, the time to the first REST request the
bot makes after the kill: only the standby is alive then, so that request is its
first Discord action as the new holder. Then a fresh standby is started for the next
drill. Target: the lease's expiry plus 5 s (p95 over 10 drills).
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp

from bench.procs import REPO, percentile, stop, wait_for_line
from bot.sandbox_run import free_port
from sandbox.control_client import Control

HOST = "127.0.0.1"
LEASE_TTL = 5.0
RENEW_EVERY = 1.0
OVERLAY = f"""
[replica]
lease_ttl = "{LEASE_TTL}s"
renew_every = "{RENEW_EVERY}s"

[storage]
database_url = "{{url}}"
"""


def _spawn(*args: str, **env: str) -> subprocess.Popen:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("INCIDENT_BOT_")}
    return subprocess.Popen(
        [sys.executable, "-m", "bot.cli", *args],
        cwd=REPO,
        env={**clean, **env},
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def _drain(process: subprocess.Popen) -> None:
    def read() -> None:
        for _ in iter(process.stdout.readline, ""):
            pass

    threading.Thread(target=read, daemon=True).start()


async def _health(port: int) -> dict[str, Any] | None:
    try:
        async with (
            aiohttp.ClientSession() as http,
            http.get(f"http://{HOST}:{port}/healthz") as response,
        ):
            return await response.json(content_type=None)
    except aiohttp.ClientError:
        return None


async def _until(probe: Any, timeout: float, what: str) -> Any:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        found = await probe()
        if found:
            return found
        await asyncio.sleep(0.05)
    raise TimeoutError(f"waited {timeout} s for {what}")


async def drills(root: Path, count: int) -> dict[str, Any]:
    from tests.pg.cluster import PASSWORD, start_cluster

    cluster = start_cluster()
    world = None
    replicas: dict[str, tuple[subprocess.Popen, int]] = {}
    try:
        cluster.create_database("failover")
        (root / "overlay.toml").write_text(OVERLAY.format(url=cluster.url("failover")))
        port, config = free_port(HOST), root / "bot.toml"
        world = _spawn(
            *("sandbox", "--world-only", "--config-out", str(config)),
            *("--config", str(root / "overlay.toml"), "--port", str(port)),
            *("--data-dir", str(root / "data")),
        )
        await wait_for_line(world, "sandbox world at")
        _drain(world)
        secret = {"INCIDENT_BOT_DATABASE_PASSWORD": PASSWORD}
        serial = 0

        def start_replica() -> str:
            nonlocal serial
            name, webhook = f"replica-{serial}", free_port(HOST)
            serial += 1
            process = _spawn(
                "run",
                "--config",
                str(config),
                INCIDENT_BOT_REPLICA_NAME=name,
                INCIDENT_BOT_WEBHOOK_PORT=str(webhook),
                **secret,
            )
            _drain(process)
            replicas[name] = (process, webhook)
            return name

        async def role(name: str, wanted: str) -> bool:
            health = await _health(replicas[name][1])
            if health is None:
                return False
            if wanted == "standby":
                return health.get("status") == "standby"
            return health.get("gateway") == "connected"

        active = start_replica()
        await _until(lambda: role(active, "active"), 60, "the first replica to connect")
        seconds: list[float] = []
        async with Control(f"http://{HOST}:{port}") as control:
            for _ in range(count):
                standby = start_replica()
                await _until(lambda: role(standby, "standby"), 60, "the standby")  # noqa: B023
                killed_at = datetime.now(UTC)
                killed = replicas.pop(active)[0]
                os.killpg(killed.pid, signal.SIGKILL)  # no clean release of the lease
                killed.wait(timeout=10)
                since = killed_at.isoformat()

                async def first_action() -> datetime | None:
                    requests = await control.requests(since=since)  # noqa: B023
                    stamps = [datetime.fromisoformat(r["at"]) for r in requests]
                    return min(stamps) if stamps else None

                first = await _until(first_action, LEASE_TTL + 60, "the standby's first action")
                seconds.append((first - killed_at).total_seconds())
                await _until(lambda: role(standby, "active"), 60, "the standby to connect")  # noqa: B023
                active = standby
    finally:
        for process, _ in replicas.values():
            stop(process)
        if world is not None:
            stop(world)
        cluster.remove()
    return {
        "drills": count,
        "lease_ttl_s": LEASE_TTL,
        "renew_every_s": RENEW_EVERY,
        "failover_s": [round(s, 2) for s in seconds],  # each drill ("seconds" is the run's)
        "p50_s": round(percentile(seconds, 0.5), 2),
        "p95_s": round(percentile(seconds, 0.95), 2),
    }


async def run(quick: bool) -> dict:
    from tests.pg.cluster import NoPostgres

    with tempfile.TemporaryDirectory(prefix="bench-failover-") as tmp:
        try:
            result = await drills(Path(tmp), 3 if quick else 6)
        except NoPostgres as error:
            return {"skipped": str(error), "targets": [], "report": {"skipped": str(error)}}
    limit = LEASE_TTL + 5
    result["targets"] = [
        {
            "name": "failover kill -9 → standby's first Discord action, p95 (s)",
            "value": result["p95_s"],
            "limit": f"<= lease expiry + 5 s = {limit:g}",
            "ok": result["p95_s"] <= limit,
        }
    ]
    result["report"] = {
        "failover p50 / p95": f"{result['p50_s']} / {result['p95_s']} s over "
        f"{result['drills']} drills (lease_ttl {LEASE_TTL:g} s, renew_every {RENEW_EVERY:g} s)",
    }
    return result
