"""Readers and steps shared by this phase's end-to-end tests."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sandbox.control_client import Control
from sandbox.signers import register_signers
from tests.e2e.helpers import incident_channel_id, text_of

POLL = timedelta(seconds=5)  # the tests' [mitigate.chain] poll_every


def titled(prefix: str):  # type: ignore[no-untyped-def]
    return lambda m: any((e.get("title") or "").startswith(prefix) for e in m["embeds"])


def described(message: dict[str, Any]) -> str:
    return "\n".join((e.get("description") or "") for e in message["embeds"])


async def watched(control: Control, clock, channel: str, predicate, what: str):  # type: ignore[no-untyped-def]
    """Move the bot's clock a poll at a time until a message matches: the watch looks at
    the chain once per poll, whenever its last look ended."""

    async def probe() -> dict[str, Any] | None:
        clock.advance(POLL)
        for message in await control.messages(channel):
            if predicate(message):
                return message
        return None

    return await control.wait_for(probe, interval=0.2, what=what)


async def declare(control: Control, title: str, severity: str = "P0") -> str:
    general = await control.channel_id("general")
    alice = await control.user_id("alice")
    await control.command(alice, general, "incident", "declare", title=title, severity=severity)
    return await incident_channel_id(control, title.lower().replace(" ", "-"))


async def signed_up(control: Control) -> dict[str, Any]:
    world = await control.world(refresh=True)
    chain = world["chain"]
    await register_signers(control, chain, await control.channel_id("general"))
    return chain


async def propose(control: Control, channel: str) -> dict[str, Any]:
    alice = await control.user_id("alice")
    answer = await control.command(alice, channel, "mitigate", "pause")
    assert "Proposed" in text_of(answer), text_of(answer)
    return await control.wait_for_message(channel, titled("🛑"), what="the proposal")


async def timeline(bot, channel: str) -> list[str]:  # type: ignore[no-untyped-def]
    from sqlalchemy import select

    from storage.models import TimelineEvent

    incident = await bot.services.incidents.in_channel(channel)
    async with bot.services.sessions() as session:
        rows = await session.scalars(
            select(TimelineEvent)
            .where(TimelineEvent.incident_id == incident.id)
            .order_by(TimelineEvent.id)
        )
        return [f"{r.kind}: {r.text}" for r in rows]
