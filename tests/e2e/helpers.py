"""Small readers over control-API answers, shared by the end-to-end tests."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import aiohttp
from sqlalchemy import select

from bot.errors import ExternalServiceError
from sandbox.control_client import Control
from storage.models import Timer

# Alice primary and Bob secondary, always: the tests' rotation unless they test the rotation.
ALWAYS_ON_CALL: dict[str, Any] = {
    "rotation": {
        "shifts": [
            {
                "start": "2020-01-01T00:00+00:00",
                "end": "2099-01-01T00:00+00:00",
                "primary": "@alice",
                "secondary": "@bob",
            }
        ]
    }
}


def text_of(answer: dict[str, Any]) -> str:
    """Every response's content of a command's answer, joined."""
    return "\n".join(r.get("content") or "" for r in answer["responses"])


async def find_channel(
    control: Control, prefix: str = "incident-", suffix: str = ""
) -> dict[str, Any] | None:
    for channel in (await control.world(refresh=True))["channels"]:
        if (
            channel["type"] == 0
            and channel["name"].startswith(prefix)
            and channel["name"].endswith(suffix)
        ):
            return channel
    return None


async def incident_channel_id(control: Control, suffix: str) -> str:
    """The incident channel whose name ends with ``suffix`` (the date part varies)."""
    channel = await control.wait_for(
        lambda: find_channel(control, "incident-", suffix), what=f"#incident-…{suffix}"
    )
    return channel["id"]


def flaky_send(bot, marker: str, *, after_effect: bool):
    """Make the bot's first Discord post containing ``marker`` fail: before it reaches
    Discord, or (``after_effect``) once Discord has posted it, as a 5xx after the fact."""
    out = bot.services.discord
    real, failed = out.send, []

    async def send(channel_id, content=None, **kwargs):
        if content and marker in content and not failed:
            failed.append(content)
            if after_effect:
                await real(channel_id, content=content, **kwargs)
            raise ExternalServiceError("Discord answered 503")
        return await real(channel_id, content=content, **kwargs)

    out.send = send
    return failed


async def timer_done(bot, control, clock, kind: str) -> int:
    """Wait for the timer to finish, moving time past a retry if its try failed; its tries."""

    async def state():
        async with bot.services.sessions() as session:
            rows = list(
                await session.execute(select(Timer.state, Timer.attempts).where(Timer.kind == kind))
            )
        [(current, attempts)] = rows
        return (
            (current, attempts)
            if current == "done" or (attempts >= 1 and current == "pending")
            else None
        )

    current, attempts = await control.wait_for(state, timeout=5, what=f"the {kind} timer")
    if current == "pending":  # the try failed, its retry is due: move past any delay
        clock.advance(timedelta(seconds=61))
        _, attempts = await control.wait_for(
            lambda: _finished(state), timeout=5, what=f"the {kind} timer's retry"
        )
    return attempts


async def _finished(state):
    found = await state()
    return found if found and found[0] == "done" else None


async def healthz(world) -> tuple[int, dict[str, Any]]:  # type: ignore[no-untyped-def]
    """The bot's own ``GET /healthz``, as a load balancer reads it."""
    async with (
        aiohttp.ClientSession() as client,
        client.get(f"http://127.0.0.1:{world.webhook_port}/healthz") as answer,
    ):
        return answer.status, await answer.json()
