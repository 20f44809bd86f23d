"""The webhook socket a replica keeps across a step-down (bot/replica/webhook.py)."""

from __future__ import annotations

import socket

import aiohttp
import pytest

from bot.replica.webhook import STARTING_OVER, WebhookSocket, WebhookUnavailable


def test_a_taken_port_is_named_with_the_settings_to_change():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        with pytest.raises(WebhookUnavailable) as raised:
            WebhookSocket("127.0.0.1", port)
    assert f"127.0.0.1:{port}" in str(raised.value)
    assert "webhook.port" in str(raised.value)


async def test_between_two_runtimes_every_request_is_answered_503_send_it_again():
    class Stopped:  # the runtime's server, already stopped by its bot
        async def stop_accepting(self) -> None: ...

        async def stop(self) -> None: ...

    webhook = WebhookSocket("127.0.0.1", 0)
    try:
        await webhook.hand_back(Stopped())  # type: ignore[arg-type]
        base = f"http://127.0.0.1:{webhook.port}"
        async with aiohttp.ClientSession() as http:
            async with http.post(f"{base}/alerts/generic", json={}) as answer:
                assert answer.status == 503
                assert answer.headers["Retry-After"] == "2"
                assert (await answer.json())["error"] == STARTING_OVER
            async with http.get(f"{base}/healthz") as answer:
                assert answer.status == 503
                assert (await answer.json())["gateway"] == "standby"
    finally:
        await webhook.close()
