"""Failover for real: two ``incident-bot run`` processes on one PostgreSQL and one sandbox
world; the active one is killed (SIGKILL) mid-storm and mid-escalation.

The standby stores alerts meanwhile and says "standby" on /healthz; once the lease
has expired on the database's clock it takes over: it connects, the escalation page
fires once, every accepted alert ends in exactly one incident, no channel is opened
twice, and #ops-alerts is told which replica took over from which.
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
from typing import Any

import aiohttp

from bot.sandbox_run import free_port
from sandbox.control_client import Control
from tests.e2e.helpers import incident_channel_id
from tests.pg.cluster import PASSWORD
from tests.pg.processes import ALWAYS_ON_CALL_TOML, get_json, kill, post_alert, start
from tests.pg.support import fresh_database, sql_rows

ALERTS = 12
OVERLAY = (
    ALWAYS_ON_CALL_TOML
    + """
[procedure.severities.P1]
escalate_after = "5s"

[alerts]
storm_limit = 50
open_every = "300ms"

[replica]
lease_ttl = "4s"
renew_every = "1s"

[storage]
database_url = "{url}"
"""
)


async def test_the_standby_takes_over_after_kill_9_mid_storm_and_mid_escalation(tmp_path):
    database = fresh_database("failover")
    bare = database.render_as_string(hide_password=False).replace(f":{PASSWORD}@", "@")
    (tmp_path / "overlay.toml").write_text(OVERLAY.format(url=bare))
    port, standby_port = free_port("127.0.0.1"), free_port("127.0.0.1")
    config = tmp_path / "bot.toml"
    world = start(
        tmp_path,
        *("sandbox", "--world-only", "--config-out", str(config)),
        *("--config", str(tmp_path / "overlay.toml"), "--port", str(port)),
        *("--data-dir", str(tmp_path / "data")),
    )
    replicas: list[subprocess.Popen[str]] = []
    try:
        async with Control(f"http://127.0.0.1:{port}") as control:
            await control.wait_for(lambda: config.exists() or None, timeout=30, what="the config")
            world_info = await control.world(refresh=True)
            hook = world_info["webhook"]
            secret = {"INCIDENT_BOT_DATABASE_PASSWORD": PASSWORD}
            alpha = start(
                tmp_path,
                "run",
                "--config",
                str(config),
                INCIDENT_BOT_REPLICA_NAME="alpha",
                **secret,
            )
            replicas.append(alpha)
            await control.wait_for(
                lambda: control.request("GET", "commands"), timeout=40, what="alpha connected"
            )
            beta = start(
                tmp_path,
                *("run", "--config", str(config)),
                INCIDENT_BOT_REPLICA_NAME="beta",
                INCIDENT_BOT_WEBHOOK_PORT=str(standby_port),
                **secret,
            )
            replicas.append(beta)
            standby_url = f"http://127.0.0.1:{standby_port}"

            async def standby_health() -> Any:
                try:
                    status, body = await get_json(f"{standby_url}/healthz")
                except aiohttp.ClientError:
                    return None
                return body if status == 200 and body.get("status") == "standby" else None

            health = await control.wait_for(standby_health, timeout=40, what="beta standby")
            assert health["gateway"] == "standby"

            # Mid-escalation: a P1 nobody acknowledges pages bob 5 s after it is declared.
            erin, general = await control.user_id("erin"), await control.channel_id("general")
            await control.command(
                erin, general, "incident", "declare", title="Ledger stalled", severity="P1"
            )
            channel = await incident_channel_id(control, "-ledger-stalled")
            # Mid-storm: alerts accepted by both replicas, alpha killed while it opens them.
            statuses = await asyncio.gather(
                *(
                    post_alert(hook["base_url"] if n % 2 else standby_url, hook["bearer_token"], n)
                    for n in range(ALERTS)
                )
            )
            assert statuses == [202] * ALERTS
            await incident_channel_id(control, "-disk-full-on-db-1")  # alpha is opening them
            kill(alpha, signal.SIGKILL)
            opened_by_alpha = sql_rows(database, "SELECT count(*) FROM incidents")[0][0] - 1

            ops = await control.channel_id("ops-alerts")
            takeover = await control.wait_for_message(
                ops,
                lambda m: "took over" in m["content"],
                timeout=40,
                what="the takeover notice",
            )
            assert "**beta** took over from **alpha**" in takeover["content"]
            bob = await control.user_id("bob")
            await control.wait_for_message(
                channel, lambda m: f"<@{bob}>" in m["content"], timeout=30, what="the page"
            )

            async def all_opened() -> bool | None:
                rows = sql_rows(
                    database,
                    "SELECT count(*) FROM alert_groups WHERE incident_id IS NOT NULL",
                )
                return True if rows[0][0] == ALERTS else None

            await control.wait_for(all_opened, timeout=60, what="every alert's incident")

            async def quiet() -> bool | None:
                # Nothing more can come twice once no timer is due or firing, no effect is
                # waiting or being sent, and no notification or group is left to apply.
                busy = sql_rows(
                    database,
                    "SELECT (SELECT count(*) FROM timers WHERE state = 'firing' OR "
                    "(state = 'pending' AND due_at <= now() AT TIME ZONE 'UTC')) + "
                    "(SELECT count(*) FROM outbox WHERE state IN ('pending', 'sending')) + "
                    "(SELECT count(*) FROM alert_notifications WHERE state = 'pending') + "
                    "(SELECT count(*) FROM alert_groups WHERE state = 'opening')",
                )
                return True if busy[0][0] == 0 else None

            await control.wait_for(quiet, timeout=60, what="beta to have nothing left to do")
            pages = [m for m in await control.messages(channel) if f"<@{bob}>" in m["content"]]
            assert len(pages) == 1, "the pending page fired once"
            pending = sql_rows(
                database, "SELECT count(*) FROM alert_notifications WHERE state != 'done'"
            )
            assert pending == [(0,)], "every accepted notification was applied"
            groups = sql_rows(database, "SELECT group_key, incident_id FROM alert_groups")
            assert len(groups) == ALERTS
            assert len({incident for _, incident in groups}) == ALERTS  # one incident each
            incidents = sql_rows(
                database, "SELECT count(*), count(DISTINCT channel_id) FROM incidents"
            )
            assert incidents == [(ALERTS + 1, ALERTS + 1)]
            names = [
                c["name"]
                for c in (await control.world(refresh=True))["channels"]
                if c["name"].startswith("incident-")
            ]
            assert len(names) == len(set(names)) == ALERTS + 1, "no channel twice"
            assert 0 < opened_by_alpha < ALERTS, "alpha died in the middle of the storm"
    finally:
        for replica in replicas:
            kill(replica)
        kill(world)
