"""``[watch]``: which contracts the chain watch reads, which events, and the outflow rules.

The chain itself is ``[mitigate.chain]`` (its RPC and chain id): one chain, one client.
A contract is an address or a name of ``[mitigate.addresses]`` (or the environment), as
an action's target is.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from bot.core.durations import Duration
from bot.mitigate.config import Target

# The admin events the issue names, in the shapes OpenZeppelin and the Safe emit them.
ADMIN_EVENTS = (
    "Paused(address)",
    "Unpaused(address)",
    "OwnershipTransferred(address,address)",
    "RoleGranted(bytes32,address,address)",
    "RoleRevoked(bytes32,address,address)",
    "Upgraded(address)",
    "AdminChanged(address,address)",
    "AddedOwner(address)",
    "RemovedOwner(address)",
    "ChangedThreshold(uint256)",
    "ExecutionSuccess(bytes32,uint256)",
    "CallScheduled(bytes32,uint256,address,uint256,bytes,bytes32,uint256)",
)


class WatchedContract(BaseModel):
    model_config = ConfigDict(extra="forbid")

    address: Target
    events: list[str] = list(ADMIN_EVENTS)

    @field_validator("events")
    @classmethod
    def _known(cls, value: list[str]) -> list[str]:
        from bot.watch.rules import EVENTS

        if any(e.replace(" ", "") == TRANSFER for e in value):
            raise ValueError(
                "Transfer is not an admin event: an ERC-20 outflow is a [[watch.outflows]] "
                "rule (token, vault, limit, window)"
            )
        unknown = [e for e in value if e.replace(" ", "") not in EVENTS]
        if unknown:
            raise ValueError(
                f"unknown event(s) {', '.join(unknown)}: the watch decodes "
                f"{', '.join(ADMIN_EVENTS)}"
            )
        return [e.replace(" ", "") for e in value]


TRANSFER = "Transfer(address,address,uint256)"
UINT256_LIMIT = 2**256
_AMOUNT = re.compile(r"(\d+)(?:\.(\d+))?(?:e(\d{1,2}))?", re.IGNORECASE)


def _amount(value: Any) -> int:
    """An amount in the token's smallest unit: an integer, or a string of digits (TOML's
    integers stop at 2^63, 9.2 tokens of 18 decimals), or with an exponent (``"250e18"``)."""
    if isinstance(value, bool) or not isinstance(value, int | str | float):
        raise ValueError(f"{value!r} is not an amount")
    if isinstance(value, float):
        raise ValueError(
            f"{value!r} is a float, which loses digits: write the amount as a string in the "
            'token\'s smallest unit, e.g. "250000000000000000000" or "250e18"'
        )
    if isinstance(value, str):
        found = _AMOUNT.fullmatch(value.strip().replace("_", ""))
        if found is None:
            raise ValueError(
                f"{value!r} is not an amount: write the token's smallest unit as digits "
                '("250000000000000000000") or with an exponent ("250e18", "2.5e20")'
            )
        whole, fraction, exponent = found.group(1), found.group(2) or "", int(found.group(3) or 0)
        if len(fraction.rstrip("0")) > exponent:
            raise ValueError(
                f"{value!r} is not a whole number of the token's smallest unit (the limit is "
                "counted in it, not in tokens)"
            )
        value = int(whole + fraction) * 10**exponent // 10 ** len(fraction)
    if value < 0:
        raise ValueError(f"{value} is negative: an outflow limit is 0 or more")
    if value >= UINT256_LIMIT:
        raise ValueError(f"{value} is larger than any ERC-20 amount (uint256)")
    return value


Amount = Annotated[int, BeforeValidator(_amount)]


class OutflowRule(BaseModel):
    """ERC-20 ``Transfer``s of ``token`` out of ``vault`` summing over ``limit`` (in the
    token's smallest unit) within ``window`` declare a P0 "Outflow over limit"."""

    model_config = ConfigDict(extra="forbid")

    token: Target
    vault: Target
    limit: Amount
    window: Duration = timedelta(hours=1)
    label: str = ""  # how messages name the token; default: its name or address
    # The token's decimals (ERC-20 ``decimals()``, 18 for most, 6 for USDC): messages then
    # give amounts in tokens. Unset: in the smallest unit, as the limit is written.
    decimals: int | None = Field(None, ge=0, le=77)

    @field_validator("window")
    @classmethod
    def _window(cls, value: timedelta) -> timedelta:
        if value <= timedelta(0):
            raise ValueError("the window must be longer than 0s (e.g. '1h')")
        if value > timedelta(days=31):
            raise ValueError("the window is at most 31 days (transfers are summed over it)")
        return value

    @model_validator(mode="after")
    def _two_contracts(self) -> OutflowRule:
        if self.token.lower() == self.vault.lower():
            raise ValueError(
                f"token and vault are both {self.token}: the vault is the contract whose "
                "balance of the token is watched"
            )
        return self


class WatchConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    contracts: dict[str, WatchedContract] = {}  # name → what to watch there
    outflows: list[OutflowRule] = []
    poll_every: Duration = timedelta(seconds=2)
    confirmations: int = Field(0, ge=0)  # blocks behind the head an event must be
    max_range: int = Field(500, ge=1)  # blocks per eth_getLogs (RPCs cap ranges)
    reorg_depth: int = Field(64, ge=1)  # how far back a reorg is looked for
    behind_blocks: int = Field(50, ge=1)  # /healthz names the watcher this far behind
    group_window: Duration = timedelta(minutes=10)  # one attack: events this close in time
    explorer_url: str = "https://etherscan.io"  # a tx's link: {explorer_url}/tx/{hash}
    start_block: int | None = Field(None, ge=0)  # the first run's cursor; None: the head
    severity: str = "P0"

    @field_validator("explorer_url")
    @classmethod
    def _url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError(f"{value!r} is not an http(s) URL")
        return value.rstrip("/")

    @field_validator("outflows")
    @classmethod
    def _one_rule_per_pair(cls, value: list[OutflowRule]) -> list[OutflowRule]:
        seen: dict[tuple[str, str], int] = {}
        for number, rule in enumerate(value, 1):
            pair = (rule.token.lower(), rule.vault.lower())
            if pair in seen:
                raise ValueError(
                    f"rules {seen[pair]} and {number} both watch {rule.token} out of "
                    f"{rule.vault}: keep one rule per token and vault"
                )
            seen[pair] = number
        return value

    @model_validator(mode="after")
    def _confirmations_within_depth(self) -> WatchConfig:
        if self.confirmations >= self.reorg_depth:
            raise ValueError("confirmations must be below reorg_depth")
        return self

    @property
    def enabled(self) -> bool:
        return bool(self.contracts or self.outflows)


def referenced_names(config: WatchConfig) -> set[str]:
    """Every NAME the watch uses instead of an address (resolved like mitigation's)."""
    values = [contract.address for contract in config.contracts.values()]
    values += [value for rule in config.outflows for value in (rule.token, rule.vault)]
    return {value for value in values if not value.startswith("0x")}
