"""The viewer's "fire sample alert": the world posts Alertmanager's payload to the bot's webhook."""

from __future__ import annotations

import aiohttp
from aiohttp import web

from sandbox.world import World, WorldOptions

from .conftest import Control


async def test_firing_the_sample_alert_posts_it_with_the_bearer_token(tmp_path, unused_tcp_port):
    received: list[tuple[str, dict]] = []

    async def alertmanager(request: web.Request) -> web.Response:
        received.append((request.headers["Authorization"], await request.json()))
        return web.json_response({"accepted": True}, status=202)

    receiver = web.Application()
    receiver.router.add_post("/alerts/alertmanager", alertmanager)
    runner = web.AppRunner(receiver)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", unused_tcp_port).start()
    world = World(
        WorldOptions(
            data_dir=tmp_path, port=0, webhook_base_url=f"http://127.0.0.1:{unused_tcp_port}"
        )
    )
    await world.start()
    try:
        async with aiohttp.ClientSession() as session:
            control = Control(world, session)
            status, answer = await control.post("/_sandbox/alerts", {})
    finally:
        await world.stop()
        await runner.cleanup()
    assert status == 200 and answer["status"] == 202
    [(authorization, payload)] = received
    assert authorization == f"Bearer {world.webhook_bearer_token}"
    assert payload["version"] == "4" and payload["alerts"][0]["status"] == "firing"


async def test_firing_without_a_webhook_server_is_a_409(control: Control):
    status, error = await control.post("/_sandbox/alerts", {})
    assert status == 409 and "webhook" in error["error"]
