"""The chain adapter gives back what it opens: web3 keeps an HTTP session to the RPC per
event loop, and a stopped bot (or check-config) must not leave it open."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.adapters.chain import ChainClient

pytestmark = pytest.mark.chain


async def test_close_closes_the_rpc_session(chain) -> None:  # type: ignore[no-untyped-def]
    client = ChainClient(chain.rpc_url, 31337, timedelta(seconds=5))
    await client.ensure_chain()
    cache = client._w3.provider._request_session_manager.session_cache
    sessions = [session for _, session in cache.items()]
    assert sessions and not any(session.closed for session in sessions)

    await client.close()

    assert all(session.closed for session in sessions)
