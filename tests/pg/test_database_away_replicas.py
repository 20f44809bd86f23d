"""The database going away under two replicas (``pg_ctl stop``, then ``start``).

Both ``incident-bot run`` processes stay up throughout; the active one steps down
once it cannot renew the lease; both webhooks answer 503 meanwhile (nothing is
acknowledged that was not stored); once the server is back one replica holds the
lease and works, and every alert accepted before and after ends in exactly one
incident. The lease is short (``[replica]``), so the outage in the test is too.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import aiohttp
from sqlalchemy import make_url

from bot.sandbox_run import free_port
from sandbox.control_client import Control
from tests.pg.cluster import PASSWORD, Cluster
from tests.pg.processes import ALWAYS_ON_CALL_TOML, get_json, kill, post_alert, start
from tests.pg.support import sql_rows

OVERLAY = (
    ALWAYS_ON_CALL_TOML
    + """
[alerts]
open_every = "100ms"

[replica]
lease_ttl = "3s"
renew_every = "500ms"

[storage]
database_url = "{url}"
"""
)
BEFORE, AFTER = 3, 3


async def _health(url: str) -> dict[str, Any] | None:
    try:
        _, body = await get_json(f"{url}/healthz")
    except aiohttp.ClientError:
        return None
    return body if isinstance(body, dict) else None


async def test_both_replicas_outlive_the_database_away_and_one_acts_once_it_is_back(
    tmp_path: Path, own_cluster: Cluster
) -> None:
    own_cluster.create_database("away")
    database = make_url(own_cluster.url_with_password("away"))
    (tmp_path / "overlay.toml").write_text(OVERLAY.format(url=own_cluster.url("away")))
    port = free_port("127.0.0.1")
    ports = {"alpha": free_port("127.0.0.1"), "beta": free_port("127.0.0.1")}
    urls = {name: f"http://127.0.0.1:{p}" for name, p in ports.items()}
    config = tmp_path / "bot.toml"
    world = start(
        tmp_path,
        *("sandbox", "--world-only", "--config-out", str(config)),
        *("--config", str(tmp_path / "overlay.toml"), "--port", str(port)),
        *("--data-dir", str(tmp_path / "data")),
    )
    replicas = {}
    try:
        async with Control(f"http://127.0.0.1:{port}") as control:
            await control.wait_for(lambda: config.exists() or None, timeout=30, what="the config")
            token = (await control.world(refresh=True))["webhook"]["bearer_token"]

            async def says(name: str, key: str, value: str) -> bool | None:
                body = await _health(urls[name])
                return True if body is not None and body.get(key) == value else None

            for name in ("alpha", "beta"):  # alpha first: it takes the lease
                replicas[name] = start(
                    tmp_path,
                    *("run", "--config", str(config)),
                    INCIDENT_BOT_REPLICA_NAME=name,
                    INCIDENT_BOT_WEBHOOK_PORT=str(ports[name]),
                    INCIDENT_BOT_DATABASE_PASSWORD=PASSWORD,
                )
                wanted = "connected" if name == "alpha" else "standby"
                await control.wait_for(
                    lambda n=name, w=wanted: says(n, "gateway", w), timeout=40, what=name
                )
            before = await asyncio.gather(
                *(post_alert(urls["alpha"], token, n) for n in range(BEFORE))
            )
            assert before == [202] * BEFORE

            await asyncio.to_thread(own_cluster.stop, "immediate")
            log = tmp_path / "alpha.log"
            await control.wait_for(
                lambda: "stepping down" in log.read_text(errors="replace") or None,
                timeout=30,
                what="alpha stepping down",
            )
            during = await asyncio.gather(
                *(post_alert(urls[name], token, 100 + n) for n, name in enumerate(urls))
            )
            assert all(str(answer).startswith("503") for answer in during), during
            for name, url in urls.items():
                status, _ = await get_json(f"{url}/healthz")
                assert status == 503, f"{name} is not healthy without its database"
            assert all(p.poll() is None for p in replicas.values()), "both replicas stay up"

            await asyncio.to_thread(own_cluster.start)

            async def one_acts() -> str | None:
                for name in urls:
                    if await says(name, "status", "ok"):
                        return name
                return None

            active = await control.wait_for(one_acts, timeout=60, what="a replica acting again")
            other = next(name for name in urls if name != active)
            await control.wait_for(lambda: says(other, "status", "standby"), timeout=30)
            after = await asyncio.gather(
                *(post_alert(urls[other], token, 200 + n) for n in range(AFTER))
            )
            assert after == [202] * AFTER
            accepted = BEFORE + AFTER

            async def all_opened() -> bool | None:
                query = "SELECT count(*) FROM alert_groups WHERE incident_id IS NOT NULL"
                return True if sql_rows(database, query)[0][0] == accepted else None

            await control.wait_for(all_opened, timeout=60, what="every accepted alert's incident")
            pending = sql_rows(
                database, "SELECT count(*) FROM alert_notifications WHERE state != 'done'"
            )
            assert pending == [(0,)], "every accepted notification was applied"
            groups = sql_rows(database, "SELECT incident_id FROM alert_groups")
            assert len(groups) == len({incident for (incident,) in groups}) == accepted
            incidents = sql_rows(database, "SELECT count(DISTINCT channel_id) FROM incidents")
            assert incidents == [(accepted,)], "one incident, one channel for each"
            assert all(p.poll() is None for p in replicas.values()), "both replicas still up"
    finally:
        for replica in replicas.values():
            kill(replica)
        kill(world)
