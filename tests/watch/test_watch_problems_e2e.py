"""What the chain watch refuses or cannot read, end to end on anvil: a log with a watched
topic that does not decode (another contract's event with the same topic) and a block range
the RPC refuses are each said once in #ops-alerts (ChannelNotices), declare nothing, and no
real event is missed around them; so is a log the RPC answers twice (declared once). Far
behind the head (after an outage, or through a capped RPC) the watch reads range after
range without waiting a poll for each."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from bot.adapters.chain import ChainClient
from bot.watch.rules import EVENTS
from sandbox.chain import VAULT
from tests.mitigate.conftest import cast, cast_send
from tests.mitigate.helpers import described, timeline, titled
from tests.watch import helpers as steps

pytestmark = [pytest.mark.chain, pytest.mark.manual_clock]
UNDECODABLE = "⛓️ Chain watch: a log that does not decode"
REFUSED = "⛓️ Chain watch: a block range the RPC refused"
MOST_BLOCKS = 4  # what the refusing RPC below accepts per eth_getLogs


@pytest.fixture
def world(chain_world):  # type: ignore[no-untyped-def]
    return chain_world


def emitter_code() -> str:
    """A contract that, called, emits ``Paused``'s topic with an indexed argument and no
    data: ``event Paused(address indexed account)``, another shape than OpenZeppelin's."""
    topic = EVENTS["Paused(address)"].topic.hex()
    runtime = "7f" + "00" * 12 + "ab" * 20 + "7f" + topic + "6000" + "6000" + "a2" + "00"
    size = len(runtime) // 2
    init = f"60{size:02x}80600b6000396000f3"
    assert len(init) // 2 == 0x0B
    return "0x" + init + runtime


@pytest.fixture
def emitter(chain) -> str:  # type: ignore[no-untyped-def]
    done = cast(
        "send",
        "--private-key",
        chain.deployer[1],
        "--rpc-url",
        chain.rpc_url,
        "--json",
        "--create",
        emitter_code(),
    )
    assert done.returncode == 0, done.stderr
    return str(json.loads(done.stdout)["contractAddress"]).lower()


@pytest.fixture
def overlay(emitter: str) -> dict[str, Any]:
    contracts = {
        "ATRIUM_VAULT": {"address": "ATRIUM_VAULT"},
        "OTHER_PAUSABLE": {"address": emitter, "events": ["Paused(address)"]},
    }
    return steps.overlay_with(contracts=contracts, max_range=16)


async def test_a_log_that_does_not_decode_is_said_once_and_declares_nothing(
    bot, control, clock, chain, emitter
):
    await steps.first_look(bot, control, clock)
    bad = [cast_send(chain, chain.deployer[1], emitter, "0x") for _ in range(2)]
    tx = cast_send(chain, chain.attacker[1], chain.contracts[VAULT], "pause()")

    async def found() -> Any:
        return await steps.declared(control, tx)

    await steps.until(control, clock, found, "the attacker's pause declared (nothing missed)")

    async def said() -> Any:
        return await steps.ops_notices(control, UNDECODABLE) or None

    [notice] = await steps.until(control, clock, said, "the undecodable log said")
    body = described(notice)
    assert emitter in body.lower() and "OTHER_PAUSABLE" in body and bad[0] in body
    assert "Paused(address)" in body and "indexed argument" in body
    await steps.more_looks(clock)
    assert len(await steps.ops_notices(control, UNDECODABLE)) == 1  # once for this cause
    assert len(await steps.incident_channels(control)) == 1  # the pause's, nothing else


@contextlib.asynccontextmanager
async def rpc_proxy(chain, rewrite) -> AsyncIterator[str]:  # type: ignore[no-untyped-def]
    """A JSON-RPC in front of anvil: ``rewrite(body, answer)`` may change each answer
    (``answer`` None: its own answer without asking anvil)."""
    async with aiohttp.ClientSession() as client:

        async def handle(request: web.Request) -> web.Response:
            body = await request.json()
            answer = rewrite(body, None)
            if answer is None:
                async with client.post(chain.rpc_url, json=body) as forwarded:
                    answer = rewrite(body, await forwarded.json())
            return web.json_response(answer)

        app = web.Application()
        app.router.add_post("/", handle)
        async with TestServer(app, host="127.0.0.1") as server:
            yield str(server.make_url("/"))


