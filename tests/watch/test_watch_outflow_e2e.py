"""The outflow rule end to end on anvil: the attacker, operator of the vault, sweeps the
vault's ATRIUM_TOKEN out with ``cast send``; under the limit it is counted and nothing is
declared, over it within the window a P0 "Outflow over limit" opens, citing the decoded
transfers, the sender, the tx, the block and the explorer link, and pages the commander.
The token's ordinary transfers (not out of the vault) count for nothing."""

from __future__ import annotations

from typing import Any

import pytest

from sandbox.chain import TOKEN, VAULT
from tests.mitigate.conftest import cast_send
from tests.mitigate.helpers import described, timeline
from tests.watch import helpers as steps

pytestmark = [pytest.mark.chain, pytest.mark.manual_clock]
E18 = 10**18


@pytest.fixture
def world(chain_world):  # type: ignore[no-untyped-def]
    return chain_world


@pytest.fixture
def overlay() -> dict[str, Any]:
    rule = {"token": TOKEN, "vault": VAULT, "limit": "1000e18", "window": "1h"}
    return steps.overlay_with(outflows=[rule])


async def test_outflows_over_the_limit_within_the_window_declare_a_p0(bot, control, clock, chain):
    await steps.first_look(bot, control, clock)
    attacker, key = chain.attacker
    vault, token = chain.contracts[VAULT], chain.contracts[TOKEN]
    sweep = "sweep(address,address,uint256)"
    first = cast_send(chain, key, vault, sweep, token, attacker, str(600 * E18))
    # The attacker moves what it took on: the token's transfer, not the vault's outflow.
    onward = chain.others[0][0]
    cast_send(chain, key, token, "transfer(address,uint256)", onward, str(500 * E18))
    await steps.read_up_to(bot, control, clock, steps.head(chain))
    assert await steps.incident_channels(control) == []  # 600 of 1000: counted, nothing declared

    second = cast_send(chain, key, vault, sweep, token, attacker, str(500 * E18))

    channel = await steps.first_channel(control, clock)
    assert "outflow-over-limit" in channel["name"]
    message = await steps.cited_and_paged(control, clock, channel["id"], second, "🚨 Outflow")
    body = described(message)
    assert f"https://explorer.example/tx/{second}" in body and attacker in body
    assert f"{1100 * E18} of {TOKEN} out of {VAULT} within 1h, over the limit {1000 * E18}" in body
    assert f"Transfer(from={vault}, to={attacker}, value={500 * E18})" in body
    assert "**block**" in body
    events = await timeline(bot, channel["id"])
    assert any(e.startswith("chain_watch_event: Outflow over limit") for e in events), events
    assert not any(first in e for e in events)  # the first sweep was only counted

    # The drain goes on: the next sweep joins the same incident.
    third = cast_send(chain, key, vault, sweep, token, attacker, str(10 * E18))

    async def joined() -> bool | None:
        return any(third in e for e in await timeline(bot, channel["id"])) or None

    await steps.until(control, clock, joined, "the next outflow in the same incident")
    assert len(await steps.incident_channels(control)) == 1


async def test_a_sweep_a_reorg_dropped_counts_no_more(bot, control, clock, chain):
    await steps.first_look(bot, control, clock)
    attacker, key = chain.attacker
    vault, token = chain.contracts[VAULT], chain.contracts[TOKEN]
    sweep = "sweep(address,address,uint256)"
    snapshot = steps.rpc(chain, "evm_snapshot")
    cast_send(chain, key, vault, sweep, token, attacker, str(600 * E18))
    await steps.read_up_to(bot, control, clock, steps.head(chain))
    assert steps.rpc(chain, "evm_revert", snapshot) == "true"  # the sweep's block is gone
    for _ in range(3):
        steps.rpc(chain, "evm_mine")

    async def rewound() -> bool | None:
        cursor = bot.services.watch.cursor
        return (cursor is not None and cursor < steps.head(chain)) or None

    await steps.until(control, clock, rewound, "the reorg seen (the cursor back)")
    await steps.read_up_to(bot, control, clock, steps.head(chain))
    # 600 dropped + 500 now: 500 of 1000, nothing to declare (1100 if the dropped one counted).
    cast_send(chain, key, vault, sweep, token, attacker, str(500 * E18))
    await steps.read_up_to(bot, control, clock, steps.head(chain))
    await steps.more_looks(clock)
    assert await steps.incident_channels(control) == []


async def test_a_rule_keeps_its_count_when_the_rules_are_reordered(bot, control, clock, chain):
    await steps.first_look(bot, control, clock)
    attacker, key = chain.attacker
    vault, token = chain.contracts[VAULT], chain.contracts[TOKEN]
    sweep = "sweep(address,address,uint256)"
    cast_send(chain, key, vault, sweep, token, attacker, str(600 * E18))
    await steps.read_up_to(bot, control, clock, steps.head(chain))
    # The operator adds a rule before it and restarts: the vault's rule is now the second.
    ours = bot.overlay["watch"]["outflows"][0]
    before = {**ours, "vault": "PRAETOR_TIMELOCK"}
    bot.overlay = steps.overlay_with(outflows=[before, ours])
    await bot.restart()
    second = cast_send(chain, key, vault, sweep, token, attacker, str(500 * E18))

    async def found() -> Any:
        return await steps.declared(control, second)

    channel = await steps.until(control, clock, found, "600 + 500 over 1000: declared")
    assert "outflow-over-limit" in channel["name"]
