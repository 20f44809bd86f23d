"""The database: engine, sessions, and schema migrations (alembic), on SQLite or PostgreSQL.

A *target* is either a ``Path`` (the embedded SQLite file, the default) or a
SQLAlchemy ``URL`` naming a PostgreSQL server through asyncpg
(``postgresql+asyncpg://user@host:5432/db``, the password added from the
environment by bot/settings.py). The same code and the same migrations run on
both; what is SQLite's own (WAL, the pragmas) happens only there.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.script import ScriptDirectory
from sqlalchemy import URL, event, make_url, text
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

MIGRATIONS = Path(__file__).parent / "migrations"
POSTGRES_DRIVER = "postgresql+asyncpg"
Target = Path | URL


def parse_url(value: str) -> URL:
    """A configured ``database_url``: only ``postgresql+asyncpg://`` (ValueError says why)."""
    try:
        url = make_url(value)
    except Exception:
        raise ValueError("not a database URL (postgresql+asyncpg://user@host:5432/name)") from None
    if url.drivername != POSTGRES_DRIVER:
        raise ValueError(
            f"{url.drivername}:// is not supported: use {POSTGRES_DRIVER}:// "
            "(or leave database_url unset for the SQLite file)"
        )
    if not url.host or not url.database:
        raise ValueError("the URL names no host or no database")
    return url


def is_postgres(target: Target) -> bool:
    return isinstance(target, URL)


def describe(target: Target) -> str:
    """The target for messages and logs: the file, or the URL with no password."""
    if isinstance(target, URL):
        return target.render_as_string(hide_password=True)
    return str(target)


def _pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()


def make_engine(target: Target, **options: Any) -> AsyncEngine:
    if isinstance(target, URL):
        # Connections are checked before use: after the server restarted or dropped
        # them, the first query of a unit of work must not fail for that.
        options.setdefault("pool_pre_ping", True)
        options.setdefault("connect_args", {"timeout": 5, "command_timeout": 30})
        return create_async_engine(target, **options)
    target.parent.mkdir(parents=True, exist_ok=True)
    engine = create_async_engine(f"sqlite+aiosqlite:///{target}", **options)
    event.listen(engine.sync_engine, "connect", _pragmas)
    return engine


def make_sessions(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


def alembic_config(target: Target) -> AlembicConfig:
    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS))
    if isinstance(target, URL):
        # Handed over as an object, never through the ini options: no password in a string
        # that configparser interpolates or alembic might print.
        config.attributes["url"] = target
    else:
        config.set_main_option("sqlalchemy.url", f"sqlite:///{target}")
    return config


def _in_own_loop(job: Any) -> Any:
    """Run the coroutine function ``job`` to completion on a fresh loop in its own thread
    (alembic's commands are synchronous and may be called from inside a running loop)."""
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["value"] = asyncio.run(job())
        except BaseException as error:  # handed back to the caller's thread
            outcome["error"] = error

    thread = threading.Thread(target=run, name="database-migrations")
    thread.start()
    thread.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome.get("value")


class SchemaTooNew(Exception):
    """The database was migrated by a newer version of the bot than this one."""


def upgrade(target: Target, revision: str = "head") -> None:
    """Bring the database to ``revision`` (creating the SQLite file if needed).

    A database at a revision this code does not know (a newer replica migrated it)
    is refused with ``SchemaTooNew``, before anything is changed.
    """
    refuse_newer_schema(target)
    with _MIGRATING:  # alembic's context is one per process
        _upgrade(target, revision)


_MIGRATING = threading.Lock()


def refuse_newer_schema(target: Target) -> None:
    """``SchemaTooNew`` if a newer version of the bot migrated the database."""
    if isinstance(target, Path) and not target.exists():
        return
    found = current_revision(target)
    if found is not None and found not in known_revisions():
        raise SchemaTooNew(
            f"{describe(target)} is at schema revision {found}, newer than this bot "
            f"knows (its newest is {head_revision()}): upgrade this replica to the "
            "version that migrated the database; it does not start on an older one"
        )


def _upgrade(target: Target, revision: str) -> None:
    if isinstance(target, Path):
        target.parent.mkdir(parents=True, exist_ok=True)
        # WAL is a property of the file: set it once here so every later connection shares it.
        with sqlite3.connect(target) as raw:
            raw.execute("PRAGMA journal_mode=WAL")
    command.upgrade(alembic_config(target), revision)


def current_revision(target: Target) -> str | None:
    if isinstance(target, URL):

        async def read() -> str | None:
            engine = make_engine(target, pool_pre_ping=False)
            try:
                async with engine.connect() as connection:
                    exists = await connection.scalar(
                        text("SELECT to_regclass('alembic_version') IS NOT NULL")
                    )
                    if not exists:
                        return None
                    return await connection.scalar(text("SELECT version_num FROM alembic_version"))
            finally:
                await engine.dispose()

        revision: str | None = _in_own_loop(read)
        return revision
    with sqlite3.connect(target) as raw:
        try:
            row = raw.execute("SELECT version_num FROM alembic_version").fetchone()
        except sqlite3.OperationalError:
            return None
    return row[0] if row else None


def _scripts() -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config(Path("unused")))


def head_revision() -> str:
    """The newest migration this code knows."""
    head = _scripts().get_current_head()
    assert head is not None
    return head


def known_revisions() -> set[str]:
    return {script.revision for script in _scripts().walk_revisions()}


def schema_problems(target: Target) -> list[str]:
    """What ``check-config`` says of the database: reachable, and migrations current."""
    where = describe(target)
    if isinstance(target, Path) and not target.exists():
        return []  # created and migrated at the first start
    try:
        found = current_revision(target)
    except Exception as error:  # the reason, never the URL's password
        reason = str(error).splitlines()[0][:200] if str(error) else type(error).__name__
        if isinstance(target, URL) and target.password:
            reason = reason.replace(target.password, "***")
        return [f"database {where}: cannot connect ({type(error).__name__}: {reason})"]
    head = head_revision()
    if found is None:
        if isinstance(target, URL):
            return [
                f"database {where}: not migrated yet (the bot migrates it at start, "
                "or run `incident-bot db upgrade`)"
            ]
        return []
    if found not in known_revisions():
        return [
            f"database {where}: at schema revision {found}, newer than this bot knows "
            f"({head}): this version would refuse to start; upgrade it"
        ]
    if found != head:
        return [
            f"database {where}: at schema revision {found}, this bot's is {head}: "
            "run `incident-bot db upgrade` (a running older replica must be upgraded too)"
        ]
    return []


async def ping(session: AsyncSession) -> None:
    """One round trip to the database: raises if it cannot answer (``/healthz``)."""
    await session.execute(text("SELECT 1"))
