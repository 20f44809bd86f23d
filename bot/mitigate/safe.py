"""Shape (b), a Safe v1.4.1 owning the timelock: the Safe transaction as plain functions.

The owners sign the EIP-712 ``SafeTx`` (its hash is the ``safeTxHash`` the Safe itself
computes, checked against ``getTransactionHash`` on-chain); once ``threshold`` owners
have, anyone may call ``execTransaction`` with their signatures concatenated in
ascending owner-address order.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_utils import keccak

ZERO = "0x" + "0" * 40
EXEC = "execTransaction(address,uint256,bytes,uint8,uint256,uint256,uint256,address,address,bytes)"
TX_HASH = "getTransactionHash(address,uint256,bytes,uint8,uint256,uint256,uint256,address,address,uint256)"
SAFE_TX_TYPES = [
    {"name": "to", "type": "address"},
    {"name": "value", "type": "uint256"},
    {"name": "data", "type": "bytes"},
    {"name": "operation", "type": "uint8"},
    {"name": "safeTxGas", "type": "uint256"},
    {"name": "baseGas", "type": "uint256"},
    {"name": "gasPrice", "type": "uint256"},
    {"name": "gasToken", "type": "address"},
    {"name": "refundReceiver", "type": "address"},
    {"name": "nonce", "type": "uint256"},
]


def typed_data(chain_id: int, safe: str, to: str, data: str, nonce: int) -> dict[str, Any]:
    """The full EIP-712 message of a plain call (value 0, no refund) from ``safe`` to ``to``:
    what ``cast wallet sign --data`` signs."""
    return {
        "types": {
            "EIP712Domain": [
                {"name": "chainId", "type": "uint256"},
                {"name": "verifyingContract", "type": "address"},
            ],
            "SafeTx": SAFE_TX_TYPES,
        },
        "primaryType": "SafeTx",
        "domain": {"chainId": chain_id, "verifyingContract": safe},
        "message": {
            "to": to,
            "value": 0,
            "data": data,
            "operation": 0,
            "safeTxGas": 0,
            "baseGas": 0,
            "gasPrice": 0,
            "gasToken": ZERO,
            "refundReceiver": ZERO,
            "nonce": nonce,
        },
    }


def safe_tx_hash(typed: Mapping[str, Any]) -> str:
    signable = encode_typed_data(full_message=dict(typed))
    digest = keccak(b"\x19" + signable.version + signable.header + signable.body)
    return "0x" + bytes(digest).hex()


def tx_hash_args(typed: Mapping[str, Any]) -> list[str]:
    """``getTransactionHash``'s arguments, to read the Safe's own hash of it."""
    m = typed["message"]
    return [m["to"], "0", m["data"], "0", "0", "0", "0", ZERO, ZERO, str(m["nonce"])]


def signer_of(typed: Mapping[str, Any], signature: str) -> str | None:
    """The address whose key made ``signature`` over ``typed`` (None if none can be)."""
    try:
        return str(
            Account.recover_message(
                encode_typed_data(full_message=dict(typed)), signature=signature
            )
        )
    except Exception:  # a malformed signature recovers nothing
        return None


def exec_args(typed: Mapping[str, Any], signatures: Mapping[str, str]) -> list[str]:
    """``execTransaction``'s arguments: the signatures (owner → 0x…65 bytes) concatenated
    in ascending owner-address order, as the Safe checks them."""
    m = typed["message"]
    ordered = sorted(signatures.items(), key=lambda item: int(item[0], 16))
    packed = "0x" + "".join(sig.removeprefix("0x") for _, sig in ordered)
    return [m["to"], "0", m["data"], "0", "0", "0", "0", ZERO, ZERO, packed]


def sign_command(typed: Mapping[str, Any]) -> str:
    """How an owner signs it with cast (their key stays with them)."""
    import json

    body = json.dumps(typed, separators=(",", ":"))
    return f"cast wallet sign --interactive --data '{body}'"
