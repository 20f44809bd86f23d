"""The chain watch (issue 14): the attacker's transaction mined → the commander's ping, and
the watcher's CPU while idle.

anvil mines a block every second (``--block-time 1``, as a real chain does, instead of one
block per transaction); the world runs in this process with that chain, the bot as its own
process (``incident-bot run``), as in production, watching the vault with
``poll_every = 1s`` and no confirmations.

1. **Idle CPU**: the bot's process CPU (user + system, from /proc) over a quiet stretch
   while blocks keep coming, once without ``[watch]`` and once with it: the difference is
   the watcher's cost.
2. **Mined → pinged**, over ``DRILLS`` drills: the attacker's ``transferOwnership`` is sent
   raw; a poller here notes the wall time each new block appears on the RPC (every 20 ms),
   so "mined" is when the transaction's block appeared; "pinged" is the world's
   ``created_at`` of the first message in the new incident channel that mentions the
   commander. Each drill is its own incident (``group_window = 0s``). p50/p95 reported.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import statistics
import subprocess
import tempfile
import threading
import time
import tomllib
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp
from eth_abi import encode
from eth_account import Account
from eth_utils import keccak

from bench.bench_triage import OVERLAY as ON_CALL
from bench.procs import percentile, spawn, stop
from bot.sandbox_run import free_port, sandbox_config, sandbox_secrets, write_config
from sandbox.chain import VAULT, Anvil, ChainPart, NodeTools, deploy_sync
from sandbox.control_client import Control
from sandbox.world import World, WorldOptions

HOST = "127.0.0.1"
BLOCK_TIME = 1.0
QUIET = {"escalate_after": "1h", "respond_within": "2h"}
OVERLAY: dict[str, Any] = {
    **tomllib.loads(ON_CALL),  # alice the commander, always
    "procedure": {"severities": {name: dict(QUIET) for name in ("P0", "P1", "P2")}},
}
WATCH = {
    "contracts": {"ATRIUM_VAULT": {"address": "ATRIUM_VAULT"}},
    "poll_every": "1s",
    "group_window": "0s",  # every drill its own incident
    "explorer_url": "https://explorer.example",
}


class Rpc:
    """Bare JSON-RPC to the node: the bench's own requests stay light."""

    def __init__(self, client: aiohttp.ClientSession, url: str) -> None:
        self.client, self.url, self.ids = client, url, 0

    async def call(self, method: str, *params: Any) -> Any:
        self.ids += 1
        body = {"jsonrpc": "2.0", "id": self.ids, "method": method, "params": list(params)}
        async with self.client.post(self.url, json=body) as answer:
            reply = await answer.json()
        if "error" in reply:
            raise RuntimeError(f"{method}: {reply['error']}")
        return reply["result"]


class Blocks:
    """The wall time each block number first appeared on the RPC (polled every 20 ms)."""

    def __init__(self, rpc: Rpc) -> None:
        self.rpc, self.seen = rpc, {}  # type: ignore[var-annotated]
        self.task: asyncio.Task[None] | None = None

    async def _poll(self) -> None:
        while True:
            number = int(await self.rpc.call("eth_blockNumber"), 16)
            self.seen.setdefault(number, time.time())
            await asyncio.sleep(0.02)

    def __enter__(self) -> Blocks:
        self.task = asyncio.create_task(self._poll())
        return self

    def __exit__(self, *_exc: object) -> None:
        assert self.task is not None
        self.task.cancel()


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def bot_ready(control: Control, world: World, watching: bool) -> None:
    await control.wait_for(lambda: control.request("GET", "commands"), timeout=60, what="commands")
    url = f"http://{HOST}:{world.webhook_port}/healthz"  # type: ignore[attr-defined]

    async def looked() -> bool | None:
        try:
            async with aiohttp.ClientSession() as client, client.get(url) as answer:
                body = await answer.json()
        except aiohttp.ClientError:
            return None  # its webhook server is not up yet
        return (not watching or (body.get("watcher") or {}).get("cursor") is not None) or None

    await control.wait_for(looked, timeout=60, what="the bot up (and the watch's first look)")


@contextlib.asynccontextmanager
async def running_bot(
    root: Path, world: World, control: Control, overlay: dict[str, Any]
) -> AsyncIterator[subprocess.Popen[str]]:
    """``incident-bot run`` with the world's configuration and ``overlay``, its output
    drained (a full pipe would stall it), stopped after."""
    config = sandbox_config(world, root, HOST, world.webhook_port, overlay)  # type: ignore[attr-defined]
    path = root / "bot.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    write_config(path, config, sandbox_secrets(world))
    bot = spawn("-m", "bot.cli", "run", "--config", str(path))
    tail: list[str] = []
    threading.Thread(
        target=lambda: [tail.append(line) for line in bot.stdout or ()], daemon=True
    ).start()
    try:
        await bot_ready(control, world, "watch" in overlay)
        yield bot
    except BaseException:
        print("".join(tail[-30:]))
        raise
    finally:
        stop(bot)


