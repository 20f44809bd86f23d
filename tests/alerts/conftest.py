"""The webhook server for real: its aiohttp app on loopback, a real SQLite file behind it.

``ServerThread`` runs the server in a thread of its own, so synchronous tests
(hypothesis) can throw requests at it with ``http.client``.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import http.client
import json
import sqlite3
import threading
from pathlib import Path
from typing import Any

import pytest

from bot.alerts.auth import Authenticator
from bot.alerts.metrics import AlertMetrics
from bot.alerts.server import AlertServer
from bot.alerts.store import NotificationStore
from bot.alerts.writer import Writer
from storage.db import upgrade

TOKEN = "tok-" + "a1b2c3d4" * 4
OLD_TOKEN = "tok-" + "9f8e7d6c" * 4  # the one being rotated out
SECRET = "hmac-" + "5e4d3c2b" * 4
PAYLOADS = Path(__file__).resolve().parent / "payloads"
MAX_BODY = 64 * 1024
MAX_ALERTS = 50


def payload(name: str) -> dict[str, Any]:
    return json.loads((PAYLOADS / name).read_text())


def sign(body: bytes, secret: str = SECRET, timestamp: str | None = None) -> dict[str, str]:
    signed = body if timestamp is None else timestamp.encode() + b":" + body
    headers = {
        "X-Grafana-Alerting-Signature": hmac.new(
            secret.encode(), signed, hashlib.sha256
        ).hexdigest()
    }
    if timestamp is not None:
        headers["X-Grafana-Alerting-Timestamp"] = timestamp
    return headers


def bearer(token: str = TOKEN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


JSON = {"Content-Type": "application/json"}


class ServerThread:
    def __init__(
        self,
        database: Path,
        max_body: int = MAX_BODY,
        max_alerts: int = MAX_ALERTS,
        *,
        header_timeout: float = 10.0,
        read_timeout: float = 30.0,
        **auth_options: Any,
    ) -> None:
        self.database = database
        self.max_body, self.max_alerts = max_body, max_alerts
        self.header_timeout, self.read_timeout = header_timeout, read_timeout
        upgrade(database)
        self.metrics = AlertMetrics()
        self._auth = Authenticator.from_secrets([TOKEN, OLD_TOKEN], [SECRET], **auth_options)
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the webhook server did not start")

    def _serve(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self._start())
        self._ready.set()
        self._loop.run_forever()

    async def _start(self) -> None:
        self.writer = Writer(self.database)
        self.store = NotificationStore(self.writer)

        async def health() -> tuple[bool, dict[str, Any]]:
            return True, {"database": "ok", "gateway": "none"}

        self.server = AlertServer(
            host="127.0.0.1",
            port=0,
            max_body_bytes=self.max_body,
            max_alerts=self.max_alerts,
            auth=self._auth,
            store=self.store,
            metrics=self.metrics,
            health=health,
            header_timeout=self.header_timeout,
            read_timeout=self.read_timeout,
        )
        await self.server.start()
        self.port = int(self.server.base_url.rsplit(":", 1)[1])

    def request(
        self, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None
    ) -> tuple[int, dict[str, str], bytes]:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            connection.request(method, path, body=body, headers=headers or {})
            response = connection.getresponse()
            return response.status, dict(response.getheaders()), response.read()
        finally:
            connection.close()

    def post(
        self, source: str, body: bytes | dict[str, Any], headers: dict[str, str] | None = None
    ) -> tuple[int, dict[str, Any]]:
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        status, response_headers, answer = self.request(
            "POST", f"/alerts/{source}", raw, {**JSON, **bearer(), **(headers or {})}
        )
        assert response_headers.get("Content-Type", "").startswith("application/json"), answer
        return status, json.loads(answer)

    def stored(self) -> list[tuple[str, str]]:
        with sqlite3.connect(self.database) as db:
            return db.execute("SELECT source, body FROM alert_notifications ORDER BY id").fetchall()

    def close(self) -> None:
        async def stop() -> None:
            await self.server.stop()
            await self.store.close()
            await self.writer.close()

        asyncio.run_coroutine_threadsafe(stop(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)


@pytest.fixture
def server(tmp_path: Path):
    running = ServerThread(tmp_path / "alerts.sqlite3")
    try:
        yield running
    finally:
        running.close()
