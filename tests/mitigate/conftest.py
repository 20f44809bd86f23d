"""This phase's fixtures: the end-to-end ones (a sandbox world, the real bot in it, the
control API, the bot's clock), and the test chain: one anvil node per session (npm
``@foundry-rs/anvil``) and a fresh deployment of the project's contracts per test."""

from __future__ import annotations

import json
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from bot.sandbox_run import free_port
from sandbox.chain import Anvil, ChainPart, Deployment, NodeTools, deploy_sync
from sandbox.world import World, WorldOptions
from tests.e2e.conftest import *  # noqa: F403  (every e2e fixture, as the e2e tests get them)
from tests.e2e.conftest import HOST, bounded

TOOLS = NodeTools()


@pytest.fixture(scope="session")
def anvil(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Anvil]:
    """One anvil node for the session. Skipped only when node_modules is absent (`make test`
    runs `make node` first, so CI always has it); any other problem fails."""
    if not (TOOLS.root / "node_modules").is_dir():
        pytest.skip("node tooling is not installed: run `make node` (anvil, cast, solc from npm)")
    problem = TOOLS.missing()
    if problem:
        pytest.fail(problem)
    node = Anvil.start_sync(TOOLS, tmp_path_factory.mktemp("anvil") / "anvil.log")
    try:
        yield node
    finally:
        node.stop_sync()


@pytest.fixture
def chain(anvil: Anvil) -> Deployment:
    """The contracts deployed afresh for this test (new addresses, nothing paused)."""
    return deploy_sync(anvil.rpc_url, TOOLS)


@pytest.fixture
async def chain_world(tmp_path: Path, chain: Deployment) -> AsyncIterator[World]:
    """A sandbox world whose ``chain`` is this test's deployment (the session's anvil):
    the world fixture of the e2e tests, with the chain part in it."""
    webhook_port = free_port(HOST)
    world = World(
        WorldOptions(
            data_dir=tmp_path / "world",
            host=HOST,
            port=0,
            webhook_base_url=f"http://{HOST}:{webhook_port}",
        )
    )
    world.add_part(ChainPart(deployment=chain))
    world.webhook_port = webhook_port  # type: ignore[attr-defined]
    await world.start()
    try:
        yield world
    finally:
        await bounded(world.stop(), "stopping the world")


def cast(*args: str) -> subprocess.CompletedProcess[str]:
    """Run npm's cast as a signer would (their key on their command line, never the bot's)."""
    binary = TOOLS.binary("cast")
    assert binary is not None
    return subprocess.run(
        [str(binary), *args], capture_output=True, text=True, timeout=60, check=False
    )


def cast_send(deployment: Deployment, key: str, to: str, *call: str) -> str:
    """`cast send` by the holder of ``key``; the transaction hash (fails the test if not mined)."""
    done = cast("send", to, *call, "--private-key", key, "--rpc-url", deployment.rpc_url, "--json")
    assert done.returncode == 0, done.stderr
    receipt = json.loads(done.stdout)
    assert receipt["status"] in ("0x1", 1), receipt
    return str(receipt["transactionHash"])


def cast_call(deployment: Deployment, to: str, *call: str) -> str:
    done = cast("call", to, *call, "--rpc-url", deployment.rpc_url)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()
