"""The postmortem phase's measures (issue 12):

- a draft of a 20,000-message incident (with 400 timeline entries marked on its
  messages) in under 1 s and under 100 MB of extra memory, from a real SQLite file;
- the backfill of a 5,000-message gap after a restart, by the real bot against the
  sandbox world with Discord-like REST latency: the time, the history requests, and
  the 429s (target 0: discord.py paces itself by the rate-limit headers).
"""

from __future__ import annotations

import asyncio
import gc
import tempfile
import time
import tracemalloc
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select

from bot.core.render import Renderer
from bot.postmortem.drafting import DraftService
from bot.procedure import default_procedure
from bot.runtime import BotRuntime
from bot.sandbox_run import free_port, sandbox_config, sandbox_secrets, secrets_model
from bot.settings import Settings, parse_config
from sandbox.control_client import Control
from sandbox.world import World, WorldOptions
from storage import transcript as transcript_queries
from storage.db import make_engine, make_sessions, upgrade
from storage.models import Incident, TimelineEvent
from storage.transcript import Captured

MESSAGES = 20_000
MARKS = 400
GAP = 5_000
HOST = "127.0.0.1"


async def _draft(root: Path, messages: int) -> dict[str, Any]:
    database = root / "draft.sqlite3"
    await asyncio.to_thread(upgrade, database)
    engine = make_engine(database)
    sessions = make_sessions(engine)
    start = datetime(2026, 3, 14, 22, 0, tzinfo=UTC)
    async with sessions.begin() as session:
        incident = Incident(
            title="Bridge outflow anomaly",
            slug="bridge-outflow",
            severity="P1",
            status="resolved",
            declared_at=start,
            acknowledged_at=start + timedelta(minutes=3),
            resolved_at=start + timedelta(hours=4),
            commander_id="1001",
            channel_id="5000",
        )
        session.add(incident)
        await session.flush()
        batch = []
        for n in range(messages):
            batch.append(
                Captured(
                    message_id=10_000_000 + n,
                    incident_id=incident.id,
                    channel_id="5000",
                    thread_id=None,
                    author_id=str(1000 + n % 25),
                    author_name=f"Responder {n % 25}",
                    is_bot=False,
                    content=f"# heading {n}\n```code``` @everyone message {n} " + "x" * 80,
                    attachments=(),
                    created_at=start + timedelta(seconds=n * 0.7),
                    edited_at=None,
                )
            )
            if len(batch) == 50:
                await transcript_queries.store(session, batch)
                batch = []
        await transcript_queries.store(session, batch)
        for n in range(MARKS):
            session.add(
                TimelineEvent(
                    incident_id=incident.id,
                    at=start + timedelta(seconds=n * 35),
                    actor_id="1003",
                    kind="mark:note" if n % 4 else "mark:root_cause",
                    text=f"marked message {n} @everyone",
                    data={"reactors": ["1004"]},
                    message_id=str(10_000_000 + n * 50),
                )
            )
    procedure = default_procedure()
    drafts = DraftService(
        sessions,
        Renderer(ZoneInfo("UTC")),
        procedure,
        ZoneInfo("UTC"),
        lambda user_id: f"Responder {user_id}",
        lambda row: row.declared_at.date(),
    )
    await drafts.draft(incident)  # warm: templates compiled, statements cached
    times = []
    for _ in range(5):
        began = time.perf_counter()
        draft = await drafts.draft(incident)
        times.append(time.perf_counter() - began)
    gc.collect()
    tracemalloc.start()
    await drafts.draft(incident)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    await engine.dispose()
    return {
        "messages": messages,
        "timeline_entries": MARKS,
        "draft_seconds_best": round(min(times), 4),
        "draft_seconds_worst": round(max(times), 4),
        "draft_peak_mb": round(peak / 1e6, 2),
        "draft_bytes": len(draft.text),
    }


