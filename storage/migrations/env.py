"""Alembic environment: runs migrations on the SQLite file or the PostgreSQL server named.

PostgreSQL is reached through asyncpg (the bot's only driver for it), so there the
migrations run inside ``AsyncConnection.run_sync`` on a loop of their own.
"""

from __future__ import annotations

from typing import Any

from alembic import context
from sqlalchemy import create_engine, event
from sqlalchemy.ext.asyncio import create_async_engine

from storage.db import _in_own_loop, _pragmas
from storage.models import Base

config = context.config


# Replicas started at the same instant each migrate at start: on PostgreSQL the first
# takes this lock for its transaction, the others wait and then find the schema current.
MIGRATION_LOCK = 0x1C1DE17  # pg_advisory_xact_lock key, the bot's own


def _migrate(connection: Any) -> None:
    context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":
            connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK})")
        context.run_migrations()


async def _migrate_async() -> None:
    engine = create_async_engine(config.attributes["url"])
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_migrate)
            await connection.commit()
    finally:
        await engine.dispose()


if "url" in config.attributes:
    _in_own_loop(_migrate_async)
else:
    url = config.get_main_option("sqlalchemy.url")
    if url is None:
        raise RuntimeError("the alembic configuration names no sqlalchemy.url")
    engine = create_engine(url)
    event.listen(engine, "connect", _pragmas)
    with engine.connect() as connection:
        _migrate(connection)
    engine.dispose()
