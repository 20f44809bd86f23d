"""``[watch]``: which contracts the chain watch reads, which events, and the outflow rules.

The chain itself is ``[mitigate.chain]`` (its RPC and chain id): one chain, one client.
A contract is an address or a name of ``[mitigate.addresses]`` (or the environment), as
an action's target is.
"""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

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

        unknown = [e for e in value if e.replace(" ", "") not in EVENTS]
        if unknown:
            raise ValueError(
                f"unknown event(s) {', '.join(unknown)}: the watch decodes "
                f"{', '.join(ADMIN_EVENTS)}"
            )
        return [e.replace(" ", "") for e in value]


class OutflowRule(BaseModel):
    """ERC-20 ``Transfer``s of ``token`` out of ``vault`` summing over ``limit`` (in the
    token's smallest unit) within ``window`` declare a P0 "Outflow over limit"."""

    model_config = ConfigDict(extra="forbid")

    token: Target
    vault: Target
    limit: int = Field(ge=0)
    window: Duration = timedelta(hours=1)
    label: str = ""


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
    def _not_yet(cls, value: list[OutflowRule]) -> list[OutflowRule]:
        if value:
            raise ValueError(
                "outflow rules are not applied by this version of the chain watch: remove "
                "[[watch.outflows]] (a rule that is silently not applied would be worse)"
            )
        return value

    @model_validator(mode="after")
    def _confirmations_within_depth(self) -> WatchConfig:
        if self.confirmations >= self.reorg_depth:
            raise ValueError("confirmations must be below reorg_depth")
        return self

    @property
    def enabled(self) -> bool:
        return bool(self.contracts)
