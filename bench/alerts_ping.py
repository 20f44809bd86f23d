"""The alert bench's part 4: alert → commander pinged, beside the bare discord.py floor.

An isolated alert's send time to the kickoff that pings the on-call commander (the
world's clock), beside ``/incident declare`` → ping and the floor of the triage bench (a
bare discord.py create, send, pin), at a given added latency per Discord call.
"""

from __future__ import annotations

import asyncio
import statistics
from datetime import UTC, datetime
from pathlib import Path

from bench.procs import percentile, snowflake_time, wait_for_line
from bench.stack import Stack, _drain, _until, notification
from sandbox.control_client import Control


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