async def idle_cpu(bot: subprocess.Popen[str], seconds: float) -> float:
    """Percent of one core the bot's process used over ``seconds`` of quiet."""
    await asyncio.sleep(3)  # start-up's own work settles
    before, started = cpu_seconds(bot.pid), time.monotonic()
    await asyncio.sleep(seconds)
    used = cpu_seconds(bot.pid) - before
    return round(100 * used / (time.monotonic() - started), 2)


async def drill(
    rpc: Rpc, blocks: Blocks, control: Control, key: str, vault: str, nonce: int, alice: str
) -> float:
    """One attack: the ms from its block appearing to the commander's ping."""
    known = {c["id"] for c in (await control.world(refresh=True))["channels"]}
    new_owner = "0x" + os.urandom(20).hex()
    data = keccak(text="transferOwnership(address)")[:4] + encode(["address"], [new_owner])
    tx = {
        "to": vault,
        "data": "0x" + data.hex(),
        "value": 0,
        "gas": 100_000,
        "gasPrice": 10 * 10**9,
        "nonce": nonce,
        "chainId": 31337,
    }
    signed = Account.sign_transaction(tx, key)
    tx_hash = await rpc.call("eth_sendRawTransaction", "0x" + signed.raw_transaction.hex())

    async def receipt() -> Any:
        return await rpc.call("eth_getTransactionReceipt", tx_hash)

    mined = await control.wait_for(receipt, timeout=30, interval=0.05, what="the tx mined")
    block = int(mined["blockNumber"], 16)
    await control.wait_for(
        lambda: asyncio.sleep(0, blocks.seen.get(block)), timeout=5, what="the block noted"
    )

    async def pinged() -> datetime | None:
        for channel in (await control.world(refresh=True))["channels"]:
            if channel["id"] in known or not channel["name"].startswith("incident-"):
                continue
            for message in await control.messages(channel["id"]):
                if f"<@{alice}>" in (message["content"] or ""):
                    return datetime.fromisoformat(message["created_at"])
        return None

    at = await control.wait_for(pinged, timeout=60, interval=0.1, what="the commander's ping")
    return (at.timestamp() - blocks.seen[block]) * 1000


async def run(quick: bool) -> dict[str, Any]:
    drills, quiet = (5, 8.0) if quick else (12, 12.0)
    tools = NodeTools()
    if problem := tools.missing():
        return {"skipped": problem, "targets": [], "report": {"skipped": problem}}
    with tempfile.TemporaryDirectory(prefix="bench-watch-") as tmp:
        root = Path(tmp)
        node = Anvil.start_sync(tools, root / "anvil.log", HOST, block_time=BLOCK_TIME)
        world: World | None = None
        try:
            deployment = await asyncio.to_thread(deploy_sync, node.rpc_url, tools)
            webhook_port = free_port(HOST)
            world = World(
                WorldOptions(
                    data_dir=root / "world",
                    host=HOST,
                    port=0,
                    webhook_base_url=f"http://{HOST}:{webhook_port}",
                )
            )
            world.add_part(ChainPart(deployment=deployment))
            world.webhook_port = webhook_port  # type: ignore[attr-defined]
            await world.start()
            async with Control(world.base_url) as control, aiohttp.ClientSession() as client:
                async with running_bot(root / "plain", world, control, OVERLAY) as bot:
                    base = await idle_cpu(bot, quiet)
                watched = {**OVERLAY, "watch": WATCH}
                async with running_bot(root / "watching", world, control, watched) as bot:
                    with_watch = await idle_cpu(bot, quiet)
                    measured = await _drills(control, client, deployment, drills)
        finally:
            if world is not None:
                await world.stop()
            node.stop_sync()
    return {
        "block_time_s": BLOCK_TIME,
        "poll_every": WATCH["poll_every"],
        "drills": drills,
        "mined_to_ping_ms": [round(v, 1) for v in measured],
        "p50_ms": round(statistics.median(measured), 1),
        "p95_ms": round(percentile(measured, 0.95), 1),
        "idle_cpu_percent_without_watch": base,
        "idle_cpu_percent_with_watch": with_watch,
        "watcher_idle_cpu_percent": round(with_watch - base, 2),
        "targets": [],
        "report": {
            "mined → commander pinged": (
                f"p50 {round(statistics.median(measured))} ms, "
                f"p95 {round(percentile(measured, 0.95))} ms over {drills} drills "
                f"({BLOCK_TIME:g} s blocks, poll_every {WATCH['poll_every']})"
            ),
            "bot idle CPU (one core)": f"{base} % without [watch], {with_watch} % with it",
        },
    }


async def _drills(
    control: Control, client: aiohttp.ClientSession, deployment: Any, drills: int
) -> list[float]:
    rpc = Rpc(client, deployment.rpc_url)
    attacker, key = deployment.attacker
    vault = deployment.contracts[VAULT]
    alice = await control.user_id("alice")
    nonce = int(await rpc.call("eth_getTransactionCount", attacker, "pending"), 16)
    measured: list[float] = []
    with Blocks(rpc) as blocks:
        for number in range(drills):
            measured.append(await drill(rpc, blocks, control, key, vault, nonce + number, alice))
            await asyncio.sleep(1)  # the bot's own follow-ups (X draft, #ops-alerts) settle
    return measured
