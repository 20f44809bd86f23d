"""Fixtures of the PostgreSQL tests: a migrated database on the throw-away cluster."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
from sqlalchemy import URL
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage.db import make_engine, make_sessions, upgrade
from tests.pg.cluster import Cluster, NoPostgres, start_cluster
from tests.pg.support import cluster as shared_cluster
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


@pytest.fixture
def own_cluster() -> Iterator[Cluster]:
    """A cluster of this test's own, since it is stopped and started again."""
    shared_cluster()  # skips (or fails under INCIDENT_BOT_REQUIRE_POSTGRES) with the reason
    try:
        server = start_cluster()
    except NoPostgres as error:
        pytest.fail(f"a second cluster could not start: {error}")
    try:
        yield server
    finally:
        server.remove()
