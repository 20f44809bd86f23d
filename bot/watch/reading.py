"""Reading the chain for the watch: the next confirmed range's logs (split in halves while
the RPC refuses a range), screened and grouped by transaction, each with what the
classification needs (sender, target, calldata, the receipt's logs, the block's time)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from bot.adapters.chain import ChainClient
from bot.errors import ExternalServiceError
from bot.watch import rules
from bot.watch.rules import Problem, RawLog

log = logging.getLogger(__name__)
NEVER = datetime.min.replace(tzinfo=UTC)
PROBE_AFTER = 500  # clean reads after a refusal before the full width is tried again


def _hex(value: Any) -> str:
    if isinstance(value, bytes | bytearray):
        return "0x" + bytes(value).hex()
    return str(value) if str(value).startswith("0x") else "0x" + str(value)


def raw_log(entry: dict[str, Any]) -> RawLog:
    return RawLog(
        address=str(entry["address"]),
        topics=tuple(rules.hexbytes(t) for t in entry.get("topics") or ()),
        data=rules.hexbytes(entry.get("data") or b""),
        block=int(entry["blockNumber"]),
        block_hash=_hex(entry["blockHash"]),
        tx_hash=_hex(entry["transactionHash"]),
        index=int(entry["logIndex"]),
        removed=bool(entry.get("removed", False)),
    )


@dataclass
class TxSeen:
    tx_hash: str
    block: int
    block_hash: str
    logs: list[RawLog]
    sender: str = ""
    to: str | None = None
    calldata: bytes = b""
    receipt_logs: list[tuple[str, list[bytes]]] = field(default_factory=list)
    at: datetime = NEVER


@dataclass
class Batch:
    first: int
    last: int
    txs: list[TxSeen]
    problems: list[Problem]


class Reader:
    def __init__(
        self,
        chain: ChainClient,
        watched: dict[str, set[bytes]],
        span: int,
        vaults: dict[str, set[bytes]] | None = None,
    ) -> None:
        self.chain = chain
        self.watched = watched
        self.vaults = vaults or {}  # token → its watched vaults' address words
        self.span = span  # shrinks while the RPC refuses ranges this large
        self.max_span = span
        self.ceiling = span  # the widest span not refused lately: widening stops there
        self.clean = 0  # reads since the last refusal; at PROBE_AFTER the ceiling lifts

    async def fetch(self, first: int, last: int) -> tuple[int, list[dict[str, Any]], list[Problem]]:
        """The logs of first..(at most last): the range halves while the RPC refuses it,
        said once, by the span the RPC accepted (the cause: the same span again is not news)."""
        topics = sorted({t for ts in self.watched.values() for t in ts})
        addresses = sorted(self.watched)
        refused: tuple[int, int, BaseException] | None = None  # the first refused range
        while True:
            end = min(last, first + self.span - 1)
            try:
                entries = await self.chain.logs(addresses, topics, first, end)
            except ExternalServiceError as error:
                if self.span == 1:  # not the range: the RPC is down; full width once back
                    self.span = self.ceiling = self.max_span
                    raise
                refused = refused or (first, end, error.__cause__ or error)
                self.span = self.ceiling = max(1, self.span // 2)
                self.clean = 0
                continue
            if refused is None:
                return end, entries, []
            start, stop, why = refused
            text = (
                f"The RPC refused eth_getLogs of blocks {start}..{stop} ({stop - start + 1} "
                f"blocks: {why}). Reading {self.span} blocks at a time instead: nothing is "
                "skipped, the same blocks are read in parts."
            )
            return end, entries, [Problem(f"range:{self.span}", text)]

    def widen(self) -> None:
        """After a clean read: back up to the ceiling (a span a refusal halved to, so the
        refused width is not asked for again at every other look); every PROBE_AFTER
        clean reads the full width is tried again (an RPC's limit may have been lifted)."""
        self.clean += 1
        if self.clean >= PROBE_AFTER:
            self.ceiling, self.clean = self.max_span, 0
        self.span = min(self.ceiling, self.span * 2)

    async def read(self, first: int, last: int) -> Batch:
        end, entries, problems = await self.fetch(first, last)
        raws: list[RawLog] = []
        for entry in entries:
            try:
                raws.append(raw_log(entry))
            except (KeyError, ValueError, TypeError) as error:
                text = f"a log the RPC answered is malformed ({error!r})"
                problems.append(Problem("rpc:malformed", text))
        screened = rules.screen(raws, first, end, self.watched, self.vaults)
        problems.extend(screened.problems)
        by_tx: dict[str, TxSeen] = {}
        for raw in screened.logs:
            seen = by_tx.setdefault(raw.tx_hash, TxSeen(raw.tx_hash, raw.block, raw.block_hash, []))
            seen.logs.append(raw)
        times: dict[int, datetime] = {}
        for seen in by_tx.values():
            detail = await self.chain.tx_detail(seen.tx_hash)
            receipt = await self.chain.receipt_of(seen.tx_hash)
            if detail is None or receipt is None:
                text = f"tx {seen.tx_hash}: the node does not know it (a reorg?)"
                problems.append(Problem("rpc:unknown-tx", text))
                continue
            seen.sender, seen.to, seen.calldata = detail
            seen.receipt_logs = receipt[1]
            if seen.block not in times:
                header = await self.chain.header(seen.block)
                if header is None:
                    raise ExternalServiceError(f"block {seen.block} is missing on the RPC")
                times[seen.block] = datetime.fromtimestamp(header[1], UTC)
            seen.at = times[seen.block]
        if not problems:
            self.widen()
        txs = [s for s in by_tx.values() if s.sender]
        return Batch(first, end, txs, problems)
