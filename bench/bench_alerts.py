"""Alert webhooks under load (issue 4): ingestion, accept latency, a storm, alert → ping.

The world and the bot run as their own processes, as in production; this
process is the alert sender. All traffic goes to 127.0.0.1, every loop and wait
is bounded, and each part starts from a fresh world and bot:

1. **Ingestion**: notifications as fast as the bot takes them (64 in flight);
   the rate from the first send to the last 202, then the proof that nothing
   was lost (every 202 is a row, every row applied, every alert counted).
2. **Accept latency** at an open-loop 200 requests per second: p50/p99 from
   send to the 202 (the notification committed to SQLite), after a 3 s warm-up
   that creates the groups and opens their channels (reported apart); beside it
   the floor: the same load against a bare aiohttp server that only answers 202
   (bench/floor_webhook.py), so a loaded machine shows as a high floor, not as
   the bot's cost.
3. **Storm**: 10,000 notifications over 300 alert groups; at the end there
   must be exactly 300 incidents or digest entries and no duplicate channel.
   With PostgreSQL here (tests/pg/cluster.py finds Debian's server), ingestion runs
   again with the bot on a throw-away PostgreSQL cluster, reported beside SQLite's
   (``BENCH_ENGINES=sqlite`` leaves it out).
4. **Alert → commander pinged**: an isolated alert's send time to the kickoff
   that pings the on-call commander (the world's clock), beside ``/incident
   declare`` → ping and the bare discord.py floor of the triage bench, at 0 ms and
   50 ms of added latency per Discord call.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import tomllib
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
from sqlalchemy import URL, make_url

from bench.procs import percentile, snowflake_time, spawn, stop, wait_for_line
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
        env = {k: v for k, v in os.environ.items() if not k.startswith("INCIDENT_BOT_")}
        env.update(self.env)
        process = subprocess.Popen(
            [sys.executable, *args],
            cwd=REPO,
            env=env,
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
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


# -- 1. ingestion ------------------------------------------------------------------------------
async def ingestion(
    root: Path, total: int, groups: int = 20, in_flight: int = 64, database: URL | None = None
) -> dict:
    async with Stack(root, database=database) as stack:
        bodies = [
            notification(
                f"Ingest{n % groups}", f"ingest-{n % 200:05d}", f"Ingest group {n % groups}"
            )
            for n in range(total)
        ]
        statuses: list[int] = []
        queue = iter(bodies)

        async def sender() -> None:
            for body in queue:
                status, _ = await stack.post(body)
                statuses.append(status)

        started = time.perf_counter()
        await asyncio.wait_for(asyncio.gather(*(sender() for _ in range(in_flight))), 300)
        accepted_in = time.perf_counter() - started
        await stack.settled(timeout=300)
        applied_in = time.perf_counter() - started
        accepted = statuses.count(202)
        stored, done = stack.rows(
            "SELECT count(*), coalesce(sum(CASE WHEN state = 'done' THEN 1 ELSE 0 END), 0)"
            " FROM alert_notifications"
        )[0]
        counted = stack.rows("SELECT coalesce(sum(fire_count), 0) FROM alerts")[0][0]
    return {
        "notifications": total,
        "accepted": accepted,
        "refused": len(statuses) - accepted,
        "stored": stored,
        "applied": done,
        "alerts_counted": counted,
        "lost": total - min(accepted, stored, done, counted),
        "accept_rate_per_s": round(accepted / accepted_in, 1),
        "applied_rate_per_s": round(done / applied_in, 1),
    }


async def ingestion_on_postgres(root: Path, total: int) -> dict:
    """The same ingestion with the bot on a throw-away PostgreSQL cluster (or why not)."""
    if "postgres" not in os.environ.get("BENCH_ENGINES", "sqlite,postgres"):
        return {"skipped": "BENCH_ENGINES leaves PostgreSQL out"}
    from tests.pg.cluster import NoPostgres, start_cluster

    try:
        cluster = start_cluster()
    except NoPostgres as error:
        return {"skipped": str(error)}
    try:
        cluster.create_database("bench")
        return await ingestion(root, total, database=make_url(cluster.url_with_password("bench")))
    finally:
        cluster.remove()


# -- 2. accept latency -------------------------------------------------------------------------
Post = Callable[[bytes], Awaitable[tuple[int, float]]]


def steady_body(number: int) -> bytes:
    """The ``number``-th notification of the steady traffic: 50 groups of 4 alerts."""
    group, alert = number % 50, (number // 50) % 4
    return notification(f"Steady{group}", f"steady-{group:02d}-{alert}", f"Steady {group}")


async def open_loop(post: Post, first: int, count: int, rate: int) -> tuple[list[float], list[int]]:
    """``count`` posts at ``rate`` per second, each sent at its time whatever the answers
    before it (open loop); the latencies (ms) and statuses."""
    latencies: list[float] = []
    statuses: list[int] = []

    async def one(number: int) -> None:
        status, latency = await post(steady_body(number))
        statuses.append(status)
        latencies.append(latency * 1000)

    tasks = []
    start = time.perf_counter()
    for offset in range(count):
        await asyncio.sleep(max(0.0, start + offset / rate - time.perf_counter()))
        tasks.append(asyncio.create_task(one(first + offset)))
    await asyncio.wait_for(asyncio.gather(*tasks), 60)
    return latencies, statuses


async def accept_latency(root: Path, rate: int, seconds: float, warm_up: float = 3.0) -> dict:
    """Steady traffic: 50 groups of 4 alerts, re-sent as Alertmanager does every group_interval.

    The first ``warm_up`` seconds create the groups and open their incidents (ten
    channels, one per ``alerts.open_every``, then the digest); they are reported
    apart. The target is read on the steady part that follows.
    """
    async with Stack(root) as stack:
        warm_count = int(rate * warm_up)
        warm, _ = await open_loop(stack.post, 0, warm_count, rate)
        await stack.settled(timeout=120)
        latencies, statuses = await open_loop(stack.post, warm_count, int(rate * seconds), rate)
        await stack.settled(timeout=120)
    return {
        "rate_per_s": rate,
        "requests": len(latencies),
        "accepted": statuses.count(202),
        "p50_ms": round(statistics.median(latencies), 2),
        "p99_ms": round(percentile(latencies, 0.99), 2),
        "max_ms": round(max(latencies), 2),
        "warm_up_s": warm_up,
        "warm_up_p99_ms": round(percentile(warm, 0.99), 2),
    }


async def accept_floor(rate: int, seconds: float) -> dict:
    """The same load against a bare aiohttp server answering 202 (bench/floor_webhook.py):
    what this machine and this load generator cost before the bot does anything."""
    port = free_port(HOST)
    server = spawn("-m", "bench.floor_webhook", str(port))
    try:
        await wait_for_line(server, "floor webhook ready")
        _drain(server)
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=256)) as http:

            async def post(body: bytes) -> tuple[int, float]:
                started = time.perf_counter()
                async with http.post(
                    f"http://{HOST}:{port}/alerts/alertmanager",
                    data=body,
                    headers={"Content-Type": "application/json"},
                ) as response:
                    await response.read()
                    return response.status, time.perf_counter() - started

            await open_loop(post, 0, rate, rate)  # a second of warm-up
            latencies, statuses = await open_loop(post, rate, int(rate * seconds), rate)
    finally:
        stop(server)
    return {
        "requests": len(latencies),
        "accepted": statuses.count(202),
        "p50_ms": round(statistics.median(latencies), 2),
        "p99_ms": round(percentile(latencies, 0.99), 2),
    }


# -- 3. storm ----------------------------------------------------------------------------------
async def storm(root: Path, total: int = 10_000, groups: int = 300, in_flight: int = 32) -> dict:
    async with Stack(root) as stack:
        bodies = [
            notification(
                f"Storm{n % groups}", f"storm-{n % groups:04d}-{n % 3}", f"Storm group {n % groups}"
            )
            for n in range(total)
        ]
        queue = iter(bodies)
        statuses: list[int] = []

        async def sender() -> None:
            for body in queue:
                statuses.append((await stack.post(body))[0])

        started = time.perf_counter()
        await asyncio.wait_for(asyncio.gather(*(sender() for _ in range(in_flight))), 300)
        await stack.settled(timeout=300)
        settled_in = time.perf_counter() - started
        (group_count,) = stack.rows("SELECT count(*) FROM alert_groups")[0]
        states = dict(stack.rows("SELECT state, count(*) FROM alert_groups GROUP BY state"))
        (incidents,) = stack.rows("SELECT count(*) FROM incidents")[0]
        channels = [
            c["name"]
            for c in (await stack.control.world(refresh=True))["channels"]
            if c["type"] == 0 and c["name"].startswith("incident-")
        ]
        ops = await stack.control.channel_id("ops-alerts")
        digest_messages = [
            m for m in await stack.control.messages(ops) if "Storm group" in m["content"]
        ]
        listed = {
            line
            for m in digest_messages
            for line in m["content"].splitlines()
            if "Storm group" in line
        }
        # The 429s Discord's limits (not injected faults) answered the bot in the storm.
        limits = await stack.control.request("GET", "rate-limits")
    return {
        "rate_limited_429s": limits["answered_429"],
        "global_429s": limits["answered_global_429"],
        "notifications": total,
        "accepted": statuses.count(202),
        "groups": group_count,
        "incidents": incidents,
        "digest_entries": states.get("digest", 0),
        "digest_lines_posted": len(listed),
        "digest_messages": len(digest_messages),
        "incident_channels": len(channels),
        "duplicate_channels": len(channels)
        - len(set(channels))
        + max(0, len(channels) - incidents),
        "settled_s": round(settled_in, 1),
    }


# -- 4. alert → commander pinged ----------------------------------------------------------------
async def alert_to_ping(root: Path, latency_ms: float, samples: int) -> dict:
    # Isolated alerts: spaced beyond alerts.open_every and under the storm limit.
    overlay = '\n[alerts]\nstorm_limit = 1000\nopen_every = "500ms"\n'
    async with Stack(root, overlay) as stack:
        control = stack.control
        alice = await control.user_id("alice")
        erin = await control.user_id("erin")
        general = await control.channel_id("general")
        floor = stack.spawn("-m", "bench.floor", str(stack.config), alice)
        await wait_for_line(floor, "floor ready")
        _drain(floor)
        await control.request("PUT", "settings", json={"rest_latency_ms": latency_ms})
        alert_ms, declare_ms, floor_ms = [], [], []
        for number in range(samples):
            # The alert: from sending it to the kickoff that pings the commander.
            sent = datetime.now(UTC)
            status, _ = await stack.post(
                notification(f"Probe{number}", f"probe-{number:04d}", f"Latency probe {number}")
            )
            assert status == 202, status
            kickoff = await _kickoff(control, f"-latency-probe-{number}", alice)
            alert_ms.append((kickoff - sent).total_seconds() * 1000)
            # /incident declare: the bot's own triage path.
            answer = await control.command(
                erin,
                general,
                "incident",
                "declare",
                title=f"Declared probe {number}",
                severity="P1",
            )
            kickoff = await _kickoff(control, f"-declared-probe-{number}", alice)
            declare_ms.append(
                (kickoff - snowflake_time(answer["interaction_id"])).total_seconds() * 1000
            )
            # The bare discord.py floor: create a channel, ping, pin.
            go = await control.post(erin, general, f"floor-go {number}")
            pinged = await _floor_ping(control, f"floor-{number}")
            floor_ms.append((pinged - snowflake_time(go["id"])).total_seconds() * 1000)
            await asyncio.sleep(0.6)  # past alerts.open_every: no pacing in these numbers
    return {
        "rest_latency_ms": latency_ms,
        "samples": samples,
        "alert_p50_ms": round(statistics.median(alert_ms), 1),
        "alert_p95_ms": round(percentile(alert_ms, 0.95), 1),
        "declare_p95_ms": round(percentile(declare_ms, 0.95), 1),
        "floor_p95_ms": round(percentile(floor_ms, 0.95), 1),
    }


async def _kickoff(control: Control, suffix: str, commander: str) -> datetime:
    async def probe():
        for channel in (await control.world(refresh=True))["channels"]:
            if channel["type"] == 0 and channel["name"].endswith(suffix):
                for message in await control.messages(channel["id"]):
                    if f"<@{commander}>" in message["content"]:
                        return datetime.fromisoformat(message["created_at"])
        return None

    return await _until(probe, 30, f"the kickoff in #…{suffix}")


async def _floor_ping(control: Control, name: str) -> datetime:
    async def probe():
        channel = await control.channel(name)
        if channel is None:
            return None
        messages = await control.messages(channel["id"])
        return datetime.fromisoformat(messages[0]["created_at"]) if messages else None

    return await _until(probe, 30, f"#{name}'s ping")


# -- the runner's entry point ------------------------------------------------------------------
async def run(quick: bool) -> dict:
    with tempfile.TemporaryDirectory(prefix="bench-alerts-") as tmp:
        root = Path(tmp)
        for part in ("ingest", "ingest-pg", "latency", "storm", "ping0", "ping50"):
            (root / part).mkdir()
        ingest = await ingestion(root / "ingest", total=3_000 if quick else 20_000)
        ingest_pg = await ingestion_on_postgres(root / "ingest-pg", 3_000 if quick else 20_000)
        latency = await accept_latency(root / "latency", rate=200, seconds=5 if quick else 20)
        floor = await accept_floor(rate=200, seconds=5 if quick else 20)
        storm_result = await storm(root / "storm", total=10_000, groups=300)
        samples = 5 if quick else 20
        pings = [
            await alert_to_ping(root / "ping0", 0, samples),
            await alert_to_ping(root / "ping50", 50, samples),
        ]
    targets = [
        {
            "name": "sustained ingestion (notifications/s, 2 cores)",
            "value": ingest["accept_rate_per_s"],
            "limit": ">= 1000",
            "ok": ingest["accept_rate_per_s"] >= 1000,
        },
        {
            "name": "notifications lost",
            "value": ingest["lost"],
            "limit": "0",
            "ok": ingest["lost"] == 0,
        },
        {
            "name": "accept latency p99 at 200 req/s (ms)",
            "value": latency["p99_ms"],
            "limit": "< 20",
            "ok": latency["p99_ms"] < 20 and latency["accepted"] == latency["requests"],
        },
        {
            "name": "storm: incidents + digest entries for 300 groups",
            "value": storm_result["incidents"] + storm_result["digest_entries"],
            "limit": "== 300",
            "ok": storm_result["incidents"] + storm_result["digest_entries"] == 300
            and storm_result["groups"] == 300
            and storm_result["digest_lines_posted"] == storm_result["digest_entries"]
            and storm_result["incident_channels"] == storm_result["incidents"],
        },
        {
            "name": "storm: 429s the bot received (5 msgs/5 s per channel, 50/s global)",
            "value": storm_result["rate_limited_429s"],
            "limit": "0",
            "ok": storm_result["rate_limited_429s"] == 0,
        },
        {
            "name": "storm: duplicate channels",
            "value": storm_result["duplicate_channels"],
            "limit": "0",
            "ok": storm_result["duplicate_channels"] == 0,
        },
    ]
    report = {
        "cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "accept p50 / p99 at 200 req/s": f"{latency['p50_ms']} / {latency['p99_ms']} ms",
        "accept p99 while the first 10 channels open": f"{latency['warm_up_p99_ms']} ms",
        "floor (bare aiohttp 202) p50 / p99 at 200 req/s": f"{floor['p50_ms']} / "
        f"{floor['p99_ms']} ms",
        "ingestion applied by the worker (notifications/s)": ingest["applied_rate_per_s"],
        "ingestion on PostgreSQL beside SQLite (accepted / applied per s)": (
            f"{ingest_pg['accept_rate_per_s']} / {ingest_pg['applied_rate_per_s']}, lost "
            f"{ingest_pg['lost']} (SQLite {ingest['accept_rate_per_s']} / "
            f"{ingest['applied_rate_per_s']})"
            if "skipped" not in ingest_pg
            else f"skipped: {ingest_pg['skipped']}"
        ),
        "storm settled in": f"{storm_result['settled_s']} s, {storm_result['incidents']} "
        f"channels + {storm_result['digest_entries']} digest entries "
        f"in {storm_result['digest_messages']} messages",
    }
    for ping in pings:
        at = f"{ping['rest_latency_ms']:g} ms"
        report[f"alert → ping p95 @ {at}"] = (
            f"{ping['alert_p95_ms']} ms (p50 {ping['alert_p50_ms']}); "
            f"/incident declare → ping p95 {ping['declare_p95_ms']} ms; "
            f"triage floor p95 {ping['floor_p95_ms']} ms"
        )
    if "skipped" not in ingest_pg:
        targets.append(
            {
                "name": "notifications lost on PostgreSQL",
                "value": ingest_pg["lost"],
                "limit": "0",
                "ok": ingest_pg["lost"] == 0,
            }
        )
    return {
        "ingestion": ingest,
        "ingestion_postgres": ingest_pg,
        "accept_latency": latency,
        "accept_floor": floor,
        "storm": storm_result,
        "alert_to_ping": pings,
        "targets": targets,
        "report": report,
    }
