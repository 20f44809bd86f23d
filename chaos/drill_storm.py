"""kill -9 in the middle of a 2,000-notification storm over 100 groups, then restart.

Senders behave as Alertmanager does: a notification that was not answered 202 is
sent again. Every accepted one must end applied (a row, state done) in exactly one
incident or digest entry of its group; no channel is opened twice, no page sent twice.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from pathlib import Path

import aiohttp

from bench.stack import notification
from chaos.stack import Chaos, Findings

TOTAL, GROUPS, IN_FLIGHT = 2_000, 100, 32
KILL_AT = 700  # accepted notifications before the kill


async def run(root: Path) -> Findings:
    found = Findings("storm")
    async with Chaos(root) as stack:
        bodies = [
            notification(
                f"Chaos{n % GROUPS}", f"chaos-{n % GROUPS:03d}-{n % 3}", f"Chaos group {n % GROUPS}"
            )
            for n in range(TOTAL)
        ]
        queue = iter(bodies)
        accepted = 0
        retries = 0
        killed = asyncio.Event()

        async def sender() -> None:
            nonlocal accepted, retries
            for body in queue:
                while True:
                    try:
                        status, _ = await stack.post(body)
                    except (TimeoutError, aiohttp.ClientError):
                        status = 0
                    if status == 202:
                        accepted += 1
                        break
                    retries += 1
                    await asyncio.sleep(0.1)
                if accepted >= KILL_AT and not killed.is_set():
                    killed.set()

        found.tried_(
            f"{TOTAL} notifications over {GROUPS} groups, {IN_FLIGHT} in flight; "
            f"kill -9 after {KILL_AT} accepted, restart at once, unanswered ones sent again"
        )
        started = time.monotonic()
        senders = [asyncio.create_task(sender()) for _ in range(IN_FLIGHT)]
        await asyncio.wait_for(killed.wait(), 120)
        stack.kill_bot()
        found.saw(f"killed the bot with {accepted} accepted")
        await stack.start_bot()
        found.saw(f"restarted in {time.monotonic() - started:.1f} s since the storm began")
        await asyncio.wait_for(asyncio.gather(*senders), 300)
        await stack.settled(timeout=300)
        found.saw(f"storm settled {time.monotonic() - started:.1f} s after it began")

        stored, done, pending = stack.rows(
            "SELECT count(*), coalesce(sum(state = 'done'), 0), coalesce(sum(state = 'pending'), 0)"
            " FROM alert_notifications"
        )[0]
        groups = stack.rows("SELECT count(*) FROM alert_groups")[0][0]
        states = dict(stack.rows("SELECT state, count(*) FROM alert_groups GROUP BY state"))
        incidents = stack.rows("SELECT count(*) FROM incidents")[0][0]
        channels = await stack.incident_channels()
        names = [c["name"] for c in channels]
        pages = stack.rows("SELECT incident_id, target_id, level FROM pages")
        repeated_pages = [k for k, n in Counter(pages).items() if n > 1]
        ops = await stack.control.channel_id("ops-alerts")
        listed = Counter(
            line.split("Chaos group ")[1].split()[0].strip("*_`·,")
            for m in await stack.control.messages(ops)
            for line in m["content"].splitlines()
            if "Chaos group " in line
        )
        alice = await stack.control.user_id("alice")
        kickoff_pings = []
        for channel in channels:
            messages = await stack.control.messages(channel["id"])
            kickoff_pings.append(sum(alice in m.get("notified_user_ids", []) for m in messages))

        found.saw(
            f"{accepted} accepted ({retries} sends repeated), {stored} stored, {done} applied, "
            f"{groups} groups: {incidents} incidents + {states.get('digest', 0)} digest entries "
            f"({sum(listed.values())} digest lines for {len(listed)} groups), "
            f"{len(channels)} incident channels, "
            f"{len(pages)} pages"
        )
        found.figures = {
            "accepted": accepted,
            "resent": retries,
            "stored": stored,
            "applied": done,
            "groups": groups,
            "incidents": incidents,
            "digest_entries": states.get("digest", 0),
            "incident_channels": len(channels),
            "pages": len(pages),
        }
        found.check(stored >= accepted, "every accepted notification is stored", f"{stored}")
        found.check(pending == 0 and done == stored, "every stored notification is applied")
        found.check(groups == GROUPS, f"exactly {GROUPS} alert groups", f"{groups}")
        found.check(
            incidents + states.get("digest", 0) == GROUPS,
            "each group is exactly one incident or digest entry",
            f"{incidents} + {states.get('digest', 0)}",
        )
        found.check(len(names) == len(set(names)), "no channel name twice")
        found.check(len(channels) == incidents, "one channel per incident", f"{len(channels)}")
        found.check(not repeated_pages, "no page twice", f"{repeated_pages[:3]}")
        found.check(
            all(n == 1 for n in kickoff_pings),
            "each incident channel pings its commander exactly once",
            f"{kickoff_pings}",
        )
        twice = sorted(group for group, n in listed.items() if n > 1)
        found.check(
            len(listed) == states.get("digest", 0),
            "every digest entry is listed in #ops-alerts",
            f"{len(listed)} groups listed",
        )
        found.check(not twice, "no digest entry listed twice", f"groups {twice[:10]}")
    return found
