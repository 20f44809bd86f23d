"""The chain watch when its RPC answers for the wrong chain or not at all: /healthz names
the watcher, #ops-alerts hears once that watching stopped and once that it resumed, and an
event sent meanwhile is declared after it resumes (nothing is missed)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from bot.adapters.chain import ChainClient
from bot.sandbox_run import free_port
from sandbox.chain import VAULT
from tests.e2e.helpers import healthz
from tests.mitigate.conftest import cast_send
from tests.mitigate.helpers import described
from tests.watch.helpers import (
    declared,
    first_look,
    incident_channels,
    more_looks,
    ops_notices,
    overlay_with,
    rpc,
    until,
)

pytestmark = [pytest.mark.chain, pytest.mark.manual_clock]


@pytest.fixture
def world(chain_world):  # type: ignore[no-untyped-def]
    return chain_world


@pytest.fixture
def overlay() -> dict[str, Any]:
    return overlay_with()


async def outage(bot, control, clock, chain, world, broken: ChainClient, says: str) -> None:  # type: ignore[no-untyped-def]
    """The watch reads through ``broken`` while the attacker pauses the vault amid more
    blocks, then through the real RPC again: stopped and resumed each said once in
    #ops-alerts (``says`` in the first), /healthz naming the watcher meanwhile, the pause
    declared after (nothing missed), and nothing declared twice."""
    watch = bot.services.watch
    await first_look(bot, control, clock)
    real = watch.chain
    watch.chain = watch.reader.chain = broken
    rpc(chain, "anvil_mine", "0x5")
    tx = cast_send(chain, chain.attacker[1], chain.contracts[VAULT], "pause()")
    rpc(chain, "anvil_mine", "0x5")

    async def stopped() -> Any:
        return await ops_notices(control, "⛓️ Chain watch stopped") or None

    [notice] = await until(control, clock, stopped, "#ops-alerts told the watch stopped")
    assert says in described(notice)
    status, body = await healthz(world)
    assert status == 503 and "watcher" in body["failing"], body
    assert says in body["watcher"]["state"]
    await more_looks(bot, clock, 5)  # more failed looks: said once
    assert len(await stopped()) == 1 and await incident_channels(control) == []

    watch.chain = watch.reader.chain = real

    async def resumed() -> Any:
        return await ops_notices(control, "⛓️ Chain watch resumed") or None

    await until(control, clock, resumed, "#ops-alerts told the watch resumed")

    async def found() -> Any:
        return await declared(control, tx)

    await until(control, clock, found, "the pause sent during the outage, declared")
    await more_looks(bot, clock, 3)
    status, body = await healthz(world)
    assert "watcher" not in body.get("failing", []) and body["watcher"]["state"] == "watching"
    assert len(await resumed()) == 1 and len(await stopped()) == 1
    assert len(await incident_channels(control)) == 1


async def test_a_wrong_chain_stops_the_watch_once_and_it_resumes_without_missing_an_event(
    bot, control, clock, chain, world
):
    wrong = ChainClient(chain.rpc_url, 999, timedelta(seconds=5))
    await outage(
        bot, control, clock, chain, world, wrong, "chain 31337, not the configured chain 999"
    )


async def test_an_rpc_fully_down_is_said_once_each_way_and_no_event_is_missed(
    bot, control, clock, chain, world
):
    nobody = f"http://127.0.0.1:{free_port('127.0.0.1')}"  # nothing listens there
    down = ChainClient(nobody, 31337, timedelta(seconds=2))
    await outage(
        bot, control, clock, chain, world, down, f"The chain's RPC at {nobody} could not be reached"
    )
