"""The SQLite file: engine, sessions, and schema migrations (alembic)."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

MIGRATIONS = Path(__file__).parent / "migrations"


def _pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()


def make_engine(path: Path) -> AsyncEngine:
    path.parent.mkdir(parents=True, exist_ok=True)
    engine = create_async_engine(f"sqlite+aiosqlite:///{path}")
    event.listen(engine.sync_engine, "connect", _pragmas)
    return engine


def make_sessions(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


def alembic_config(path: Path) -> AlembicConfig:
    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", f"sqlite:///{path}")
    return config


def upgrade(path: Path, revision: str = "head") -> None:
    """Bring the database file at ``path`` to ``revision`` (creating it if needed)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    # WAL is a property of the file: set it once here so every later connection shares it.
    with sqlite3.connect(path) as raw:
        raw.execute("PRAGMA journal_mode=WAL")
    command.upgrade(alembic_config(path), revision)


def current_revision(path: Path) -> str | None:
    with sqlite3.connect(path) as raw:
        try:
            row = raw.execute("SELECT version_num FROM alembic_version").fetchone()
        except sqlite3.OperationalError:
            return None
    return row[0] if row else None


async def ping(session: AsyncSession) -> None:
    """One round trip to the database: raises if it cannot answer (``/healthz``)."""
    await session.execute(text("SELECT 1"))
