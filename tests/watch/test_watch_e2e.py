"""The chain watch end to end: the real bot in the sandbox, on anvil; the attacker's
transactions sent with cast, as anyone drilling the detection would."""

from __future__ import annotations

from typing import Any

import pytest

from bot.errors import WrongChannel
from sandbox.chain import VAULT
from tests.e2e.helpers import text_of
from tests.mitigate.conftest import cast_send
from tests.mitigate.helpers import described, timeline
from tests.watch.helpers import (
    cited_and_paged,
    first_channel,
    first_look,
    incident_channels,
    overlay_with,
    until,
)

pytestmark = [pytest.mark.chain, pytest.mark.manual_clock]


@pytest.fixture
def world(chain_world):  # type: ignore[no-untyped-def]
    return chain_world


@pytest.fixture
def overlay() -> dict[str, Any]:
    return overlay_with()


async def test_the_attackers_pause_opens_a_p0_citing_its_tx_and_pages_the_commander(
    bot, control, clock, chain
):
    await first_look(bot, control, clock)
    world = await control.world(refresh=True)
    attacker = world["chain"]["attacker"]
    assert attacker["address"] == chain.attacker[0]
    tx = cast_send(chain, attacker["private_key"], chain.contracts[VAULT], "pause()")

    channel = await first_channel(control, clock)
    assert "unauthorized-admin-action" in channel["name"]
    message = await cited_and_paged(control, clock, channel["id"], tx)
    body = described(message)
    assert f"https://explorer.example/tx/{tx}" in body
    assert chain.attacker[0] in body and "Paused(account=" in body
    kickoff = next(m for m in await control.messages(channel["id"]) if "commander" in m["content"])
    assert "Declared by the chain watch at" in described(kickoff)  # not "by an alert"

    async def declared() -> Any:
        try:
            return await bot.services.incidents.in_channel(channel["id"])
        except WrongChannel:
            return None  # still opening

    incident = await until(control, clock, declared, "the incident declared")
    assert incident.severity == "P0" and incident.source == "chain"
    events = await timeline(bot, channel["id"])
    assert any(e.startswith("chain_watch_event: Unauthorized admin action") for e in events)

    # A second event of the same attack, moments later, joins the same incident.
    newowner = chain.others[0][0]
    second = cast_send(
        chain,
        attacker["private_key"],
        chain.contracts[VAULT],
        "transferOwnership(address)",
        newowner,
    )

    async def joined() -> bool | None:
        return any(second in e for e in await timeline(bot, channel["id"])) or None

    await until(control, clock, joined, "the second event in the same incident")
    assert len(await incident_channels(control)) == 1
    events = await timeline(bot, channel["id"])
    assert any(e.startswith("chain_watch_event: Same attack") and second in e for e in events), (
        events
    )
    assert text_of  # (the helpers' import stays used by later tests)
