"""The sandbox world's chain: anvil started and the contracts deployed at world start, the
three signer members named with their development accounts, and the bot configured for it."""

from __future__ import annotations

import pytest

from bot.sandbox_chain import sandbox_watch
from bot.sandbox_run import sandbox_config
from bot.settings import parse_config
from sandbox.chain import KILL_SWITCH, TIMELOCK, VAULT
from sandbox.world import World, WorldOptions
from tests.mitigate.conftest import TOOLS, cast_call

pytestmark = pytest.mark.chain


async def test_the_world_describes_its_chain_and_the_bot_is_configured_for_it(tmp_path, anvil):
    assert TOOLS.missing() is None  # the anvil fixture skipped already if node_modules is absent
    world = World(WorldOptions(data_dir=tmp_path / "world", port=0, chain=True))
    await world.start()
    try:
        chain = world.describe()["chain"]
        assert chain["chain_id"] == 31337 and chain["shape"] == "a"
        assert set(chain["contracts"]) >= {TIMELOCK, VAULT, KILL_SWITCH}
        names = {u["id"]: u["name"] for u in world.describe()["users"]}
        assert [names[s["user_id"]] for s in chain["signers"]] == ["bob", "carol", "dave"]
        assert all(s["private_key"].startswith("0x") for s in chain["signers"])

        class Deployed:  # what cast_call needs
            rpc_url = chain["rpc_url"]

        assert cast_call(Deployed, chain["contracts"][VAULT], "paused()(bool)") == "false"  # type: ignore[arg-type]
        config = parse_config(sandbox_config(world, tmp_path, "127.0.0.1", 0, {}))
        assert config.mitigate.chain.rpc_url == chain["rpc_url"]
        assert config.mitigate.addresses[TIMELOCK] == chain["contracts"][TIMELOCK]
        assert config.mitigate.actions["pause"].effect.event == "Paused(address)"
        # `make run` watches the world's contracts, so the attacker's `cast send` is a P0.
        raw = sandbox_config(world, tmp_path, "127.0.0.1", 0, {})
        raw["watch"] = sandbox_watch(chain, world.base_url)
        watch = parse_config(raw).watch
        assert set(watch.contracts) == {VAULT, TIMELOCK}
        assert [(r.token, r.vault) for r in watch.outflows] == [("ATRIUM_TOKEN", VAULT)]
        assert watch.explorer_url == f"{world.base_url}/#chain"  # the viewer's chain view
    finally:
        await world.stop()


async def test_a_world_without_the_chain_option_starts_no_node(tmp_path):
    world = World(WorldOptions(data_dir=tmp_path / "world", port=0))
    await world.start()
    try:
        assert world.describe()["chain"] is None
    finally:
        await world.stop()


def test_shape_b_is_one_setting_away_and_configures_the_safe():
    from bot.cli import _parser
    from bot.sandbox_chain import sandbox_mitigate

    args = _parser().parse_args(["sandbox", "--chain-shape", "b"])
    assert args.chain_shape == "b"
    described = {
        "rpc_url": "http://127.0.0.1:1",
        "chain_id": 31337,
        "contracts": {"ATRIUM_SAFE": "0x" + "1" * 40},
        "signers": [],
        "shape": "b",
    }
    assert sandbox_mitigate(described)["safe"] == "ATRIUM_SAFE"
    shape_a = sandbox_mitigate({**described, "shape": "a"})
    assert "safe" not in shape_a and shape_a["threshold_view"] == "threshold()"