def refusing(body: dict[str, Any], answer: dict[str, Any] | None) -> dict[str, Any] | None:
    """eth_getLogs over MOST_BLOCKS blocks refused, as hosted RPCs do."""
    if answer is None and body.get("method") == "eth_getLogs":
        query = body["params"][0]
        span = int(query["toBlock"], 16) - int(query["fromBlock"], 16) + 1
        if span > MOST_BLOCKS:
            error = {"code": -32005, "message": f"block range too large ({span})"}
            return {"jsonrpc": "2.0", "id": body["id"], "error": error}
    return answer


def doubling(body: dict[str, Any], answer: dict[str, Any] | None) -> dict[str, Any] | None:
    """Every log of eth_getLogs answered twice."""
    if answer is not None and body.get("method") == "eth_getLogs":
        return {**answer, "result": [entry for entry in answer["result"] for _ in (1, 2)]}
    return answer


async def test_a_refused_block_range_is_said_once_and_read_in_parts(bot, control, clock, chain):
    async with rpc_proxy(chain, refusing) as url:
        await refused_range(bot, control, clock, chain, url)


async def refused_range(bot, control, clock, chain, url: str) -> None:  # type: ignore[no-untyped-def]
    watch = bot.services.watch
    await steps.first_look(bot, control, clock)
    real = watch.chain
    watch.chain = watch.reader.chain = ChainClient(url, 31337, timedelta(seconds=5))
    steps.rpc(chain, "anvil_mine", "0x6")
    tx = cast_send(chain, chain.attacker[1], chain.contracts[VAULT], "pause()")
    steps.rpc(chain, "anvil_mine", "0xa")

    async def found() -> Any:
        return await steps.declared(control, tx)

    await steps.until(control, clock, found, "the pause inside the refused range, declared")

    async def said() -> Any:
        return await steps.ops_notices(control, REFUSED) or None

    [notice] = await steps.until(control, clock, said, "the refused range said")
    assert "Reading 4 blocks at a time" in described(notice)
    assert "block range too large" in described(notice)
    steps.rpc(chain, "anvil_mine", "0x20")  # more to read: the watch widens, is refused again
    await steps.read_up_to(bot, control, clock, steps.head(chain))
    await steps.more_looks(clock)
    assert len(await steps.ops_notices(control, REFUSED)) == 1
    assert len(await steps.incident_channels(control)) == 1
    watch.chain = watch.reader.chain = real  # before the proxy closes


async def test_far_behind_the_watch_reads_on_without_waiting_a_poll_per_range(
    bot, control, clock, chain
):
    await steps.first_look(bot, control, clock)
    steps.rpc(chain, "anvil_mine", "0x64")  # 100 blocks: seven ranges of 16
    tx = cast_send(chain, chain.attacker[1], chain.contracts[VAULT], "pause()")
    clock.advance(steps.POLL)  # one poll, and no more

    async def found() -> Any:
        return await steps.declared(control, tx)

    await control.wait_for(found, timeout=20, interval=0.2, what="caught up within one poll")


async def test_a_duplicated_log_is_said_once_and_declared_once(bot, control, clock, chain):
    watch = bot.services.watch
    await steps.first_look(bot, control, clock)
    real = watch.chain
    async with rpc_proxy(chain, doubling) as url:
        watch.chain = watch.reader.chain = ChainClient(url, 31337, timedelta(seconds=5))
        tx = cast_send(chain, chain.attacker[1], chain.contracts[VAULT], "pause()")

        async def found() -> Any:
            return await steps.declared(control, tx)

        channel = await steps.until(control, clock, found, "the pause declared")

        async def said() -> Any:
            return await steps.ops_notices(control, "⛓️ Chain watch: an RPC answer") or None

        [notice] = await steps.until(control, clock, said, "the duplicate said")
        assert "duplicated in the answer" in described(notice) and tx in described(notice)
        second = cast_send(
            chain,
            chain.attacker[1],
            chain.contracts[VAULT],
            "transferOwnership(address)",
            chain.others[0][0],
        )

        async def joined() -> Any:
            return any(second in e for e in await timeline(bot, channel["id"])) or None

        await steps.until(control, clock, joined, "the next event, duplicated too")
        await steps.more_looks(clock)
        watch.chain = watch.reader.chain = real  # before the proxy closes
    assert len(await steps.ops_notices(control, "⛓️ Chain watch: an RPC answer")) == 1
    assert len(await steps.incident_channels(control)) == 1
    cited = [
        m for m in await control.messages(channel["id"]) if tx in described(m) and titled("🚨")(m)
    ]
    assert len(cited) == 1
