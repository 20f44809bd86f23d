"""Steps shared by the chain watch's end-to-end tests."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from sandbox.control_client import Control
from tests.e2e.helpers import ALWAYS_ON_CALL
from tests.mitigate.conftest import cast
from tests.mitigate.helpers import described, titled

POLL = timedelta(seconds=1)
QUIET = {"escalate_after": "1h", "respond_within": "2h"}


def overlay_with(**watch: Any) -> dict[str, Any]:
    return {
        **ALWAYS_ON_CALL,
        "procedure": {"severities": {name: dict(QUIET) for name in ("P0", "P1", "P2")}},
        "mitigate": {"chain": {"poll_every": "5s"}},
        "watch": {
            "contracts": {"ATRIUM_VAULT": {"address": "ATRIUM_VAULT"}},
            "poll_every": "1s",
            "explorer_url": "https://explorer.example",
            **watch,
        },
    }


async def until(control: Control, clock, probe, what: str):  # type: ignore[no-untyped-def]
    """Move the bot's clock a poll at a time until ``probe()`` answers something."""

    async def step() -> Any:
        clock.advance(POLL)
        return await probe()

    return await control.wait_for(step, timeout=30, interval=0.2, what=what)


async def incident_channels(control: Control) -> list[dict[str, Any]]:
    return [
        c
        for c in (await control.world(refresh=True))["channels"]
        if c["type"] == 0 and c["name"].startswith("incident-")
    ]


async def first_look(bot, control: Control, clock) -> None:  # type: ignore[no-untyped-def]
    """Until the watch has its cursor: it starts at the head, so a transaction sent before
    its first look is history, not news."""

    async def looked() -> bool | None:
        return bot.services.watch.cursor is not None or None

    await until(control, clock, looked, "the chain watch's first look")


async def first_channel(control: Control, clock) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """The first incident channel the watch opens."""

    async def opened() -> dict[str, Any] | None:
        found = await incident_channels(control)
        return found[0] if found else None

    result: dict[str, Any] = await until(control, clock, opened, "the P0 channel")
    return result


async def cited_and_paged(  # type: ignore[no-untyped-def]
    control: Control, clock, channel_id: str, tx: str, title: str = "🚨"
) -> dict[str, Any]:
    """The channel's message citing ``tx`` under ``title``, once the commander is paged."""
    alice = await control.user_id("alice")

    async def alert() -> dict[str, Any] | None:
        messages = await control.messages(channel_id)
        paged = any(f"<@{alice}>" in (m["content"] or "") for m in messages)
        cited = [m for m in messages if tx in described(m) and titled(title)(m)]
        return cited[0] if cited and paged else None

    found: dict[str, Any] = await until(control, clock, alert, "the event cited, commander paged")
    return found


def head(chain) -> int:  # type: ignore[no-untyped-def]
    done = cast("block-number", "--rpc-url", chain.rpc_url)
    assert done.returncode == 0, done.stderr
    return int(done.stdout.strip())


async def read_up_to(bot, control, clock, block: int) -> None:  # type: ignore[no-untyped-def]
    async def done() -> bool | None:
        cursor = bot.services.watch.cursor
        return (cursor is not None and cursor >= block) or None

    await until(control, clock, done, f"the watch past block {block}")


def rpc(chain, method: str, *params: str) -> str:  # type: ignore[no-untyped-def]
    """A JSON-RPC call to the node with cast (anvil's evm_snapshot, anvil_mine, …)."""
    done = cast("rpc", method, *params, "--rpc-url", chain.rpc_url)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().strip('"')


async def declared(control: Control, tx: str) -> dict[str, Any] | None:
    """The incident channel whose 🚨 message cites ``tx``, or None."""
    for channel in await incident_channels(control):
        for message in await control.messages(channel["id"]):
            if tx in described(message) and titled("🚨")(message):
                return channel
    return None


async def ops_notices(control: Control, title: str) -> list[dict[str, Any]]:
    """#ops-alerts' messages under ``title``."""
    ops = await control.channel_id("ops-alerts")
    return [m for m in await control.messages(ops) if titled(title)(m)]


async def more_looks(clock, looks: int = 4) -> None:  # type: ignore[no-untyped-def]
    """A few more of the watch's looks (for what must not happen again)."""
    for _ in range(looks):
        clock.advance(POLL)
        await asyncio.sleep(0.2)
