"""A loaded bot for the restart bench (issue 15): open incidents declared through
``/incident declare``, its pending timers counted, its resident memory read.

Each P2 incident is a channel, a kickoff, a pin and three timers (escalation, response
reminder, response breach). The bot's VmRSS is read from /proc.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from bench.stack import Stack, _until

INCIDENTS = 400


def rss_mib(pid: int) -> float:
    """The process's resident set (VmRSS), in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    raise RuntimeError(f"no VmRSS for process {pid}")


async def declare_many(stack: Stack, count: int, in_flight: int = 6) -> int:
    """``count`` P2 incidents through ``/incident declare``, ``in_flight`` at a time; the
    number the database holds open once they are all answered."""
    control = stack.control
    # The load is built fast: the world's own rate limits (5 messages per 5 s in
    # #ops-alerts, where each P2 is announced) are off while it is built, back on after.
    await control.request("PUT", "settings", json={"rate_limits": False})
    erin = await control.user_id("erin")
    general = await control.channel_id("general")
    numbers = iter(range(count))

    async def declarer() -> None:
        for number in numbers:
            await control.command(
                erin, general, "incident", "declare", title=f"Load {number}", severity="P2"
            )

    await asyncio.wait_for(asyncio.gather(*(declarer() for _ in range(in_flight))), 900)

    def all_open() -> int | None:
        opened, announced, opening = stack.rows(
            "SELECT coalesce(sum(status = 'declared'), 0), count(ops_alerts_message_id), "
            "coalesce(sum(status = 'opening'), 0) FROM incidents"
        )[0]
        # A declaration that failed (a loaded machine) is not waited for; the count says.
        return opened if not opening and announced >= opened else None

    opened = await _until(all_open, 300, f"{count} declared and announced incidents")
    await control.request("PUT", "settings", json={"rate_limits": True})
    return opened


def pending_timers(stack: Stack) -> int:
    return stack.rows("SELECT count(*) FROM timers WHERE state = 'pending'")[0][0]