async def _backfill(root: Path, gap: int, latency_ms: int) -> dict[str, Any]:
    webhook_port = free_port(HOST)
    world = World(
        WorldOptions(
            data_dir=root / "world",
            host=HOST,
            port=0,
            webhook_base_url=f"http://{HOST}:{webhook_port}",
        )
    )
    await world.start()
    overlay = {
        "rotation": {
            "shifts": [
                {
                    "start": "2020-01-01T00:00+00:00",
                    "end": "2099-01-01T00:00+00:00",
                    "primary": "@alice",
                    "secondary": "@bob",
                }
            ]
        },
        "procedure": {"severities": {"P1": {"escalate_after": "1h", "respond_within": "2h"}}},
    }
    config = sandbox_config(world, root / "bot-data", HOST, webhook_port, overlay)
    config["discord"]["guild_ready_timeout"] = 0.1
    settings = Settings(config=parse_config(config), secrets=secrets_model(sandbox_secrets(world)))
    runtime = BotRuntime(settings)
    try:
        await runtime.start()
        await runtime.wait_ready(timeout=20)
        async with Control(world.base_url) as control:
            erin, bob = await control.user_id("erin"), await control.user_id("bob")
            general = await control.channel_id("general")
            await control.command(erin, general, "incident", "declare", title="Gap", severity="P1")
            incident = await _wait_incident(runtime)
            channel = incident.channel_id
            assert channel is not None
            await runtime.stop()
            state = world.discord.state
            for n in range(gap):
                state.create_message(int(channel), int(bob), {"content": f"while away {n}"})
            await control.request("PUT", "settings", json={"rest_latency_ms": latency_ms})
            since = datetime.now(UTC)
            runtime = BotRuntime(settings)
            began = time.perf_counter()
            await runtime.start()
            await runtime.wait_ready(timeout=20)
            total = len(state.channel(int(channel)).messages)
            services = runtime.bot.services
            while True:
                async with services.sessions() as session:
                    kept = await transcript_queries.count(session, incident.id)
                if kept >= total:
                    break
                if time.perf_counter() - began > 300:
                    raise TimeoutError(f"backfill stuck at {kept}/{total}")
                await asyncio.sleep(0.05)
            seconds = time.perf_counter() - began
            requests = await control.requests(since.isoformat())
    finally:
        await runtime.stop()
        await world.stop()
    history = [r for r in requests if r["method"] == "GET" and r["path"].endswith("/messages")]
    return {
        "gap_messages": gap,
        "rest_latency_ms": latency_ms,
        "backfill_seconds": round(seconds, 2),
        "history_requests": len(history),
        "responses_429": sum(1 for r in requests if r["status"] == 429),
        "kept": kept,
    }


async def _wait_incident(runtime: BotRuntime) -> Incident:
    for _ in range(400):
        async with runtime.bot.services.sessions() as session:
            incident = await session.scalar(select(Incident).where(Incident.status == "declared"))
        if incident is not None and incident.channel_id:
            return incident
        await asyncio.sleep(0.05)
    raise TimeoutError("no incident was declared")


async def run(quick: bool) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-postmortem-") as tmp:
        root = Path(tmp)
        draft = await _draft(root, 2_000 if quick else MESSAGES)
        backfill = await _backfill(root, 500 if quick else GAP, 50)
    return {
        "draft": draft,
        "backfill": backfill,
        "targets": [
            {
                "name": f"draft of a {draft['messages']}-message incident (s)",
                "value": draft["draft_seconds_worst"],
                "limit": 1.0,
                "ok": draft["draft_seconds_worst"] < 1.0,
            },
            {
                "name": "draft extra memory (MB, tracemalloc peak)",
                "value": draft["draft_peak_mb"],
                "limit": 100,
                "ok": draft["draft_peak_mb"] < 100,
            },
            {
                "name": f"429s during a {backfill['gap_messages']}-message backfill",
                "value": backfill["responses_429"],
                "limit": 0,
                "ok": backfill["responses_429"] == 0,
            },
        ],
        "report": {
            "backfill seconds": backfill["backfill_seconds"],
            "backfill history requests": backfill["history_requests"],
        },
    }
