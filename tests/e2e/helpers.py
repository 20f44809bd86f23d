"""Small readers over control-API answers, shared by the end-to-end tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
from sqlalchemy import select

from bot.errors import ExternalServiceError
from sandbox.control_client import Control
from storage.models import Timer

# Alice primary and Bob secondary, always: the tests' rotation unless they test the rotation.
ALWAYS_ON_CALL: dict[str, Any] = {
    "rotation": {
        "shifts": [
            {
                "start": "2020-01-01T00:00+00:00",
                "end": "2099-01-01T00:00+00:00",
                "primary": "@alice",
                "secondary": "@bob",
            }
        ]
    }
}


def text_of(answer: dict[str, Any]) -> str:
    """Every response's content of a command's answer, joined."""
    return "\n".join(r.get("content") or "" for r in answer["responses"])


async def find_channel(
    control: Control, prefix: str = "incident-", suffix: str = ""
) -> dict[str, Any] | None:
    for channel in (await control.world(refresh=True))["channels"]:
        if (
            channel["type"] == 0
            and channel["name"].startswith(prefix)
            and channel["name"].endswith(suffix)
        ):
            return channel
    return None


async def incident_channel_id(control: Control, suffix: str) -> str:
    """The incident channel whose name ends with ``suffix`` (the date part varies)."""
    channel = await control.wait_for(
        lambda: find_channel(control, "incident-", suffix), what=f"#incident-…{suffix}"
    )
    return channel["id"]


def flaky_send(bot, marker: str, *, after_effect: bool):
    """Make the bot's first Discord post containing ``marker`` fail: before it reaches
    Discord, or (``after_effect``) once Discord has posted it, as a 5xx after the fact."""
    out = bot.services.discord
    real, failed = out.send, []

    async def send(channel_id, content=None, **kwargs):
        if content and marker in content and not failed:
            failed.append(content)
            if after_effect:
                await real(channel_id, content=content, **kwargs)
            raise ExternalServiceError("Discord answered 503")
        return await real(channel_id, content=content, **kwargs)

    out.send = send
    return failed


async def timer_done(bot, control, clock, kind: str) -> int:
    """Wait for the timer to finish, moving time past a retry if its try failed; its tries."""

    async def state():
        async with bot.services.sessions() as session:
            rows = list(
                await session.execute(select(Timer.state, Timer.attempts).where(Timer.kind == kind))
            )
        [(current, attempts)] = rows
        return (
            (current, attempts)
            if current == "done" or (attempts >= 1 and current == "pending")
            else None
        )

    current, attempts = await control.wait_for(state, timeout=5, what=f"the {kind} timer")
    if current == "pending":  # the try failed, its retry is due: move past any delay
        clock.advance(timedelta(seconds=61))
        _, attempts = await control.wait_for(
            lambda: _finished(state), timeout=5, what=f"the {kind} timer's retry"
        )
    return attempts


async def _finished(state):
    found = await state()
    return found if found and found[0] == "done" else None


async def healthz(world) -> tuple[int, dict[str, Any]]:  # type: ignore[no-untyped-def]
    """The bot's own ``GET /healthz``, as a load balancer reads it."""
    async with (
        aiohttp.ClientSession() as client,
        client.get(f"http://127.0.0.1:{world.webhook_port}/healthz") as answer,
    ):
        return answer.status, await answer.json()


# -- reading and changing rows on either engine --------------------------------------------
def database_of(bot) -> Any:  # type: ignore[no-untyped-def]
    """The bot's database target (the SQLite file or the PostgreSQL URL), running or not."""
    from tests.e2e.conftest import bot_settings

    if bot.database is not None:
        return bot.database
    return bot_settings(bot.world, bot.data_dir, bot.overlay).database


async def sql(bot, query: str, *args: Any) -> list[tuple[Any, ...]]:  # type: ignore[no-untyped-def]
    """Run ``query`` (``?`` placeholders, as with sqlite3) on the bot's database through the
    bot's own engine (storage/db.py), SQLite or PostgreSQL alike, committed; its rows (none
    for a statement that returns none). For probes and for the state a crash would leave,
    while the bot runs or while it is stopped: it runs on the test's event loop, so a write
    waits for the bot's transaction instead of blocking the loop the bot needs to end it."""
    from sqlalchemy import text

    from storage.db import make_engine

    postgres = bot.database is not None
    names = iter(range(len(args)))
    statement = text("".join(f":a{next(names)}" if c == "?" else c for c in query))
    params = {
        f"a{n}": _moment(v, postgres) if isinstance(v, datetime) else v for n, v in enumerate(args)
    }
    engine = make_engine(database_of(bot))
    try:
        async with engine.begin() as connection:
            result = await connection.execute(statement, params)
            return [tuple(row) for row in result] if result.returns_rows else []
    finally:
        await engine.dispose()


def sql_now(bot, query: str, *args: Any) -> list[tuple[Any, ...]]:  # type: ignore[no-untyped-def]
    """``sql`` from synchronous code (a probe's lambda), in a thread of its own: for reads,
    which wait for no lock on either engine (the loop is blocked meanwhile)."""
    import asyncio
    import threading

    found: list[list[tuple[Any, ...]]] = []
    failed: list[BaseException] = []

    def in_thread() -> None:
        try:
            found.append(asyncio.run(sql(bot, query, *args)))
        except BaseException as error:
            failed.append(error)

    thread = threading.Thread(target=in_thread)
    thread.start()
    thread.join()
    if failed:
        raise failed[0]
    return found[0]


def _moment(moment: datetime, postgres: bool) -> Any:
    """A datetime argument as the bot stores it: naive UTC on PostgreSQL, SQLAlchemy's
    text on SQLite."""
    from storage.alerts.writes import db_time

    return moment.astimezone(UTC).replace(tzinfo=None) if postgres else db_time(moment)


def table_names(bot) -> list[str]:  # type: ignore[no-untyped-def]
    """The bot's tables, on either engine."""
    if bot.database is not None:
        query = "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
    else:
        query = "SELECT name FROM sqlite_master WHERE type = 'table'"
    return [name for (name,) in sql_now(bot, query)]


def stored_text(bot) -> str:  # type: ignore[no-untyped-def]
    """Everything the database holds, to look for what must never be stored: on SQLite the
    file's bytes (its WAL too: what a row held before it changed), on PostgreSQL every row."""
    if bot.database is None:
        from pathlib import Path

        files = sorted(Path(database_of(bot)).parent.glob("*.sqlite3*"))
        return b"".join(p.read_bytes() for p in files).decode("utf-8", "replace")
    return "\n".join(
        repr(row) for table in table_names(bot) for row in sql_now(bot, f"SELECT * FROM {table}")
    )
