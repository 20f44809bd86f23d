"""The rules of the P0 mitigations as plain functions: the state table of an emergency
action, what a signer's challenge says, which ✅ counts, what the proposal shows.

An action is a row before it is anything else (``Mitigation``), and moves through one
table::

    proposed ──threshold of ✅──▶ approved ──effect read back on-chain──▶ applied
       │  ╲                          │  ╲
       │   ╲ deadline ▶ expired      │   ╲ a transaction succeeded, no effect ▶ failed
       ╰─────╲ /mitigate cancel ▶ cancelled ◀──╯

The kill switch starts ``awaiting_confirm`` (the button of the person who ran it) and
moves to ``approved`` when they press it. Nothing is ``applied`` until the chain shows it.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from bot.core.states import StateTable
from bot.errors import UserError
from bot.mitigate.config import ACCOUNT, checksummed

CONFIRM_EMOJI = "✅"
ZERO_ADDRESS = "0x" + "0" * 40
_SIGNATURE_HEX = re.compile(r"0x[0-9a-fA-F]{130}")


class MitigationState(StrEnum):
    AWAITING_CONFIRM = "awaiting_confirm"
    PROPOSED = "proposed"
    APPROVED = "approved"
    APPLIED = "applied"
    FAILED = "failed"
    EXPIRED = "expired"
    CANCELLED = "cancelled"


_M = MitigationState
MITIGATIONS: StateTable[MitigationState] = StateTable(
    "mitigation",
    {
        _M.AWAITING_CONFIRM: frozenset({_M.APPROVED, _M.CANCELLED, _M.EXPIRED}),
        _M.PROPOSED: frozenset({_M.APPROVED, _M.EXPIRED, _M.CANCELLED}),
        _M.APPROVED: frozenset({_M.APPLIED, _M.FAILED, _M.EXPIRED, _M.CANCELLED}),
        _M.APPLIED: frozenset(),
        _M.FAILED: frozenset(),
        _M.EXPIRED: frozenset(),
        _M.CANCELLED: frozenset(),
    },
)
OPEN = (_M.AWAITING_CONFIRM, _M.PROPOSED, _M.APPROVED)
WATCHED = (_M.APPROVED,)


# -- addresses given to commands -----------------------------------------------------------
def parse_address(value: str, what: str = "address") -> str:
    """A checksummed address from what a person typed: all-lowercase is checksummed, mixed
    case must carry a correct checksum, and the zero address is refused."""
    try:
        address = checksummed(value.strip())
    except ValueError as error:
        raise UserError(f"That {what} was refused: {error}. Nothing changed.") from None
    if address == ZERO_ADDRESS:
        raise UserError(
            f"That {what} is the zero address (0x000…000), which no one controls. Nothing changed."
        )
    return address


def parse_signature(value: str) -> str:
    compact = value.strip()
    if not compact.startswith("0x"):
        compact = "0x" + compact
    if not _SIGNATURE_HEX.fullmatch(compact):
        raise UserError(
            "That is not a signature: expected 0x and 130 hex digits (what "
            "`cast wallet sign` prints). Nothing changed."
        )
    return compact


# -- the signer's challenge ----------------------------------------------------------------
def new_nonce() -> str:
    return secrets.token_hex(16)


def challenge_text(
    address: str, member_id: str, guild_id: str, chain_id: int, nonce: str, expires_at: datetime
) -> str:
    """The EIP-191 message a member signs to bind ``address``: it names the member, the
    guild and the chain, and carries a single-use nonce and an expiry."""
    return "\n".join(
        [
            "Bind this address as an incident multisig signer.",
            f"Address: {address}",
            f"Discord member: {member_id}",
            f"Discord guild: {guild_id}",
            f"Chain id: {chain_id}",
            f"Nonce: {nonce}",
            f"Expires: {expires_at.strftime('%Y-%m-%dT%H:%M:%SZ')}",
        ]
    )


def sign_command(text: str) -> str:
    """How the member signs the challenge with cast (the key stays on their machine)."""
    quoted = text.replace("'", "'\\''")
    return f"cast wallet sign --interactive '{quoted}'"


# -- the action ------------------------------------------------------------------------------
@dataclass(frozen=True)
class ResolvedEffect:
    contract: str
    view: str | None
    args: tuple[str, ...]
    returns: str
    expect: bool | int | str
    event: str | None

    def to_dict(self) -> dict[str, object]:
        return {
            "contract": self.contract,
            "view": self.view,
            "args": list(self.args),
            "returns": self.returns,
            "expect": self.expect,
            "event": self.event,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ResolvedEffect:
        return cls(
            contract=str(data["contract"]),
            view=data.get("view") or None,
            args=tuple(str(a) for a in data.get("args") or ()),
            returns=str(data.get("returns", "bool")),
            expect=data.get("expect", True),
            event=data.get("event") or None,
        )

    def describe(self) -> str:
        parts = []
        if self.view:
            parts.append(f"`{self.view}` on {self.contract} returns {str(self.expect).lower()}")
        if self.event:
            parts.append(f"`{self.event}` emitted by {self.contract}")
        return " and ".join(parts)


def fill_args(args: Sequence[str], account: str | None) -> list[str]:
    """An action's configured arguments with ``{account}`` filled."""
    filled = []
    for arg in args:
        if ACCOUNT in arg:
            if account is None:
                raise UserError("This action needs an address (the account to act on).")
            arg = arg.replace(ACCOUNT, account)
        filled.append(arg)
    return filled


def expected(value: object, expect: bool | int | str) -> bool:
    """Whether a view's result is the configured expectation."""
    if isinstance(expect, bool):
        return bool(value) is expect and isinstance(value, bool | int)
    if isinstance(expect, int):
        return isinstance(value, int) and value == expect
    return str(value).lower() == str(expect).lower()


def cast_send(target: str, function: str, args: Sequence[str], rpc: str) -> str:
    """The exact command a signer runs with their own wallet: no key in it, ever
    (``--interactive`` asks for the key on their machine; ``--ledger`` works too)."""
    quoted = " ".join(args)
    tail = f" {quoted}" if quoted else ""
    return f'cast send {target} "{function}"{tail} --rpc-url {rpc} --interactive'


def command_rpc(public_url: str | None) -> str:
    """The RPC the command shows: the configured public one, else the signer's own
    ``$ETH_RPC_URL`` (the bot's RPC URL may carry a provider key)."""
    return public_url or '"$ETH_RPC_URL"'


def reminder_times(
    proposed_at: datetime, deadline: datetime, before: Sequence[timedelta]
) -> list[datetime]:
    """When to remind, ``before`` the deadline, never before the proposal exists."""
    return sorted({deadline - b for b in before if deadline - b > proposed_at})


def short(tx_hash: str) -> str:
    return f"{tx_hash[:10]}…{tx_hash[-4:]}"
