"""kill -9 at each step of a declaration: after the row, after the channel, after the
kickoff, before the pin. The restart must finish the work, nothing twice.

Each step holds one Discord call of ``/incident declare`` (sandbox fault ``hold`` or
``hold_after``), waits until the world says it arrived, kills the bot, drops or lets
through the held call, restarts the bot and reads what it finished.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from pathlib import Path

from chaos.stack import Chaos, Findings, until

CHANNELS = r"^/guilds/\d+/channels$"


async def _hold_after_channel(stack: Chaos) -> None:
    """The channel is created; its answer never reaches the bot."""
    await stack.control.fault("hold_after", method="POST", path_pattern=CHANNELS)


async def _hold_before_channel(stack: Chaos) -> None:
    """The row is written; the channel create never reaches Discord (dropped)."""
    await stack.control.fault("hold", method="POST", path_pattern=CHANNELS)


async def _hold_before_pin(stack: Chaos) -> None:
    await stack.control.fault("hold", method="PUT", path_pattern=r"/pins/\d+$")


# (step, arm the hold, drop the held call after the kill, then hold the kickoff too)
STEPS: list[tuple[str, Callable[[Chaos], Awaitable[None]], bool, bool]] = [
    ("after the row", _hold_before_channel, True, False),
    ("after the channel", _hold_after_channel, False, False),
    ("after the kickoff", _hold_after_channel, False, True),
    ("before the pin", _hold_before_pin, True, False),
]


async def run(root: Path) -> Findings:
    found = Findings("declare")
    async with Chaos(root) as stack:
        control = stack.control
        erin = await control.user_id("erin")
        alice = await control.user_id("alice")
        general = await control.channel_id("general")
        for number, (step, arm, drop, kickoff_too) in enumerate(STEPS):
            title = f"Chaos declare {number}"
            found.tried_(f"/incident declare {title!r}, kill -9 {step}")
            await arm(stack)
            command = asyncio.create_task(
                control.command(erin, general, "incident", "declare", title=title, severity="P1")
            )
            (held,) = await stack.held()
            if kickoff_too:
                # The channel exists: hold the kickoff's answer in it, let the channel through.
                channel = await _channel_of(stack, title)
                await control.fault(
                    "hold_after", method="POST", path_prefix=f"/channels/{channel['id']}/messages"
                )
                await control.release(held["id"])
                (held,) = await stack.held()
            stack.kill_bot()
            await control.release(held["id"], drop=drop)
            with contextlib.suppress(Exception):
                await command
            found.saw(f"{step}: killed while {held['method']} {held['path']} was held")
            await stack.start_bot()
            await _finished(stack, found, step, title, alice)
    return found


async def _channel_of(stack: Chaos, title: str) -> dict:
    slug = title.lower().replace(" ", "-")

    async def probe() -> dict | None:
        return next((c for c in await stack.incident_channels() if c["name"].endswith(slug)), None)

    return await until(probe, 30, f"the channel of {title!r}")


async def _finished(stack: Chaos, found: Findings, step: str, title: str, alice: str) -> None:
    """The restarted bot finished the declaration: one channel, one kickoff ping, pinned."""

    def declared() -> list[tuple] | None:
        rows = stack.rows(
            "SELECT id, status, channel_id, kickoff_message_id FROM incidents "
            f"WHERE title = '{title}'"
        )
        return rows if rows and rows[0][1] != "opening" else None

    try:
        rows = await until(declared, 60, f"incident {title!r} to leave 'opening'")
    except TimeoutError:
        rows = stack.rows(
            f"SELECT id, status, channel_id, kickoff_message_id FROM incidents WHERE title = '{title}'"
        )
    found.check(len(rows) == 1, f"{step}: one incident row", f"{rows}")
    incident_id, status, channel_id, _kickoff = rows[0]
    found.check(status == "declared", f"{step}: the restart finished the declaration", status)
    slug = title.lower().replace(" ", "-")

    async def pinned() -> bool:
        channels = [c for c in await stack.incident_channels() if c["name"].endswith(slug)]
        if len(channels) != 1:
            return False
        return any(m["pinned"] for m in await stack.control.messages(channels[0]["id"]))

    with contextlib.suppress(TimeoutError):
        await until(pinned, 45, "the kickoff pinned")
    channels = [c for c in await stack.incident_channels() if c["name"].endswith(slug)]
    found.check(len(channels) == 1, f"{step}: no channel twice", f"{len(channels)} channels")
    if not channels:
        return
    messages = await stack.control.messages(channels[0]["id"])
    pings = [m for m in messages if alice in m.get("notified_user_ids", [])]
    kickoffs = [
        m for m in messages if any(f"Incident #{incident_id}" in str(e) for e in m["embeds"])
    ]
    pages = stack.rows(f"SELECT count(*) FROM pages WHERE incident_id = {incident_id}")[0][0]
    found.check(len(kickoffs) == 1, f"{step}: one kickoff", f"{len(kickoffs)}")
    found.check(
        len(pings) == 1 and pages == 1,
        f"{step}: the commander paged once",
        f"{len(pings)} pings, {pages} page rows",
    )
    found.check(
        any(m["pinned"] for m in kickoffs), f"{step}: the kickoff is pinned after the restart"
    )
    found.check(channel_id == channels[0]["id"], f"{step}: the row names the channel")
    found.saw(
        f"{step}: status {status}, {len(channels)} channel, {len(kickoffs)} kickoff, "
        f"{len(pings)} ping, pinned {any(m['pinned'] for m in kickoffs)}"
    )
