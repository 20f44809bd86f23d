"""The outflow rule, applied: ``[[watch.outflows]]`` resolved to addresses, each ERC-20
``Transfer`` out of a watched vault stored once (with its transaction's row, in the same
session), and the window's total compared to the rule's limit. The arithmetic is
bot/watch/rules.py's; this module only reads and writes the transfers."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.durations import format_duration
from bot.watch import rules
from bot.watch.config import WatchConfig
from bot.watch.rules import Outflow
from storage import watch as queries
from storage.watch_models import WatchTransfer


def resolved(
    config: WatchConfig, resolve: Callable[[str], str | None]
) -> tuple[list[Outflow], list[str]]:
    """The rules whose token and vault resolve to addresses, and a problem for each that
    does not (``/healthz`` says it; the rule is not applied rather than guessed)."""
    found, problems = [], []
    for index, rule in enumerate(config.outflows):
        token, vault = resolve(rule.token), resolve(rule.vault)
        missing = [
            name for name, address in ((rule.token, token), (rule.vault, vault)) if not address
        ]
        if token is None or vault is None:
            problems.append(f"[[watch.outflows]] rule {index + 1}: {', '.join(missing)} is not set")
            continue
        found.append(
            Outflow(
                index,
                token,
                vault,
                rule.limit,
                rule.window,
                rule.label or (rule.token if not rule.token.startswith("0x") else token),
                rule.vault if not rule.vault.startswith("0x") else vault,
                rule.decimals,
            )
        )
    return found, problems


def vault_words(outflows: Sequence[Outflow]) -> dict[str, set[bytes]]:
    """token → the address words of its watched vaults (what a Transfer's ``from`` topic is)."""
    words: dict[str, set[bytes]] = {}
    for rule in outflows:
        words.setdefault(rule.token.lower(), set()).add(rules.address_word(rule.vault))
    return words


@dataclass(frozen=True)
class Counted:
    """A transfer out of a vault, decoded: the rule it counts for, as the tx's event."""

    rule: Outflow
    log_index: int
    value: int
    event: dict[str, Any]


async def count(
    session: AsyncSession, tx_hash: str, at: datetime, transfers: Sequence[Counted]
) -> list[dict[str, Any]]:
    """Store the transaction's transfers and say, for each rule they count for, the window's
    total when it is over the limit: an event-shaped summary each (none: under the limits)."""
    for transfer in transfers:
        if await queries.transfer(session, tx_hash, transfer.log_index) is None:
            session.add(
                WatchTransfer(
                    rule=transfer.rule.index,
                    token=transfer.rule.token.lower(),
                    vault=transfer.rule.vault.lower(),
                    tx_hash=tx_hash,
                    log_index=transfer.log_index,
                    value=str(transfer.value),
                    block_time=at,
                    removed=False,
                )
            )
    await session.flush()
    over = []
    for rule in {t.rule.index: t.rule for t in transfers}.values():
        stored = await queries.transfers(session, rule.token, rule.vault, at - rule.window)
        total = rules.outflow_total(((r.block_time, int(r.value)) for r in stored), at, rule.window)
        if rules.over_limit(total, rule.limit):
            window = format_duration(rule.window)
            over.append(
                {
                    "contract": rule.vault,
                    "name": rule.vault_name,
                    "event": "outflow",
                    "text": rules.outflow_text(total, rule, window),
                    "rule": rule.index,
                    "total": str(total),
                }
            )
    return over


async def forget(session: AsyncSession, tx_hash: str) -> None:
    """A reorg dropped the transaction: its transfers count no more (the rows stay)."""
    for row in await queries.transfers_of(session, tx_hash):
        row.removed = True
