"""One throw-away PostgreSQL cluster per test process, a fresh database per test.

Where PostgreSQL cannot be found or started the tests skip, saying why; with
INCIDENT_BOT_REQUIRE_POSTGRES=1 (``.ci/run``) that skip is a failure instead.
"""

from __future__ import annotations

import atexit
import itertools
import os

import pytest
from sqlalchemy import URL, make_url

from tests.pg.cluster import REQUIRE_ENV, Cluster, NoPostgres, start_cluster

_cluster: Cluster | None = None
_failure: str | None = None
_names = itertools.count(1)


def cluster() -> Cluster:
    """The process's cluster, started on first use (skips or fails when there is none)."""
    global _cluster, _failure
    if _cluster is None and _failure is None:
        try:
            _cluster = start_cluster()
            atexit.register(_cluster.remove)
        except NoPostgres as error:
            _failure = str(error)
    if _cluster is None:
        reason = f"no PostgreSQL here: {_failure}"
        if os.environ.get(REQUIRE_ENV) == "1":
            pytest.fail(f"{reason} ({REQUIRE_ENV}=1: PostgreSQL tests may not skip)")
        pytest.skip(reason)
    return _cluster


def fresh_database(prefix: str = "t") -> URL:
    """A new empty database on the cluster, as the bot's URL with the password in it."""
    server = cluster()
    name = f"{prefix}_{os.getpid()}_{next(_names)}"
    server.create_database(name)
    return make_url(server.url_with_password(name))


def sql_rows(url: URL, query: str, *args: object) -> list[tuple[object, ...]]:
    """A synchronous query for test probes (``?`` placeholders, as with sqlite3)."""
    import asyncio
    import threading

    import asyncpg

    from storage.alerts.pg import _numbered

    async def run() -> list[tuple[object, ...]]:
        connection = await asyncpg.connect(
            host=url.host, port=url.port, user=url.username, password=url.password,
            database=url.database,
        )  # fmt: skip
        try:
            return [tuple(r) for r in await connection.fetch(_numbered(query), *args)]
        finally:
            await connection.close()

    found: list[list[tuple[object, ...]]] = []
    thread = threading.Thread(target=lambda: found.append(asyncio.run(run())))
    thread.start()
    thread.join()
    return found[0] if found else []
