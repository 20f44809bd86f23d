"""The control API's routes for faults and holds (what Discord does wrong, and when), the
emulator's settings, and alerts fired at the bot's webhook server."""

from __future__ import annotations

import re

import aiohttp
from aiohttp import web

from . import alerts
from .control_base import ControlBase
from .discord.interactions import ControlError
from .faults import GATEWAY_KINDS, HOLD_KINDS, KINDS


class FaultsControl(ControlBase):
    # ------------------------------------------------------------------ faults, settings
    async def add_fault(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        kind = body.get("kind")
        if kind not in KINDS:
            raise ControlError(400, f"kind must be one of {', '.join(sorted(KINDS))}")
        try:
            count = int(body.get("count", 1))
        except (TypeError, ValueError):
            raise ControlError(400, "count must be an integer") from None
        if count < 1:
            raise ControlError(400, "count must be at least 1")
        prefix = body.get("path_prefix")
        if prefix is not None and (not isinstance(prefix, str) or kind in GATEWAY_KINDS):
            raise ControlError(400, "path_prefix is a string, for rest kinds only")
        method, pattern = body.get("method"), body.get("path_pattern")
        for value, name in ((method, "method"), (pattern, "path_pattern")):
            if value is not None and (not isinstance(value, str) or kind not in HOLD_KINDS):
                raise ControlError(400, f"{name} is a string, for hold kinds only")
        if pattern is not None:
            try:
                re.compile(pattern)
            except re.error as error:
                raise ControlError(
                    400, f"path_pattern is not a regular expression: {error}"
                ) from None
        applied = 0
        gateway = self.discord.gateway
        if kind == "disconnect":
            applied = gateway.disconnect(count)
        elif kind == "reconnect":
            applied = gateway.reconnect(count)
        if count > applied:
            self.discord.faults.add(kind, count - applied, prefix, method, pattern)
        return web.json_response(
            {"applied_now": applied, "pending": self.discord.faults.describe()}, status=201
        )

    async def list_faults(self, request: web.Request) -> web.Response:
        return web.json_response({"pending": self.discord.faults.describe()})

    async def list_holds(self, request: web.Request) -> web.Response:
        return web.json_response({"held": self.discord.faults.describe_held()})

    async def release_holds(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        held_id, drop = body.get("id"), body.get("drop", False)
        if held_id is not None and (isinstance(held_id, bool) or not isinstance(held_id, int)):
            raise ControlError(400, "id is an integer (omit it to release every held request)")
        if not isinstance(drop, bool):
            raise ControlError(400, "drop is true or false")
        released = self.discord.faults.release(held_id, drop)
        return web.json_response({"released": [h.describe() for h in released]})

    async def get_settings(self, request: web.Request) -> web.Response:
        return web.json_response(
            {
                "rest_latency_ms": self.discord.settings.rest_latency_ms,
                "rate_limits": self.discord.rate_limits.enabled,
            }
        )

    async def get_rate_limits(self, request: web.Request) -> web.Response:
        return web.json_response(self.discord.rate_limits.describe())

    async def put_settings(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        if "rest_latency_ms" in body:
            try:
                latency = float(body["rest_latency_ms"])
            except (TypeError, ValueError):
                raise ControlError(400, "rest_latency_ms must be a number") from None
            if latency < 0:
                raise ControlError(400, "rest_latency_ms must not be negative")
            self.discord.settings.rest_latency_ms = latency
        if "rate_limits" in body:
            if not isinstance(body["rate_limits"], bool):
                raise ControlError(400, "rate_limits must be true or false")
            self.discord.rate_limits.enabled = body["rate_limits"]
        return await self.get_settings(request)

    # ------------------------------------------------------------------ alerts
    async def sample_alert(self, request: web.Request) -> web.Response:
        return web.json_response(alerts.sample_alertmanager_payload())

    async def fire_alert(self, request: web.Request) -> web.Response:
        """Forward an Alertmanager payload (the sample by default) to the bot's webhook server."""
        body = await self._body(request)
        base_url = self.world.options.webhook_base_url
        if not base_url:
            raise ControlError(
                409, "the world has no webhook base_url (WorldOptions.webhook_base_url)"
            )
        payload = body.get("payload") or alerts.sample_alertmanager_payload()
        try:
            status, text = await alerts.fire(
                base_url, self.world.webhook_bearer_token, self.world.webhook_hmac_secret, payload
            )
        except (OSError, TimeoutError, aiohttp.ClientError) as error:
            raise ControlError(502, f"the bot's webhook server did not answer: {error}") from None
        return web.json_response({"status": status, "body": text, "payload": payload})
