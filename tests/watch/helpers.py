"""Steps shared by the chain watch's end-to-end tests."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sandbox.control_client import Control
from tests.e2e.helpers import ALWAYS_ON_CALL

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
