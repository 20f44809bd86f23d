"""``[mitigate]``: what the playbooks need from the team, such as its contract addresses."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict

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


class MitigateConfig(BaseModel):
    """``[mitigate]``. ``[mitigate.addresses]`` fills ``$NAME`` in the playbooks' steps."""

    model_config = ConfigDict(extra="forbid")

    addresses: dict[PlaceholderName, Address] = {}
