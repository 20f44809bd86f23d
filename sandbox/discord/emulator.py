"""The Discord emulator's parts wired together: model, gateway, interactions, REST."""

from __future__ import annotations

from aiohttp import web

from ..faults import Faults
from .gateway import Gateway
from .interactions import Interactions
from .ratelimits import RateLimits
from .rest import RequestLog, RestApi, Settings
from .state import DiscordState

API_PREFIX = "/api/v10"
GATEWAY_PATH = "/gateway"


class DiscordEmulator:
    """Everything Discord-shaped in a world; ``mount()`` adds its routes to the world's app."""

    def __init__(self, *, bot_token: str, rest_latency_ms: float = 0.0) -> None:
        self.state = DiscordState(bot_token=bot_token)
        self.faults = Faults()
        self.settings = Settings(rest_latency_ms=rest_latency_ms)
        self.requests = RequestLog()
        self.rate_limits = RateLimits()
        self.gateway = Gateway(self.state, self.faults)
        self.interactions = Interactions(self.state)
        self.rest = RestApi(
            self.state,
            self.interactions,
            self.faults,
            self.settings,
            self.requests,
            gateway_url=lambda: self.gateway.url,
            rate_limits=self.rate_limits,
        )

    def mount(self, app: web.Application) -> None:
        app.add_subapp(API_PREFIX, self.rest.app())
        app.router.add_get(GATEWAY_PATH, self.gateway.handle)
        app.router.add_get("/attachments/{attachment_id:\\d+}/{filename}", self.attachment)

    def set_base_url(self, base_url: str, ws_url: str) -> None:
        self.state.base_url = base_url
        self.gateway.url = ws_url

    async def attachment(self, request: web.Request) -> web.Response:
        attachment = self.state.attachment(int(request.match_info["attachment_id"]))
        if attachment is None:
            raise web.HTTPNotFound()
        return web.Response(
            body=attachment.data,
            content_type=(attachment.content_type or "application/octet-stream").split(";")[0],
        )
