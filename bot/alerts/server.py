"""The webhook server inside the bot's process (aiohttp).

``POST /alerts/alertmanager|grafana|generic``: size → credentials → content
type → shape; only then is the body committed, and only after the commit is it
answered ``202``. Every refusal is a 4xx JSON ``{"error": "..."}`` naming the
problem; nothing refused is stored. ``GET /healthz`` and ``GET /metrics`` need
no credentials and say nothing secret.

Slow clients are cut off: a connection has ``webhook.header_timeout`` to send a
whole request head, from connecting or from the previous answer (aiohttp's
keep-alive timer, which runs until a request's head is parsed), and a request
has ``webhook.read_timeout`` to send its body (``408``).
"""

from __future__ import annotations

import asyncio
import logging
import secrets as random_tokens
import socket
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from time import perf_counter
from typing import Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from bot.alerts.auth import Authenticator, Unauthorized
from bot.alerts.formats import SOURCES, BadPayload, check
from bot.alerts.metrics import AlertMetrics
from bot.alerts.store import NotificationStore, StoreUnavailable

log = logging.getLogger(__name__)

# A body up to this size is checked on the event loop (a typical notification takes
# well under a millisecond); a larger one, up to webhook.max_body_bytes, in a thread.
CHECK_ON_LOOP_BYTES = 16 * 1024

Health = Callable[[], Awaitable[tuple[bool, dict[str, Any]]]]
Refresh = Callable[[], Awaitable[None]]


class _Refusal(Exception):
    def __init__(self, status: int, outcome: str, message: str) -> None:
        super().__init__(message)
        self.status, self.outcome, self.message = status, outcome, message


def _error(status: int, message: str, **headers: str) -> web.Response:
    return web.json_response({"error": message}, status=status, headers=headers or None)


