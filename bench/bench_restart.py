"""Restart to ready, and the memory it restarts from (issue 15): a bot with 400 open
incidents and 1,000+ pending timers.

The incidents are declared through ``/incident declare`` (bench/load.py). The bot's
resident memory (VmRSS) is read idle, before the first declaration, and again with them
all open. The bot is then killed with SIGKILL, one incident's escalation timer is made
overdue in the database while it is down, and the bot is started again on the same
files. The figure is the time from the kill to the page that timer sends (the world's
clock of the page message), beside the floor: the same with a single open incident.
(Both figures share one load: building it is most of the bench's time.)
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.load import INCIDENTS, declare_many, pending_timers, rss_mib
from bench.stack import _until
from chaos.stack import Chaos


async def kill_to_overdue(root: Path, count: int) -> dict[str, Any]:
    async with Chaos(root) as stack:
        await asyncio.sleep(2)  # past start-up's own work
        idle = rss_mib(stack.bot.pid)
        opened = await declare_many(stack, count)
        await asyncio.sleep(2)
        loaded = rss_mib(stack.bot.pid)
        timers = pending_timers(stack)
        bob = await stack.control.user_id("bob")
        timer_id, incident_id, channel_id = stack.rows(
            "SELECT timers.id, incidents.id, incidents.channel_id FROM timers "
            "JOIN incidents ON incidents.id = timers.incident_id "
            "WHERE timers.kind = 'escalate' AND timers.state = 'pending' "
            "ORDER BY incidents.id DESC LIMIT 1"
        )[0]
        killed = datetime.now(UTC)
        stack.kill_bot()
        with stack_db(stack) as db:
            db.execute(
                "UPDATE timers SET due_at = '2000-01-01 00:00:00.000000' WHERE id = ?",
                (timer_id,),
            )
        started = time.monotonic()
        await stack.start_bot(timeout=300)
        ready_s = time.monotonic() - started

        async def paged() -> datetime | None:
            for message in await stack.control.messages(channel_id):
                if bob in message.get("notified_user_ids", []):
                    return datetime.fromisoformat(message["created_at"])
            return None

        page_at = await _until(paged, 300, f"the overdue escalation of incident {incident_id}")
    return {
        "open_incidents": opened,
        "pending_timers": timers,
        "idle_rss_mib": idle,
        "loaded_rss_mib": loaded,
        "per_incident_kib": round((loaded - idle) * 1024 / max(1, opened), 1),
        "kill_to_ready_s": round(ready_s, 2),
        "kill_to_overdue_fired_s": round((page_at - killed).total_seconds(), 2),
    }


def stack_db(stack: Chaos):
    import sqlite3

    return sqlite3.connect(stack.database, timeout=30)


async def run(quick: bool) -> dict[str, Any]:
    count = 100 if quick else INCIDENTS
    with tempfile.TemporaryDirectory(prefix="bench-restart-") as tmp:
        (Path(tmp) / "floor").mkdir()
        (Path(tmp) / "loaded").mkdir()
        floor = await kill_to_overdue(Path(tmp) / "floor", 1)
        loaded = await kill_to_overdue(Path(tmp) / "loaded", count)
    return {
        "loaded": loaded,
        "floor": floor,
        "targets": [],
        "report": {
            f"kill -9 → first overdue timer fired, {loaded['open_incidents']} open incidents, "
            f"{loaded['pending_timers']} pending timers": f"{loaded['kill_to_overdue_fired_s']} s "
            f"(gateway ready after {loaded['kill_to_ready_s']} s)",
            "beside the floor: the same with 1 open incident": f"{floor['kill_to_overdue_fired_s']}"
            f" s (ready after {floor['kill_to_ready_s']} s)",
            f"resident memory with {loaded['open_incidents']} open incidents, "
            f"{loaded['pending_timers']} timers": f"{loaded['loaded_rss_mib']} MiB "
            f"({loaded['per_incident_kib']} KiB per incident)",
            "beside: the same bot idle (no incident)": f"{loaded['idle_rss_mib']} MiB",
        },
    }
