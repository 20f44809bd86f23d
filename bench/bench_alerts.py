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
import os
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp
from sqlalchemy import URL, make_url

from bench.alerts_ping import alert_to_ping
from bench.procs import percentile, spawn, stop, wait_for_line
from bench.stack import HOST, Stack, _drain, notification
from bot.sandbox_run import free_port


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
        "rate_limited_429s_by_route": limits["answered_429_by_route"],
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


# -- the runner's entry point ------------------------------------------------------------------
async def run(quick: bool) -> dict:
    with tempfile.TemporaryDirectory(prefix="bench-alerts-") as tmp:
        root = Path(tmp)
        for part in ("ingest", "ingest-pg", "latency", "storm", "ping0", "ping50"):
            (root / part).mkdir()
        ingest = await ingestion(root / "ingest", total=3_000 if quick else 10_000)
        ingest_pg = await ingestion_on_postgres(root / "ingest-pg", 3_000 if quick else 10_000)
        latency = await accept_latency(root / "latency", rate=200, seconds=5 if quick else 10)
        floor = await accept_floor(rate=200, seconds=5 if quick else 10)
        storm_result = await storm(root / "storm", total=10_000, groups=300)
        samples = 5 if quick else 20  # the target's setting; 0 ms is shown beside it
        pings = [
            await alert_to_ping(root / "ping0", 0, 5 if quick else 10),
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
    at_50 = next(p for p in pings if p["rest_latency_ms"] == 50)
    ratio = round(at_50["alert_p95_ms"] / at_50["floor_p95_ms"], 3)
    targets.append(
        {
            "name": "alert → ping p95 at 50 ms/call ÷ the triage floor's p95 (same run)",
            "value": ratio,
            "limit": "<= 1.10",
            "ok": ratio <= 1.10,
        }
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
