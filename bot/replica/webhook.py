"""The webhook's listening socket, kept by the process across a step-down.

A replica that lost the lease closes its bot and starts over as a standby
(bot/runtime.py ``run_until``); its webhook server belongs to the bot that closes.
So that a sender never meets a refused connection meanwhile, the process binds the
webhook's port once: each runtime's server listens on a duplicate of that socket,
and between two runtimes a bridge answers every request with a clear ``503``
(send it again) on it. A connection arriving in the instant between the two waits
in the socket's backlog and is answered by whichever serves next.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from typing import Any

from aiohttp import web

from bot.alerts.server import AlertServer

log = logging.getLogger(__name__)

RETRY_AFTER_S = 2
DRAIN_S = 0.25
STARTING_OVER = (
    "this replica is starting over as a standby and stores nothing for a moment; send it again"
)


class WebhookUnavailable(Exception):
    """The webhook's port cannot be bound (taken, or the address is not this host's)."""


class WebhookSocket:
    def __init__(self, host: str, port: int) -> None:
        try:
            family, kind, proto, _, address = socket.getaddrinfo(
                host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
            )[0]
            self._socket = socket.socket(family, kind, proto)
            self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self._socket.bind(address)
        except OSError as error:
            if hasattr(self, "_socket"):
                self._socket.close()
            raise WebhookUnavailable(
                f"the webhook cannot listen on {host}:{port} ({error}); "
                "set webhook.host and webhook.port (INCIDENT_BOT_WEBHOOK_HOST, _PORT)"
            ) from None
        self._socket.listen(128)
        self._socket.setblocking(False)
        self.port: int = self._socket.getsockname()[1]
        self._bridge: web.ServerRunner | None = None

    async def serve(self, server: AlertServer) -> str:
        """``server`` answers from now on. It listens first; then the bridge, if up, accepts
        no more and has ``DRAIN_S`` to answer the connections it accepted just before (as
        ``hand_back`` drains ``server``): stopping it at once reset them."""
        url = await server.start(sock=self._socket.dup())
        await self._stop_bridge(drain=True)
        return url

    async def hand_back(self, server: AlertServer) -> None:
        """``server`` stops answering; the bridge answers 503 until the next ``serve``.

        The bridge listens first; then ``server`` accepts no more and has ``DRAIN_S`` to
        read the requests of connections it accepted just before (stopping closes a
        connection whose request has not arrived yet).
        """
        if self._bridge is None:
            bridge = web.ServerRunner(web.Server(_starting_over), handle_signals=False)
            await bridge.setup()
            await web.SockSite(bridge, self._socket.dup()).start()
            self._bridge = bridge
        await server.stop_accepting()
        await asyncio.sleep(DRAIN_S)
        await server.stop()

    async def close(self) -> None:
        await self._stop_bridge()
        self._socket.close()

    async def _stop_bridge(self, drain: bool = False) -> None:
        bridge, self._bridge = self._bridge, None
        if bridge is not None:
            if drain:
                for site in list(bridge.sites):
                    await site.stop()
                await asyncio.sleep(DRAIN_S)
            await bridge.cleanup()


async def _starting_over(request: web.BaseRequest) -> web.StreamResponse:
    body: dict[str, Any] = {"error": STARTING_OVER}
    if request.path == "/healthz":
        body = {"status": "unavailable", "gateway": "standby", "failing": ["replica"], **body}
    answer = web.json_response(body, status=503, headers={"Retry-After": str(RETRY_AFTER_S)})
    answer.force_close()  # nobody keeps a connection to the bridge: the next one is served
    return answer
