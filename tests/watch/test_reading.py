"""Reading in bounded ranges against an RPC that caps eth_getLogs: the range halves to what
it accepts, is said once, and is not asked for too wide again at every other look (the
limit is probed again only now and then); an RPC that is down is not a range limit."""

from __future__ import annotations

from typing import Any

import pytest

from bot.errors import ExternalServiceError
from bot.watch import reading
from bot.watch.reading import Reader


class CappedRpc:
    """eth_getLogs refused over ``most`` blocks (or always, while ``down``)."""

    def __init__(self, most: int) -> None:
        self.most, self.down = most, False
        self.asked: list[tuple[int, int]] = []

    async def logs(self, _addresses: Any, _topics: Any, first: int, last: int) -> list[Any]:
        self.asked.append((first, last))
        if self.down or last - first + 1 > self.most:
            raise ExternalServiceError(f"block range too large ({last - first + 1})")
        return []


def refusals(rpc: CappedRpc) -> int:
    return sum(1 for first, last in rpc.asked if last - first + 1 > rpc.most)


async def test_a_capped_rpc_is_said_once_and_not_asked_too_wide_again():
    rpc = CappedRpc(most=4)
    reader = Reader(rpc, {"0x" + "11" * 20: {b"\x00" * 32}}, 16)  # type: ignore[arg-type]
    first = await reader.read(1, 1000)
    assert (first.first, first.last) == (1, 4)
    [problem] = first.problems
    assert problem.cause == "range:4" and "Reading 4 blocks at a time" in problem.text
    assert refusals(rpc) == 2  # 16, then 8
    cursor = first.last
    for _ in range(20):
        batch = await reader.read(cursor + 1, 1000)
        assert batch.problems == [] and batch.last == cursor + 4
        cursor = batch.last
    assert refusals(rpc) == 2  # the refused widths were not asked for again


async def test_the_full_width_is_tried_again_now_and_then(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(reading, "PROBE_AFTER", 3)
    rpc = CappedRpc(most=4)
    reader = Reader(rpc, {"0x" + "11" * 20: {b"\x00" * 32}}, 16)  # type: ignore[arg-type]
    cursor, causes = 0, []
    for _ in range(5):  # the first (refused, then read in parts), 3 clean reads, the probe
        batch = await reader.read(cursor + 1, 1000)
        cursor, causes = batch.last, causes + [p.cause for p in batch.problems]
    assert refusals(rpc) == 3  # 16 and 8 at first, then one probe at 8 after 3 clean reads
    assert causes == ["range:4", "range:4"]  # the same cause: #ops-alerts hears it once


async def test_an_rpc_that_is_down_is_not_taken_for_a_range_limit():
    rpc = CappedRpc(most=1000)
    reader = Reader(rpc, {"0x" + "11" * 20: {b"\x00" * 32}}, 16)  # type: ignore[arg-type]
    rpc.down = True
    with pytest.raises(ExternalServiceError):
        await reader.read(1, 1000)
    rpc.down = False
    batch = await reader.read(1, 1000)
    assert (batch.first, batch.last) == (1, 16)  # full width again once it answers