class AlertServer:
    def __init__(
        self,
        *,
        host: str,
        port: int,
        max_body_bytes: int,
        max_alerts: int,
        auth: Authenticator,
        store: NotificationStore,
        metrics: AlertMetrics,
        health: Health,
        refresh_gauges: Refresh | None = None,
        header_timeout: float = 10.0,
        read_timeout: float = 30.0,
    ) -> None:
        self.host, self.port = host, port
        self.header_timeout, self.read_timeout = header_timeout, read_timeout
        self.max_body_bytes = max_body_bytes
        self.max_alerts = max_alerts
        self._auth = auth
        self._store = store
        self._metrics = metrics
        self._health = health
        self._refresh = refresh_gauges
        self._runner: web.AppRunner | None = None
        # Parsing and validating a body (up to max_body_bytes) runs here, off the event
        # loop that also runs the Discord gateway and every other request.
        self._checks: ThreadPoolExecutor | None = None
        self.base_url = ""
        # Other phases' routes on the same server (mitigate's GitHub webhook): app -> None.
        self.mounts: list[Callable[[web.Application], None]] = []

    # -- the app -------------------------------------------------------------------------
    def app(self) -> web.Application:
        app = web.Application(client_max_size=self.max_body_bytes, middlewares=[self._json_errors])
        app.router.add_post("/alerts/{source}", self.receive)
        app.router.add_get("/healthz", self.healthz)
        app.router.add_get("/metrics", self.metrics)
        for mount in self.mounts:
            mount(app)
        return app

    @web.middleware
    async def _json_errors(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        try:
            return await handler(request)
        except web.HTTPRequestEntityTooLarge:
            return _error(
                413, f"body larger than {self.max_body_bytes} bytes (webhook.max_body_bytes)"
            )
        except web.HTTPMethodNotAllowed as error:
            allowed = ", ".join(sorted(error.allowed_methods))
            return _error(
                405, f"{request.method} is not allowed here; use {allowed}", Allow=allowed
            )
        except web.HTTPNotFound:
            return _error(
                404,
                f"no route {request.path}; alerts go to POST /alerts/{{{'|'.join(SOURCES)}}}",
            )
        except web.HTTPException as error:
            return _error(error.status, error.reason)
        except Exception:
            error_id = random_tokens.token_hex(4)
            log.exception("error %s answering %s %s", error_id, request.method, request.path)
            return _error(500, f"internal error (id {error_id}, also in the bot's log)")

    async def receive(self, request: web.Request) -> web.Response:
        source = request.match_info["source"]
        if source not in SOURCES:
            return _error(404, f"unknown alert source {source!r}; use one of {', '.join(SOURCES)}")
        started = perf_counter()
        try:
            row_id, alerts = await self._accept(source, request)
        except _Refusal as refusal:
            self._metrics.received.labels(source, refusal.outcome).inc()
            headers = (
                {"WWW-Authenticate": 'Bearer realm="incident-bot alerts"'}
                if refusal.status == 401
                else {}
            )
            answer = _error(refusal.status, refusal.message, **headers)
            if refusal.status == 408:
                answer.force_close()  # the rest of the body is not read
            return answer
        self._metrics.received.labels(source, "accepted").inc()
        self._metrics.accept_seconds.labels(source).observe(perf_counter() - started)
        return web.json_response({"status": "accepted", "id": row_id, "alerts": alerts}, status=202)

    async def _accept(self, source: str, request: web.Request) -> tuple[int, int]:
        length = request.content_length
        if length is not None and length > self.max_body_bytes:
            raise _Refusal(
                413,
                "too_large",
                f"body of {length} bytes is larger than {self.max_body_bytes} (webhook.max_body_bytes)",
            )
        try:
            async with asyncio.timeout(self.read_timeout):
                body = await request.read()
        except TimeoutError:
            raise _Refusal(
                408,
                "timeout",
                f"the body did not arrive within {self.read_timeout:g} s (webhook.read_timeout)",
            ) from None
        except web.HTTPRequestEntityTooLarge:
            raise _Refusal(
                413,
                "too_large",
                f"body larger than {self.max_body_bytes} bytes (webhook.max_body_bytes)",
            ) from None
        try:
            method = self._auth.check(request.headers, body)
        except Unauthorized as error:
            raise _Refusal(401, "unauthorized", str(error)) from None
        replay_key = self._auth.replay_key(request.headers, body) if method == "hmac" else None
        if request.content_type != "application/json":
            given = request.headers.get("Content-Type") or "none"
            raise _Refusal(
                415, "bad_content_type", f"Content-Type must be application/json, not {given[:100]}"
            )
        if not body.strip():
            raise _Refusal(400, "bad_request", "the body is empty; send the alert as JSON")
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            raise _Refusal(400, "bad_request", "the body is not UTF-8 text") from None
        try:
            if len(body) <= CHECK_ON_LOOP_BYTES:  # tens of microseconds: a thread hop costs more
                model, stored = check(source, body, self.max_alerts)
            else:
                model, stored = await asyncio.get_running_loop().run_in_executor(
                    self._checker(), check, source, body, self.max_alerts
                )
        except BadPayload as error:
            outcome = "too_many_alerts" if "alerts.max_alerts" in error.message else "invalid"
            raise _Refusal(error.status, outcome, error.message) from None
        if stored is not body:
            text = stored.decode("utf-8")
        try:
            row_id = await self._store.add(source, text, replay_key)
        except StoreUnavailable as error:
            raise _Refusal(
                503, "store_failed", f"could not store the notification ({error}); send it again"
            ) from None
        return row_id, len(getattr(model, "alerts", ()) or ()) or 1

    def _checker(self) -> ThreadPoolExecutor:
        if self._checks is None:
            self._checks = ThreadPoolExecutor(max_workers=2, thread_name_prefix="alert-check")
        return self._checks

    async def healthz(self, _request: web.Request) -> web.Response:
        ok, body = await self._health()
        return web.json_response(body, status=200 if ok else 503)

    async def metrics(self, _request: web.Request) -> web.Response:
        if self._refresh is not None:
            try:
                await self._refresh()
            except Exception as error:
                log.warning("could not refresh the gauges: %s", error)
        return web.Response(
            body=generate_latest(self._metrics.registry),
            headers={"Content-Type": CONTENT_TYPE_LATEST},
        )

    # -- serving -------------------------------------------------------------------------
    async def start(self, sock: socket.socket | None = None) -> str:
        """Listen on ``host``:``port``, or on ``sock`` (a socket the process keeps across
        a replica's step-down, bot/replica/webhook.py)."""
        self._runner = web.AppRunner(
            self.app(),
            access_log=None,
            handle_signals=False,
            keepalive_timeout=self.header_timeout,
        )
        await self._runner.setup()
        site: web.BaseSite = (
            web.TCPSite(self._runner, self.host, self.port, reuse_address=True)
            if sock is None
            else web.SockSite(self._runner, sock)
        )
        await site.start()
        server = site._server  # aiohttp exposes the bound socket only here
        sockets = getattr(server, "sockets", None) or []
        port = sockets[0].getsockname()[1] if sockets else self.port
        self.base_url = f"http://{self.host}:{port}"
        log.info("alert webhooks at %s/alerts/{%s}", self.base_url, ",".join(SOURCES))
        return self.base_url

    async def stop_accepting(self) -> None:
        """Accept no new connection; those accepted are still answered until ``stop``."""
        if self._runner is not None:
            for site in list(self._runner.sites):
                await site.stop()

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        checks, self._checks = self._checks, None
        if checks is not None:
            checks.shutdown(wait=True)
