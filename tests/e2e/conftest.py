"""End to end: the real bot (discord.py) in a real sandbox world, driven by the control API."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Awaitable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import URL

from bot.core.clock import Clock, ManualClock
from bot.runtime import BotRuntime
from bot.sandbox_run import free_port, sandbox_config, sandbox_secrets, secrets_model
from bot.settings import Settings, parse_config
from sandbox.control_client import Control
from sandbox.world import World, WorldOptions

HOST = "127.0.0.1"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "manual_clock: the bot runs on a ManualClock (the `clock` fixture); the test moves "
        "time with clock.advance() instead of sleeping",
    )


async def bounded(step: Awaitable[None], what: str, timeout: float = 45) -> None:
    """A teardown that hangs fails the test with every task's stack, instead of hanging CI."""
    try:
        await asyncio.wait_for(step, timeout)
    except TimeoutError:
        lines = []
        for task in asyncio.all_tasks():
            if task is not asyncio.current_task():
                frames = task.get_stack(limit=10)
                lines.append(
                    task.get_name()
                    + ": "
                    + " <- ".join(
                        f"{f.f_code.co_filename.rsplit('/', 2)[-1]}:{f.f_code.co_name}:{f.f_lineno}"
                        for f in reversed(frames)
                    )
                )
        pytest.fail(f"{what} hung for {timeout} s; tasks:\n" + "\n".join(lines))


@pytest.fixture
def overlay() -> dict[str, Any]:
    """Configuration merged over the sandbox's; a test module overrides this fixture."""
    return {}


@pytest.fixture
def clock(request: pytest.FixtureRequest) -> Clock | None:
    """The bot's clock: a ManualClock for a test marked ``manual_clock`` (a module may
    override this fixture), the wall clock (None) otherwise. It survives restarts."""
    if request.node.get_closest_marker("manual_clock") is not None:
        return ManualClock()
    return None


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    webhook_port = free_port(HOST)
    world = World(
        WorldOptions(
            data_dir=tmp_path / "world",
            host=HOST,
            port=0,
            webhook_base_url=f"http://{HOST}:{webhook_port}",
        )
    )
    world.webhook_port = webhook_port  # type: ignore[attr-defined]
    await world.start()
    try:
        yield world
        # The bot stays inside Discord's rate limits: no 429 that discord.py had to absorb
        # (injected rate_limit faults are not counted here).
        limits = world.discord.rate_limits
        assert limits.answered_429 == 0, f"the bot was rate limited: {limits.describe()}"
    finally:
        await bounded(world.stop(), "stopping the world")


# INCIDENT_BOT_TEST_ENGINE=postgres runs the e2e world's bot on PostgreSQL (a database of
# its own per test on the throw-away cluster of tests/pg); tests/e2e/test_on_postgres.py
# runs a chosen few that way in every run.
ENGINE_ENV = "INCIDENT_BOT_TEST_ENGINE"


@pytest.fixture
def engine() -> str:
    """The bot's database engine: "sqlite" (the file) or "postgres"; a module may override."""
    return os.environ.get(ENGINE_ENV, "sqlite")


def bot_settings(
    world: World, data_dir: Path, overlay: dict[str, Any], database: URL | None = None
) -> Settings:
    config = sandbox_config(world, data_dir, HOST, world.webhook_port, overlay)  # type: ignore[attr-defined]
    config["discord"]["guild_ready_timeout"] = 0.1
    secrets = sandbox_secrets(world)
    if database is not None:
        config["storage"]["database_url"] = URL.create(
            database.drivername,
            username=database.username,
            host=database.host,
            port=database.port,
            database=database.database,
        ).render_as_string()
        secrets["INCIDENT_BOT_DATABASE_PASSWORD"] = str(database.password)
    return Settings(config=parse_config(config), secrets=secrets_model(secrets))


class BotHandle:
    """The bot process-in-a-task; ``restart()`` is a crash and a fresh start on the same files."""

    def __init__(
        self,
        world: World,
        data_dir: Path,
        overlay: dict[str, Any],
        clock: Clock | None = None,
        database: URL | None = None,  # PostgreSQL; None: the SQLite file in data_dir
    ) -> None:
        self.world, self.data_dir, self.overlay = world, data_dir, overlay
        self.clock = clock
        self.database = database
        self.runtime: BotRuntime | None = None

    @property
    def settings(self) -> Settings:
        assert self.runtime is not None
        return self.runtime.settings

    @property
    def services(self):  # type: ignore[no-untyped-def]
        assert self.runtime is not None
        return self.runtime.bot.services

    async def start(self) -> None:
        self.runtime = BotRuntime(
            bot_settings(self.world, self.data_dir, self.overlay, self.database), clock=self.clock
        )
        await self.runtime.start()
        await self.runtime.wait_ready(timeout=20)

    async def stop(self) -> None:
        if self.runtime is not None:
            await self.runtime.stop()
            self.runtime = None

    async def restart(self) -> None:
        await self.stop()
        await self.start()


@pytest.fixture
async def bot(
    world: World, tmp_path: Path, overlay: dict[str, Any], clock: Clock | None, engine: str
) -> AsyncIterator[BotHandle]:
    database = None
    if engine == "postgres":
        from tests.pg.support import fresh_database

        database = fresh_database("e2e")
    handle = BotHandle(world, tmp_path / "bot-data", overlay, clock, database)
    await handle.start()
    try:
        yield handle
    finally:
        await bounded(handle.stop(), "stopping the bot")


@pytest.fixture
async def control(world: World) -> AsyncIterator[Control]:
    async with Control(world.base_url) as client:
        yield client
