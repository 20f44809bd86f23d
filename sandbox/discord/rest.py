"""Discord REST API v10 routes, mounted at ``/api/v10``.

Every answer carries ``Content-Type: application/json`` exactly (discord.py compares it
verbatim) and Discord's rate-limit headers. A middleware adds the configured latency,
injected faults, the bot-token check and the request log.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from ..faults import AFTER_EFFECT, FORBIDDEN, HOLD, HOLD_AFTER, Fault, Faults
from .errors import DiscordError
from .interactions import Interactions
from .model import emoji_text, iso, now
from .ratelimits import RateLimits, Verdict
from .rest_applications import ApplicationRoutes
from .rest_base import json_body
from .rest_channels import ChannelRoutes
from .rest_guild import GuildRoutes
from .rest_messages import MessageRoutes
from .rest_reactions_pins import ReactionPinRoutes
from .state import DiscordState

log = logging.getLogger(__name__)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
PUBLIC_PREFIXES = ("/interactions/", "/webhooks/")
_PATTERN = re.compile(r"\{(\w+)(?::[^}]*)?\}")


@dataclass
class Settings:
    rest_latency_ms: float = 0.0


@dataclass
class RequestLog:
    entries: list[dict[str, Any]] = field(default_factory=list)

    def add(self, method: str, path: str, query: str, status: int) -> None:
        self.entries.append(
            {"at": iso(now()), "method": method, "path": path, "query": query, "status": status}
        )
        if len(self.entries) > 20000:
            del self.entries[:5000]


class RestApi(ApplicationRoutes, GuildRoutes, ChannelRoutes, MessageRoutes, ReactionPinRoutes):
    """The REST half of the emulator: middleware and the route table; the handlers are in rest_*.py."""

    def __init__(
        self,
        state: DiscordState,
        interactions: Interactions,
        faults: Faults,
        settings: Settings,
        log: RequestLog,
        gateway_url: Callable[[], str],
        rate_limits: RateLimits | None = None,
    ) -> None:
        self.state = state
        self.interactions = interactions
        self.faults = faults
        self.settings = settings
        self.log = log
        self.gateway_url = gateway_url
        self.rate_limits = rate_limits or RateLimits()

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self.middleware], client_max_size=64 * 1024 * 1024)
        app.add_routes(self.routes())
        return app

    # ------------------------------------------------------------------ middleware
    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        path = request.path.removeprefix("/api/v10") or "/"
        response: web.StreamResponse
        verdict: Verdict | None = None
        try:
            if self.settings.rest_latency_ms > 0:
                await asyncio.sleep(self.settings.rest_latency_ms / 1000)
            fault = self.faults.take_rest(path, request.method)
            held_after: Fault | None = None
            if fault is not None and fault.kind == HOLD_AFTER:
                held_after, fault = fault, None
            dropped = False
            if fault is not None and fault.kind == HOLD:
                dropped = await self.faults.hold(fault, request.method, path)
                fault = None
            if dropped:
                response = json_body({"message": "503: Service Unavailable", "code": 0}, status=503)
            elif fault is not None and fault.kind == "rate_limit":
                response = self._rate_limited()
            elif fault is not None and fault.kind == AFTER_EFFECT:
                # Carried out, then a 5xx: what the handler did stays done. (A request
                # Discord refuses is refused as usual: the DiscordError answers below.)
                await handler(request)
                response = json_body(
                    {"message": "500: Internal Server Error", "code": 0}, status=500
                )
            elif fault is not None and fault.kind == FORBIDDEN:
                response = json_body({"message": "Missing Permissions", "code": 50013}, status=403)
            elif fault is not None:
                response = json_body(
                    {"message": "500: Internal Server Error", "code": 0}, status=500
                )
            elif not path.startswith(PUBLIC_PREFIXES) and not self._authorised(request):
                response = json_body({"message": "401: Unauthorized", "code": 0}, status=401)
            else:
                verdict = self.rate_limits.take(
                    request.method, self._template(request), self._majors(request), path
                )
                if verdict.refused is not None:
                    response = json_body(verdict.refused, status=429)
                else:
                    response = await handler(request)
            if held_after is not None:
                # Carried out; the answer waits (a drill kills the bot meanwhile).
                await self.faults.hold(held_after, request.method, path)
        except DiscordError as error:
            response = json_body(error.body(), status=error.status)
        except web.HTTPMethodNotAllowed:
            response = json_body({"message": "405: Method Not Allowed", "code": 0}, status=405)
        except web.HTTPNotFound:
            response = json_body({"message": "404: Not Found", "code": 0}, status=404)
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            # A body the emulator cannot read: a 400 (a 500 would make discord.py retry for 25 s).
            log.warning("REST %s %s: unreadable request (%r)", request.method, path, error)
            response = json_body({"message": "400: Bad Request", "code": 0}, status=400)
        if verdict is not None:
            response.headers.update(verdict.headers)
        self._rate_limit_headers(request, response)
        self.log.add(request.method, path, request.query_string, response.status)
        return response

    def _authorised(self, request: web.Request) -> bool:
        return request.headers.get("Authorization") == f"Bot {self.state.bot_token}"

    def _template(self, request: web.Request) -> str:
        """The route as Discord's buckets see it: ``/channels/{channel_id}/messages``."""
        route = request.match_info.route
        template = (
            getattr(route.resource, "canonical", request.path) if route.resource else request.path
        )
        return _PATTERN.sub(r"{\1}", template.removeprefix("/api/v10"))

    def _majors(self, request: web.Request) -> dict[str, str]:
        info = request.match_info
        majors = {k: info[k] for k in ("channel_id", "guild_id") if k in info}
        if "token" in info and "app_id" in info:
            majors["webhook"] = f"{info['app_id']}/{info['token']}"
        if "interaction_id" in info:
            majors["interaction"] = info["interaction_id"]
        return majors

    def _bucket(self, request: web.Request) -> str:
        template = self._template(request)
        return hashlib.sha1(f"{request.method} {template}".encode()).hexdigest()[:16]

    def _rate_limit_headers(self, request: web.Request, response: web.StreamResponse) -> None:
        headers = response.headers
        headers.setdefault("X-RateLimit-Limit", "50")
        headers.setdefault("X-RateLimit-Remaining", "49")
        headers.setdefault("X-RateLimit-Reset", f"{time.time() + 1:.3f}")
        headers.setdefault("X-RateLimit-Reset-After", "1.000")
        headers.setdefault("X-RateLimit-Bucket", self._bucket(request))
        headers["Via"] = "1.1 google"

    def _rate_limited(self) -> web.Response:
        retry_after = 0.1
        return json_body(
            {"message": "You are being rate limited.", "retry_after": retry_after, "global": False},
            status=429,
            headers={
                "Retry-After": "1",
                "X-RateLimit-Limit": "5",
                "X-RateLimit-Remaining": "0",
                "X-RateLimit-Reset": f"{time.time() + retry_after:.3f}",
                "X-RateLimit-Reset-After": f"{retry_after:.3f}",
                "X-RateLimit-Scope": "user",
                "X-RateLimit-Global": "false",
            },
        )

    # ------------------------------------------------------------------ routes
    def routes(self) -> list[web.RouteDef]:
        c = "/channels/{channel_id:\\d+}"
        m = c + "/messages/{message_id:\\d+}"
        g = "/guilds/{guild_id:\\d+}"
        app = "/applications/{app_id:\\d+}"
        hook = "/webhooks/{app_id:\\d+}/{token}"
        return [
            web.get("/users/@me", self.get_me),
            web.get("/users/@me/guilds", self.get_my_guilds),
            web.get("/users/{user_id:\\d+}", self.get_user),
            web.get("/oauth2/applications/@me", self.get_application),
            web.get("/applications/@me", self.get_application),
            web.get("/gateway", self.get_gateway),
            web.get("/gateway/bot", self.get_gateway),
            # application commands
            web.get(app + "/commands", self.get_commands),
            web.put(app + "/commands", self.put_commands),
            web.post(app + "/commands", self.post_command),
            web.get(app + "/commands/{command_id:\\d+}", self.get_command),
            web.delete(app + "/commands/{command_id:\\d+}", self.delete_command),
            web.get(app + g + "/commands", self.get_commands),
            web.put(app + g + "/commands", self.put_commands),
            web.post(app + g + "/commands", self.post_command),
            web.get(app + g + "/commands/{command_id:\\d+}", self.get_command),
            web.delete(app + g + "/commands/{command_id:\\d+}", self.delete_command),
            # interactions
            web.post("/interactions/{interaction_id}/{token}/callback", self.interaction_callback),
            web.post(hook, self.webhook_execute),
            web.get(hook + "/messages/{message_id}", self.webhook_get_message),
            web.patch(hook + "/messages/{message_id}", self.webhook_edit_message),
            web.delete(hook + "/messages/{message_id}", self.webhook_delete_message),
            # guild
            web.get(g, self.get_guild),
            web.get(g + "/roles", self.get_roles),
            web.get(g + "/channels", self.get_guild_channels),
            web.post(g + "/channels", self.create_channel),
            web.patch(g + "/channels", self.move_channels),
            web.get(g + "/threads/active", self.active_threads),
            web.get(g + "/members", self.list_members),
            web.get(g + "/members/{user_id:\\d+}", self.get_member),
            web.patch(g + "/members/{user_id:\\d+}", self.edit_member),
            web.put(g + "/members/{user_id:\\d+}/roles/{role_id:\\d+}", self.add_member_role),
            web.delete(g + "/members/{user_id:\\d+}/roles/{role_id:\\d+}", self.remove_member_role),
            # channels
            web.get(c, self.get_channel),
            web.patch(c, self.edit_channel),
            web.delete(c, self.delete_channel),
            web.put(c + "/permissions/{target_id:\\d+}", self.put_overwrite),
            web.delete(c + "/permissions/{target_id:\\d+}", self.delete_overwrite),
            web.post(c + "/typing", self.typing),
            web.post(c + "/threads", self.start_thread),
            web.put(c + "/thread-members/{member}", self.thread_join),
            web.delete(c + "/thread-members/{member}", self.thread_join),
            # pins (before the message routes)
            web.get(c + "/messages/pins", self.list_pins),
            web.put(c + "/messages/pins/{message_id:\\d+}", self.pin),
            web.delete(c + "/messages/pins/{message_id:\\d+}", self.unpin),
            web.get(c + "/pins", self.list_pins_legacy),
            web.put(c + "/pins/{message_id:\\d+}", self.pin),
            web.delete(c + "/pins/{message_id:\\d+}", self.unpin),
            # messages
            web.get(c + "/messages", self.history),
            web.post(c + "/messages", self.create_message),
            web.post(c + "/messages/bulk-delete", self.bulk_delete),
            web.get(m, self.get_message),
            web.patch(m, self.edit_message),
            web.delete(m, self.delete_message),
            web.post(m + "/threads", self.start_thread),
            # reactions
            web.put(m + "/reactions/{emoji}/@me", self.add_reaction),
            web.delete(m + "/reactions/{emoji}/@me", self.remove_own_reaction),
            web.delete(m + "/reactions/{emoji}/{user_id:\\d+}", self.remove_user_reaction),
            web.get(m + "/reactions/{emoji}", self.list_reactors),
            web.delete(m + "/reactions/{emoji}", self.clear_emoji),
            web.delete(m + "/reactions", self.clear_reactions),
        ]


__all__ = ["RequestLog", "RestApi", "Settings", "emoji_text", "json_body"]
