"""The chain watch when its RPC answers for the wrong chain (or not at all): /healthz names
the watcher, #ops-alerts hears once that watching stopped and once that it resumed, and an
event sent meanwhile is declared after it resumes (nothing is missed)."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest

from bot.adapters.chain import ChainClient
from sandbox.chain import VAULT
from tests.mitigate.conftest import cast_send
from tests.mitigate.helpers import described, titled
from tests.watch.helpers import POLL, incident_channels, overlay_with, until

pytestmark = [pytest.mark.chain, pytest.mark.manual_clock]


@pytest.fixture
def world(chain_world):  # type: ignore[no-untyped-def]
    return chain_world


@pytest.fixture
def overlay() -> dict[str, Any]:
    return overlay_with()


async def test_a_wrong_chain_stops_the_watch_once_and_it_resumes_without_missing_an_event(
    bot, control, clock, chain
):
    watch = bot.services.watch
    ops = await control.channel_id("ops-alerts")

    async def watching() -> Any:
        return watch.cursor is not None or None

    await until(control, clock, watching, "the first look")
    real = watch.chain
    wrong = ChainClient(chain.rpc_url, 999, timedelta(seconds=5))
    watch.chain = watch.reader.chain = wrong
    tx = cast_send(chain, chain.attacker[1], chain.contracts[VAULT], "pause()")

    async def stopped() -> Any:
        found = [m for m in await control.messages(ops) if titled("⛓️ Chain watch stopped")(m)]
        return found or None

    [notice] = await until(control, clock, stopped, "#ops-alerts told the watch stopped")
    assert "chain 31337, not the configured chain 999" in described(notice)
    ok, body = await bot.services.alerts.health("connected")
    assert not ok and "watcher" in body["failing"]
    assert "999" in body["watcher"]["state"]
    for _ in range(5):  # more failed looks: said once
        clock.advance(POLL)
        await asyncio.sleep(0.1)
    assert len(await stopped()) == 1
    assert await incident_channels(control) == []

    watch.chain = watch.reader.chain = real

    async def resumed() -> Any:
        return [
            m for m in await control.messages(ops) if titled("⛓️ Chain watch resumed")(m)
        ] or None

    await until(control, clock, resumed, "#ops-alerts told the watch resumed")

    async def declared() -> Any:
        for channel in await incident_channels(control):
            for message in await control.messages(channel["id"]):
                if tx in described(message) and titled("🚨")(message):
                    return channel
        return None

    await until(control, clock, declared, "the event sent during the outage, declared")
    ok, body = await bot.services.alerts.health("connected")
    assert "watcher" not in body["failing"] and body["watcher"]["state"] == "watching"
    assert len(await resumed()) == 1 and len(await stopped()) == 1
