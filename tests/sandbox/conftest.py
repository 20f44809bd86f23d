"""A world on a free port and a real discord.py bot logged in to it."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import discord
import pytest
from discord.ext import commands

from bot.adapters.discord_endpoints import use_endpoints
from bot.client import stop_heartbeats
from sandbox.world import World, WorldOptions

EVENT_TIMEOUT = 5.0


class RecordingBot(commands.Bot):
    """A plain Bot that remembers every event it dispatched, so tests can wait for one."""

    def __init__(self, **options: Any) -> None:
        # Everything the world grants (it withholds the presences intent, as an unverified
        # application without it would be: asking for it is closed with 4014).
        intents = discord.Intents.all()
        intents.presences = False
        super().__init__(command_prefix="!", intents=intents, **options)
        self.events: list[tuple[str, tuple[Any, ...]]] = []
        self._new_event = asyncio.Event()

    def dispatch(self, event_name: str, /, *args: Any, **kwargs: Any) -> None:
        self.events.append((event_name, args))
        self._new_event.set()
        super().dispatch(event_name, *args, **kwargs)

    def seen(
        self, name: str, check: Callable[..., bool] = lambda *a: True
    ) -> list[tuple[Any, ...]]:
        return [args for event, args in self.events if event == name and check(*args)]

    async def until(
        self,
        name: str,
        check: Callable[..., bool] = lambda *a: True,
        timeout: float = EVENT_TIMEOUT,
        nth: int = 1,
    ) -> tuple[Any, ...]:
        """The ``nth`` recorded ``name`` event passing ``check`` (waiting for it if needed)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            found = self.seen(name, check)
            if len(found) >= nth:
                return found[nth - 1]
            self._new_event.clear()
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise AssertionError(
                    f"the bot never got {name!r} (got {[e for e, _ in self.events]})"
                )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._new_event.wait(), remaining)


class Control:
    """A small client for the world's control API (and raw REST calls)."""

    def __init__(self, world: World, session: aiohttp.ClientSession) -> None:
        self.world = world
        self.session = session

    async def request(self, method: str, path: str, **kwargs: Any) -> tuple[int, Any]:
        async with self.session.request(method, self.world.base_url + path, **kwargs) as response:
            body = await response.json(content_type=None) if response.status != 204 else None
            return response.status, body

    async def get(self, path: str, **kwargs: Any) -> Any:
        status, body = await self.request("GET", path, **kwargs)
        assert status == 200, (status, body)
        return body

    async def post(self, path: str, body: dict[str, Any]) -> tuple[int, Any]:
        return await self.request("POST", path, json=body)

    async def rest(self, method: str, path: str, **kwargs: Any) -> tuple[int, Any]:
        """A REST v10 call authenticated as the bot."""
        headers = {"Authorization": f"Bot {self.world.bot_token}", **kwargs.pop("headers", {})}
        return await self.request(method, "/api/v10" + path, headers=headers, **kwargs)

    def channel_id(self, name: str) -> str:
        channel = self.world.discord.state.find_channel(name)
        assert channel is not None, name
        return str(channel.id)

    def user_id(self, name: str) -> str:
        user = self.world.discord.state.find_user(name)
        assert user is not None, name
        return str(user.id)


@pytest.fixture
async def world(tmp_path) -> AsyncIterator[World]:
    world = World(WorldOptions(data_dir=tmp_path / "world", port=0))
    await world.start()
    try:
        yield world
    finally:
        await world.stop()


@pytest.fixture
async def control(world: World) -> AsyncIterator[Control]:
    async with aiohttp.ClientSession() as session:
        yield Control(world, session)


@pytest.fixture
async def bot(world: World) -> AsyncIterator[RecordingBot]:
    use_endpoints(world.api_base, world.gateway_url)
    client = RecordingBot(guild_ready_timeout=0.1)
    runner = asyncio.create_task(client.start(world.bot_token))
    try:
        await client.until("ready")
        yield client
    finally:
        await client.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(runner, 5)
        await stop_heartbeats(client)  # once the gateway task is over (see bot.client)


@pytest.fixture
def guild(world: World) -> discord.Object:
    return discord.Object(int(world.guild_id))
