"""``[mitigate]``: what the playbooks need from the team, such as its contract addresses."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

from bot.core.durations import Duration

_ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")
# The name a playbook step writes as ``$NAME`` (the runbook's ``$PRAETOR_TIMELOCK``).
PLACEHOLDER_NAME = re.compile(r"[A-Z][A-Z0-9_]*")
# A runbook also names each signer's key (``$MULTISIG_KEY_1``): never configuration.
_SECRET_WORDS = re.compile(r"KEY|SECRET|PRIVATE|MNEMONIC|PASSWORD|SEED")


def is_secret_name(name: str) -> bool:
    """A placeholder that stands for something only a signer holds (a key), never filled."""
    return bool(_SECRET_WORDS.search(name))


def checksummed(value: str) -> str:
    """An EIP-55 address: all-lowercase (or all-uppercase) is checksummed; mixed case must
    already carry a correct checksum, since a wrong one means a mistyped character."""
    from web3 import Web3  # imported here: loading a config file should not pay for web3

    if not isinstance(value, str) or not _ADDRESS.fullmatch(value.strip()):
        raise ValueError(f"{value!r} is not an address: expected 0x and 40 hex digits")
    value = value.strip()
    digits = value[2:]
    if digits != digits.lower() and digits != digits.upper():
        if not Web3.is_checksum_address(value):
            raise ValueError(
                f"{value} has a wrong EIP-55 checksum, so a character is probably mistyped: "
                "copy the address again from its source (all-lowercase is accepted and "
                "checksummed)"
            )
    return str(Web3.to_checksum_address(value))


def _placeholder_name(name: str) -> str:
    if not PLACEHOLDER_NAME.fullmatch(name):
        raise ValueError(
            f"{name!r} is not a placeholder name: write it as the playbook does, "
            "in capitals, e.g. PRAETOR_TIMELOCK for $PRAETOR_TIMELOCK"
        )
    if is_secret_name(name):
        raise ValueError(
            f"{name} names a secret: keys stay with their signers and are never configured"
        )
    return name


Address = Annotated[str, AfterValidator(checksummed)]
PlaceholderName = Annotated[str, AfterValidator(_placeholder_name)]


PAUSE, KILLSWITCH = "pause", "killswitch"
ACCOUNT = "{account}"  # in an action's arguments: the address given to the command
_SIGNATURE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\((?:[a-z0-9\[\]]+(?:,[a-z0-9\[\]]+)*)?\)")


def _signature(value: str) -> str:
    compact = value.replace(" ", "")
    if not _SIGNATURE.fullmatch(compact):
        raise ValueError(
            f"{value!r} is not a function signature: write it as cast does, e.g. "
            "'pause()' or 'revokeAll(address)'"
        )
    return compact


def _target(value: str) -> str:
    """An address (checksummed here) or the name of one: [mitigate.addresses] NAME or the
    environment variable NAME (``PRAETOR_TIMELOCK``), resolved when the bot starts."""
    if value.startswith("0x"):
        return checksummed(value)
    return _placeholder_name(value)


Signature = Annotated[str, AfterValidator(_signature)]
Target = Annotated[str, AfterValidator(_target)]


class ChainConfig(BaseModel):
    """``[mitigate.chain]``: the JSON-RPC the bot reads (it never sends without an executor)."""

    model_config = ConfigDict(extra="forbid")

    rpc_url: str | None = None  # None: no chain; /mitigate pause says so
    # The RPC the `cast send` commands show signers (the bot's own URL may carry a provider
    # key, so it is never shown); None: the signer's own "$ETH_RPC_URL".
    command_rpc_url: str | None = None
    chain_id: int = Field(1, ge=1)  # check-config and every call refuse another chain
    request_timeout: Duration = timedelta(seconds=10)
    poll_every: Duration = timedelta(seconds=5)  # how often an approved action is watched
    scan_blocks: int = Field(500, ge=1)  # at most this many blocks per look (RPC log caps)
    confirmations: int = Field(0, ge=0)  # blocks behind the head a result must be (reorgs)


class EffectCheck(BaseModel):
    """How an action's effect is read back: a view call, an event, or both."""

    model_config = ConfigDict(extra="forbid")

    contract: Target | None = None  # where to read it; None: the action's target
    view: Signature | None = None  # e.g. "paused()"; returns ``returns``, compared to expect
    args: list[str] = []
    returns: str = "bool"
    expect: bool | int | str = True
    event: Signature | None = None  # e.g. "Paused(address)", emitted by ``contract``

    @model_validator(mode="after")
    def _something(self) -> EffectCheck:
        if self.view is None and self.event is None:
            raise ValueError("an effect check needs a view call, an event, or both")
        return self


