"""Bot and world processes for the PostgreSQL tests: started, killed, spoken to over HTTP."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import aiohttp

REPO = Path(__file__).resolve().parents[2]
# Alice primary and Bob secondary, always (a config overlay's TOML).
ALWAYS_ON_CALL_TOML = """
[[rotation.shifts]]
start = "2020-01-01T00:00+00:00"
end = "2099-01-01T00:00+00:00"
primary = "@alice"
secondary = "@bob"
"""


def start(tmp_path: Path, *args: str, **env: str) -> subprocess.Popen[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("INCIDENT_BOT_")}
    log = (tmp_path / f"{env.get('INCIDENT_BOT_REPLICA_NAME', 'world')}.log").open("a")
    return subprocess.Popen(
        [sys.executable, "-m", "bot.cli", *args],
        cwd=tmp_path,
        env={**clean, "PYTHONPATH": str(REPO), **env},
        text=True,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def kill(process: subprocess.Popen[str], sig: int = signal.SIGTERM) -> None:
    if process.poll() is None:
        os.killpg(process.pid, sig)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=5)


async def get_json(url: str) -> tuple[int, Any]:
    async with aiohttp.ClientSession() as http, http.get(url) as response:
        return response.status, await response.json(content_type=None)


async def post_alert(base_url: str, token: str, number: int) -> int | str:
    trigger = {
        "routing_key": "R0UT1NGK3Y0000000000000000000000",
        "event_action": "trigger",
        "dedup_key": f"disk-full-db-{number}",
        "payload": {
            "summary": f"Disk full on db {number}",
            "source": f"db-{number}",
            "severity": "critical",
        },
    }
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{base_url}/alerts/generic", data=json.dumps(trigger), headers=headers) as r,
    ):
        return r.status if r.status == 202 else f"{r.status} {await r.text()}"
