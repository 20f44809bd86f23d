"""Fixtures of the PostgreSQL tests: a migrated database on the throw-away cluster."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import URL
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage.db import make_engine, make_sessions, upgrade
from tests.pg.support import fresh_database


@pytest.fixture
def pg_url() -> URL:
    """An empty database of its own for the test."""
    return fresh_database()


@pytest.fixture
def pg_migrated(pg_url: URL) -> URL:
    upgrade(pg_url)
    return pg_url


@pytest.fixture
async def pg_sessions(pg_migrated: URL) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = make_engine(pg_migrated)
    try:
        yield make_sessions(engine)
    finally:
        await engine.dispose()