class ActionConfig(BaseModel):
    """One emergency action: what is called, on what, and how its effect is checked."""

    model_config = ConfigDict(extra="forbid")

    target: Target
    function: Signature
    args: list[str] = []  # "{account}": the address the command was given
    effect: EffectCheck
    label: str = ""  # how messages name it; default: the function


def default_actions() -> dict[str, ActionConfig]:
    """The runbook's two actions. Deployed contracts may differ: configure them."""
    return {
        PAUSE: ActionConfig(
            target="PRAETOR_TIMELOCK",
            function="pause()",
            effect=EffectCheck(view="paused()", expect=True),
            label="Emergency pause",
        ),
        KILLSWITCH: ActionConfig(
            target="POSTERN_KILL_SWITCH",
            function="revokeAll(address)",
            args=[ACCOUNT],
            effect=EffectCheck(view="isRevoked(address)", args=[ACCOUNT], expect=True),
            label="Kill switch",
        ),
    }


class MitigateConfig(BaseModel):
    """``[mitigate]``. ``[mitigate.addresses]`` fills ``$NAME`` in the playbooks' steps (and
    names the actions' targets); ``[mitigate.chain]`` is the RPC; ``[mitigate.actions.*]``
    the emergency actions; the rest is how a P0 proposal runs."""

    model_config = ConfigDict(extra="forbid")

    addresses: dict[PlaceholderName, Address] = {}
    chain: ChainConfig = ChainConfig()
    actions: dict[str, ActionConfig] = Field(default_factory=default_actions)
    threshold: int = Field(2, ge=1)  # confirmations a pause needs (shape a: the timelock's)
    # Shape (a): read the threshold live from the pause's target instead, e.g. "threshold()".
    threshold_view: Signature | None = None
    signers: int = Field(3, ge=1)  # how many the multisig has, as the proposal says "2 of 3"
    deadline: Duration = timedelta(hours=48)  # the runbook's 48 h window
    # Reminders this long before the deadline, while the proposal is still open.
    reminders: list[Duration] = [timedelta(hours=24), timedelta(hours=4), timedelta(hours=1)]
    challenge_ttl: Duration = timedelta(minutes=15)  # how long a /signer challenge is valid
    severities: list[str] = ["P0"]  # where /mitigate pause and killswitch may run
    # Shape (b): the Safe (v1.4.1) that owns the pause's target, an address or a name as in
    # [mitigate.addresses]. Set, a pause is a Safe transaction: owners and threshold are
    # read live from it, owners sign it (EIP-712, /mitigate sign), anyone executes it.
    safe: Target | None = None

    @field_validator("actions", mode="before")
    @classmethod
    def _over_defaults(cls, value: Any) -> Any:
        """A configured action replaces the default of its name; the others stay."""
        if isinstance(value, dict):
            return {**default_actions(), **value}
        return value

    @model_validator(mode="after")
    def _both_actions(self) -> MitigateConfig:
        missing = [name for name in (PAUSE, KILLSWITCH) if name not in self.actions]
        if missing:
            raise ValueError(f"[mitigate.actions] must define {', '.join(missing)}")
        if self.threshold > self.signers:
            raise ValueError(f"threshold {self.threshold} exceeds signers {self.signers}")
        return self
