"""The sandbox world: one aiohttp server on loopback playing Discord (and, later, X, GitHub, a chain).

    world = World(WorldOptions(data_dir=Path("/tmp/w"), port=0))
    await world.start()
    use_endpoints(world.api_base, world.gateway_url)   # then run the bot with world.bot_token
    ...
    await world.stop()

Other services plug in as *parts* (``World.add_part`` before ``start``): each adds routes
to ``world.app`` and contributes one key to ``describe()``.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from aiohttp import web

from . import ops_repo, seed
from .chain import ChainPart
from .control import ControlApi, role_view
from .discord.emulator import DiscordEmulator
from .github import GitHubApi
from .views import ViewerRoutes
from .x import XApi

log = logging.getLogger(__name__)
STATIC_DIR = Path(__file__).parent / "static"


@dataclass
class WorldOptions:
    data_dir: Path
    host: str = "127.0.0.1"
    port: int = 8765  # 0 = pick a free port
    rest_latency_ms: float = 0  # added delay per REST call (for benchmarks)
    webhook_base_url: str | None = None  # the bot's alert webhook server, reported by describe()
    # An anvil node with the demo contracts (sandbox/chain.py), when node tooling is there.
    # Off by default so that worlds made by tests start no node unless they ask.
    chain: bool = False
    chain_shape: str = "a"


class WorldPart(Protocol):
    """A service living in the world (X API, GitHub API, chain...)."""

    key: str  # its key in describe()

    def mount(self, world: World) -> None:
        """Add routes to ``world.app`` (called once, before the server starts)."""

    async def start(self, world: World) -> None: ...

    async def stop(self) -> None: ...

    def describe(self) -> Any: ...


class World:
    def __init__(self, options: WorldOptions) -> None:
        self.options = options
        self.bot_token = f"sandbox.{secrets.token_urlsafe(24)}"
        self.webhook_bearer_token = secrets.token_urlsafe(24)
        self.webhook_hmac_secret = secrets.token_hex(32)
        self.discord = DiscordEmulator(
            bot_token=self.bot_token, rest_latency_ms=options.rest_latency_ms
        )
        self.parts: list[WorldPart] = []
        self.extra_secrets: dict[str, str] = {}  # INCIDENT_BOT_* the parts hand the bot
        self.ops_repo_path = Path(options.data_dir) / "ops.git"
        self.started_at: datetime | None = None
        self.base_url = ""
        self.api_base = ""
        self.gateway_url = ""
        self.app = web.Application()
        self.discord.mount(self.app)
        self.app.add_subapp("/_sandbox", ControlApi(self).app())
        self.views = ViewerRoutes(self)  # what the viewer reads beyond Discord (issue 17)
        self.views.mount(self.app)
        self.app.router.add_get("/", self._viewer)
        self.app.router.add_static("/static", STATIC_DIR)  # the viewer's stylesheet and scripts
        self._runner: web.AppRunner | None = None
        seed.seed_default_world(self.discord.state)
        self.x = XApi()
        self.github = GitHubApi()
        self.add_part(self.x)
        self.add_part(self.github)
        if options.chain:
            self.add_part(ChainPart(shape=options.chain_shape))

    # ------------------------------------------------------------------ ids
    @property
    def application_id(self) -> str:
        return str(self.discord.state.application_id)

    @property
    def guild_id(self) -> str:
        return str(self.discord.state.the_guild.id)

    @property
    def bot_user_id(self) -> str:
        assert self.discord.state.bot_user is not None
        return str(self.discord.state.bot_user.id)

    # ------------------------------------------------------------------ parts
    def add_part(self, part: WorldPart) -> None:
        if self._runner is not None:
            raise RuntimeError("add parts before World.start(): the app is frozen once serving")
        self.parts.append(part)
        part.mount(self)

    # ------------------------------------------------------------------ life
    async def start(self) -> None:
        self.started_at = datetime.now(UTC)
        await ops_repo.create_ops_repo_async(
            self.ops_repo_path,
            {
                ops_repo.ROTATION_PATH: ops_repo.rotation_markdown(
                    self.oncall_usernames(), self.started_at
                )
            },
        )
        self._runner = web.AppRunner(self.app, handle_signals=False, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.options.host, self.options.port)
        await site.start()
        port = self._bound_port()
        self.base_url = f"http://{self.options.host}:{port}"
        self.api_base = f"{self.base_url}/api/v10"
        self.gateway_url = f"ws://{self.options.host}:{port}/gateway"
        self.discord.set_base_url(self.base_url, self.gateway_url)
        for part in self.parts:
            await part.start(self)
        log.info("sandbox world serving at %s", self.base_url)

    def _bound_port(self) -> int:
        assert self._runner is not None
        addresses = self._runner.addresses
        return int(addresses[0][1]) if addresses else self.options.port

    async def stop(self) -> None:
        for part in reversed(self.parts):
            await part.stop()
        await self.discord.gateway.close_all()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # ------------------------------------------------------------------ reading
    def oncall_usernames(self) -> list[str]:
        state = self.discord.state
        oncall = state.find_role("oncall")
        members = state.the_guild.members.values()
        return [m.user.username for m in members if oncall and oncall.id in m.roles]

    def describe(self) -> dict[str, Any]:
        state = self.discord.state
        guild = state.the_guild
        bot_id = state.bot_user.id if state.bot_user else None
        everyone = guild.id
        users = [
            {
                "id": str(m.user.id),
                "name": m.user.username,
                "display_name": m.user.global_name,
                "roles": [guild.roles[r].name for r in m.roles if r in guild.roles],
            }
            for m in guild.members.values()
            if m.user.id != bot_id and m.user.id != guild.owner_id
        ]
        roles = [role_view(r) for r in guild.roles.values() if r.id != everyone and not r.managed]
        bot_role = next((r for r in guild.roles.values() if r.bot_id == bot_id), None)
        channels = [
            {
                "id": str(c.id),
                "name": c.name,
                "type": c.type,
                "parent_id": None if c.parent_id is None else str(c.parent_id),
                "topic": c.topic,
                "position": c.position,
            }
            for c in guild.channels.values()
        ]
        body: dict[str, Any] = {
            "guild_id": str(guild.id),
            "bot_user_id": str(bot_id),
            "bot_role_id": None if bot_role is None else str(bot_role.id),
            "bot_role": None if bot_role is None else role_view(bot_role),
            "application_id": self.application_id,
            "users": users,
            "roles": roles,
            "channels": channels,
            "webhook": {
                "base_url": self.options.webhook_base_url,
                "bearer_token": self.webhook_bearer_token,
                "hmac_secret": self.webhook_hmac_secret,
            },
            "chain": None,
            "ops_repo": {"path": str(self.ops_repo_path)},
            "started_at": None if self.started_at is None else self.started_at.isoformat(),
            "discord": {"api_base": self.api_base, "gateway_url": self.gateway_url},
        }
        for part in self.parts:
            body[part.key] = part.describe()
        return body

    async def _viewer(self, request: web.Request) -> web.FileResponse:
        return web.FileResponse(STATIC_DIR / "index.html")
