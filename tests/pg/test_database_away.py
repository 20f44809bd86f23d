"""PostgreSQL going away under the bot and coming back: nothing accepted is lost.

The webhook answers 503 for a notification the store could not commit
(bot/alerts/server.py maps ``StoreUnavailable`` to 503), so a sender retries;
every notification answered 2xx before the outage is still there after it, and the
same writer works again once the server is back, without a restart.
"""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import make_url

from bot.alerts.store import NotificationStore, StoreUnavailable
from bot.alerts.writer import Writer
from storage.db import upgrade


async def test_while_the_database_is_away_nothing_is_acknowledged_and_nothing_accepted_is_lost(
    own_cluster,
):
    own_cluster.create_database("away")
    url = make_url(own_cluster.url_with_password("away"))
    upgrade(url)
    writer = Writer(url)
    store = NotificationStore(writer)
    before = await asyncio.gather(*(store.add("generic", f'{{"n": {n}}}') for n in range(50)))

    await asyncio.to_thread(own_cluster.stop, "immediate")  # the server is gone, mid-flight
    with pytest.raises(StoreUnavailable):
        await store.add("generic", '{"n": "during"}')  # the webhook answers 503: sent again
    await asyncio.to_thread(own_cluster.start)

    retried = await store.add("generic", '{"n": "during"}')
    assert retried not in before
    assert await store.pending() == 51  # every acknowledged notification, and the retry
    await store.close()
    await writer.close()
