"""A full disk under the SQLite file: webhooks answer 503, nothing accepted is lost.

The drill mounts a small tmpfs of its own (root needed; without it the drill says so
and counts as not run), puts the bot's database there, sends notifications, fills the
disk, sends more (each must be refused with 503 or accepted and kept), frees the disk
and checks the bot accepts again by itself and every 202 ended applied.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
from collections import Counter
from pathlib import Path

import aiohttp

from bench.stack import notification
from chaos.stack import Chaos, Findings

SIZE = "8m"


async def run(root: Path) -> Findings:
    found = Findings("disk")
    disk = root / "disk"
    disk.mkdir()
    mounted = await asyncio.to_thread(
        subprocess.run,
        ["mount", "-t", "tmpfs", "-o", f"size={SIZE}", "tmpfs", str(disk)],
        capture_output=True,
        text=True,
    )
    if mounted.returncode != 0:
        found.not_run = f"could not mount a tmpfs ({mounted.stderr.strip() or 'not root'})"
        print(f"  [disk] NOT RUN: {found.not_run}", flush=True)
        return found
    try:
        await _drill(root, disk, found)
    finally:
        await asyncio.to_thread(subprocess.run, ["umount", "-l", str(disk)], capture_output=True)
    return found


async def _drill(root: Path, disk: Path, found: Findings) -> None:
    overlay = f'\n[storage]\ndatabase = "{disk / "bot.sqlite3"}"\n'
    async with Chaos(root, overlay) as stack:
        accepted: list[int] = []

        async def send(start: int, count: int) -> Counter[int]:
            statuses: Counter[int] = Counter()
            for n in range(start, start + count):
                body = notification(f"Disk{n % 10}", f"disk-{n:04d}", f"Disk group {n % 10}")
                try:
                    status, _ = await stack.post(body)
                except (TimeoutError, aiohttp.ClientError):
                    status = 0
                statuses[status] += 1
                if status == 202:
                    accepted.append(n)
            return statuses

        found.tried_(f"50 notifications, then the {SIZE} tmpfs under the database filled")
        before = await send(0, 50)
        filler = disk / "filler"
        with contextlib.suppress(OSError), filler.open("wb") as out:
            while True:
                out.write(b"\0" * 65536)
                out.flush()
                os.fsync(out.fileno())
        during = await send(50, 200)
        health = await stack.health_any()
        found.saw(f"disk full: {dict(during)} (status: count); /healthz {health}")
        found.check(
            health.get("database") != "ok" and "database" in health.get("failing", ()),
            "/healthz says the database fails while the disk is full",
            f"database: {health.get('database')}",
        )
        found.check(
            set(during) <= {202, 503}, "a full disk answers 503 (or accepts and keeps)", f"{during}"
        )
        found.check(during.get(503, 0) > 0, "a full disk is refused with 503", f"{during}")
        filler.unlink()
        await asyncio.sleep(1)
        found.tried_("the disk freed, 50 more notifications")
        after = await send(250, 50)
        found.check(after.get(202, 0) == 50, "accepting again by itself", f"{after}")
        await stack.settled(timeout=120)
        stored = {
            int(body_number)
            for (body_number,) in stack.rows(
                "SELECT substr(body, instr(body, 'disk-') + 5, 4) FROM alert_notifications"
            )
        }
        done = stack.rows("SELECT count(*) FROM alert_notifications WHERE state = 'done'")[0][0]
        lost = [n for n in accepted if n not in stored]
        found.check(not lost, "every accepted notification is kept", f"lost {lost[:10]}")
        found.check(done == len(stored), "every kept notification is applied", f"{done}")
        found.saw(
            f"before {dict(before)}, full {dict(during)}, after {dict(after)}; "
            f"{len(accepted)} accepted, {len(stored)} kept, {done} applied"
        )
        found.figures = {"before": before, "during": during, "after": after}
