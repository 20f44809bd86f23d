"""The chain's RPC not answering (issue 15's outage drill): /healthz names ``rpc`` from the
failed read on, and, probing once per check, stops naming it once the RPC answers again
(a command's failed read would otherwise leave /healthz at 503 for good)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from aiohttp import web

from bot.adapters.chain import ChainClient
from bot.errors import ExternalServiceError
from bot.sandbox_run import free_port

HOST = "127.0.0.1"


async def rpc(request: web.Request) -> web.Response:
    """A node of the smallest kind: chain 31337 at block 16."""
    call: dict[str, Any] = await request.json()
    result = {"eth_chainId": "0x7a69", "eth_blockNumber": "0x10"}[call["method"]]
    return web.json_response({"jsonrpc": "2.0", "id": call["id"], "result": result})


async def test_a_failed_read_names_rpc_until_a_probe_goes_through():
    port = free_port(HOST)
    client = ChainClient(f"http://{HOST}:{port}", 31337, timedelta(seconds=1))
    runner: web.AppRunner | None = None
    try:
        assert (await client.health())[0]  # nothing failed yet: no probe, healthy
        with pytest.raises(ExternalServiceError):
            await client.block_number()  # nobody listens on the port
        ok, state = await client.health()  # the probe fails too
        assert not ok and state.startswith("not answering"), state
        app = web.Application()
        app.router.add_post("/", rpc)
        runner = web.AppRunner(app)
        await runner.setup()
        await web.TCPSite(runner, HOST, port).start()  # the RPC is back
        assert await client.health() == (True, "ok")
        assert await client.block_number() == 16
    finally:
        await client.close()
        if runner is not None:
            await runner.cleanup()
