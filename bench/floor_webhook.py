"""The floor for the accept-latency benchmark: a bare aiohttp server that answers 202.

It reads the body and answers ``{"status": "accepted"}``: no credentials, no parse,
no database. Whatever the bot's webhook costs beyond this, under the same load
generator on the same machine, is the bot's own. Run as its own process:
``python -m bench.floor_webhook PORT``.
"""

from __future__ import annotations

import asyncio
import sys

from aiohttp import web


async def accept(request: web.Request) -> web.Response:
    await request.read()
    return web.json_response({"status": "accepted", "id": 0, "alerts": 1}, status=202)


async def serve(port: int) -> None:
    app = web.Application()
    app.router.add_post("/alerts/{source}", accept)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    print("floor webhook ready", flush=True)
    await asyncio.Event().wait()  # until the benchmark stops the process


def main() -> None:
    asyncio.run(serve(int(sys.argv[1])))


if __name__ == "__main__":
    main()
