"""The chain: JSON-RPC through web3.py's ``AsyncWeb3``, read-only.

The bot builds calldata, simulates it (``eth_call``), reads views and events, and scans
blocks for the transactions signers send. It never signs and never sends unless an executor key is
configured (a relayer with no authority of its own: ``sign_call``, ``send_raw``).
Every call first checks the node's chain id against the configured one (a node on the
wrong chain is refused, never read), and any transport failure is an
``ExternalServiceError`` naming the RPC.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from eth_abi import decode, encode
from eth_account import Account
from eth_utils import keccak
from pydantic import SecretStr
from web3 import AsyncHTTPProvider, AsyncWeb3
from web3.exceptions import (
    ContractCustomError,
    ContractLogicError,
    TransactionNotFound,
    Web3Exception,
)

from bot.core.outages import Outages
from bot.errors import ExternalServiceError, UserError

RPC = "rpc"  # its name on /healthz

_ERROR_STRING = bytes.fromhex("08c379a0")  # Error(string)
_PANIC = bytes.fromhex("4e487b71")  # Panic(uint256)
_ARGS = re.compile(r"^[^(]+\((.*)\)$")


class WrongChain(UserError):
    """The RPC answers for another chain than the configured one."""


class SimulationFailed(UserError):
    """``eth_call`` reverted: the transaction would fail; ``reason`` is decoded."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def arg_types(signature: str) -> list[str]:
    """``revokeAll(address)`` → ``["address"]``."""
    match = _ARGS.match(signature)
    if match is None:
        raise ValueError(f"{signature!r} is not a function signature")
    inner = match.group(1)
    return [t for t in inner.split(",") if t] if inner else []


def selector(signature: str) -> bytes:
    return bytes(keccak(text=signature))[:4]


def topic(signature: str) -> bytes:
    return bytes(keccak(text=signature))


def convert(kind: str, value: Any) -> Any:
    """A configured or typed argument as eth_abi wants it."""
    if isinstance(value, str) and (kind.startswith("uint") or kind.startswith("int")):
        return int(value, 0)
    if kind == "bool" and isinstance(value, str):
        return value.lower() in ("true", "1", "yes")
    if kind.startswith("bytes") and isinstance(value, str):
        return bytes.fromhex(value.removeprefix("0x"))
    return value


def calldata(signature: str, args: Sequence[Any]) -> str:
    """The calldata of ``signature`` with ``args``, as 0x-hex (what ``cast calldata`` prints)."""
    types = arg_types(signature)
    if len(types) != len(args):
        raise ValueError(f"{signature} takes {len(types)} argument(s), {len(args)} given")
    values = [convert(t, a) for t, a in zip(types, args, strict=True)]
    return "0x" + (selector(signature) + encode(types, values)).hex()


def revert_reason(data: Any) -> str:
    """A revert's data, decoded: ``Error(string)``'s text, a panic code, or the raw custom
    error selector and data (no ABI to name it)."""
    raw = _bytes(data)
    if raw.startswith(_ERROR_STRING):
        try:
            (text,) = decode(["string"], raw[4:])
            return str(text)
        except Exception:
            pass
    if raw.startswith(_PANIC):
        try:
            (code,) = decode(["uint256"], raw[4:])
            return f"panic 0x{code:x}"
        except Exception:
            pass
    if not raw:
        return "reverted without a reason"
    return f"custom error 0x{raw[:4].hex()} (data 0x{raw[4:].hex() or '-'})"


def _bytes(data: Any) -> bytes:
    if isinstance(data, bytes | bytearray):
        return bytes(data)
    if isinstance(data, str):
        try:
            return bytes.fromhex(data.removeprefix("0x"))
        except ValueError:
            return b""
    if isinstance(data, dict):
        return _bytes(data.get("data"))
    return b""


@dataclass(frozen=True)
class SeenTx:
    """A mined transaction to a target with the action's calldata."""

    tx_hash: str
    sender: str
    block: int
    index: int
    success: bool


class ChainClient:
    def __init__(self, rpc_url: str, chain_id: int, timeout: timedelta) -> None:
        self.rpc_url = rpc_url
        self.chain_id = chain_id
        self._w3 = AsyncWeb3(
            AsyncHTTPProvider(rpc_url, request_kwargs={"timeout": timeout.total_seconds()})
        )
        self._checked = False
        self.outages = Outages()  # the composition root's (bot/services.py)

    async def close(self) -> None:
        """Close the HTTP sessions web3 keeps open to the RPC (call once, at stop)."""
        await self._w3.provider.disconnect()

    async def _rpc(self, awaitable: Any) -> Any:
        try:
            result = await awaitable
        except (ContractLogicError, ContractCustomError, TransactionNotFound):
            self.outages.up(RPC)  # it answered
            raise
        except (OSError, TimeoutError, Web3Exception) as error:
            raise self._unreachable(error) from error
        except Exception as error:  # aiohttp's errors and anything else the transport raises
            if type(error).__module__.startswith("aiohttp"):
                raise self._unreachable(error) from error
            raise
        self.outages.up(RPC)
        return result

    def _unreachable(self, error: Exception) -> ExternalServiceError:
        """The RPC did not answer: /healthz names ``rpc`` until a read goes through."""
        failure = ExternalServiceError(
            f"The chain's RPC at {self.rpc_url} could not be reached ({type(error).__name__})"
        )
        self.outages.down(RPC, str(failure))
        return failure

    async def health(self) -> tuple[bool, Any]:
        """/healthz's ``rpc`` part: while the last read failed, one more (at most 2 s)
        tells whether it answers again (a failed command read is not 503 for good)."""
        if self.outages.is_down(RPC):
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.block_number(), 2)
        return self.outages.part(RPC)()

    async def node_chain_id(self) -> int:
        return int(await self._rpc(self._w3.eth.chain_id))

    async def ensure_chain(self) -> None:
        """WrongChain unless the node answers with the configured chain id."""
        found = await self.node_chain_id()
        if found != self.chain_id:
            self._checked = False
            raise WrongChain(
                f"The RPC at {self.rpc_url} is on chain {found}, not the configured "
                f"chain {self.chain_id}: nothing was read or proposed. Fix "
                "[mitigate.chain] rpc_url or chain_id."
            )
        self._checked = True

    async def code_at(self, address: str) -> bytes:
        await self.ensure_chain()
        return bytes(await self._rpc(self._w3.eth.get_code(AsyncWeb3.to_checksum_address(address))))

    async def check(self, addresses: dict[str, str]) -> list[str]:
        """check-config: the chain id, then that each named address has code."""
        try:
            await self.ensure_chain()
        except (UserError, ExternalServiceError) as error:
            return [f"mitigate.chain: {error}"]
        problems = []
        for name, address in sorted(addresses.items()):
            if not AsyncWeb3.is_checksum_address(address):
                problems.append(f"{name}: {address} is not a checksummed address")
            elif not await self.code_at(address):
                problems.append(f"{name}: {address} has no contract code on chain {self.chain_id}")
        return problems

    async def simulate(self, to: str, data: str, sender: str | None) -> None:
        """``eth_call`` at the latest block; SimulationFailed with the decoded reason."""
        await self.ensure_chain()
        call: dict[str, Any] = {"to": to, "data": data}
        if sender:
            call["from"] = sender
        try:
            await self._rpc(self._w3.eth.call(call))  # type: ignore[arg-type]
        except (ContractLogicError, ContractCustomError) as error:
            raise SimulationFailed(revert_reason(error.data)) from error

    async def view(
        self,
        to: str,
        signature: str,
        args: Sequence[Any],
        returns: str,
        block: int | str = "latest",
    ) -> Any:
        """A view function's result at ``block``."""
        await self.ensure_chain()
        call = {"to": to, "data": calldata(signature, args)}
        try:
            raw = await self._rpc(self._w3.eth.call(call, block))  # type: ignore[arg-type]
        except (ContractLogicError, ContractCustomError) as error:
            raise SimulationFailed(f"{signature} reverted: {revert_reason(error.data)}") from error
        (value,) = decode([returns], bytes(raw))
        return value

    async def block_number(self) -> int:
        await self.ensure_chain()
        return int(await self._rpc(self._w3.eth.block_number))

    async def transactions_to(self, to: str, data: str, first: int, last: int) -> list[SeenTx]:
        """Mined transactions to ``to`` with exactly ``data``, in blocks first..last."""
        found: list[SeenTx] = []
        wanted_to, wanted_data = to.lower(), bytes.fromhex(data.removeprefix("0x"))
        for number in range(first, last + 1):
            block = await self._rpc(self._w3.eth.get_block(number, full_transactions=True))
            for tx in block["transactions"]:
                if (tx.get("to") or "").lower() != wanted_to or bytes(tx["input"]) != wanted_data:
                    continue
                receipt = await self._rpc(self._w3.eth.get_transaction_receipt(tx["hash"]))
                found.append(
                    SeenTx(
                        tx_hash="0x" + bytes(tx["hash"]).hex().removeprefix("0x"),
                        sender=AsyncWeb3.to_checksum_address(tx["from"]),
                        block=int(number),
                        index=int(tx["transactionIndex"]),
                        success=int(receipt["status"]) == 1,
                    )
                )
        return found

    # -- the optional executor (a relayer key with no authority of its own) ---------------
    async def sign_call(self, key: SecretStr, to: str, data: str) -> tuple[str, str]:
        """(tx hash, raw signed transaction) of a call from the executor: signed before it
        is sent, so its hash is stored first and a restart looks it up, never re-signs."""
        await self.ensure_chain()
        account = Account.from_key(key.get_secret_value())
        eth = self._w3.eth
        call: dict[str, Any] = {"from": account.address, "to": to, "data": data, "value": 0}
        nonce = await self._rpc(eth.get_transaction_count(account.address, "pending"))
        try:
            gas = await self._rpc(eth.estimate_gas(call))  # type: ignore[arg-type]
        except (ContractLogicError, ContractCustomError) as error:
            raise SimulationFailed(revert_reason(error.data)) from error
        price = await self._rpc(eth.gas_price)
        signed = account.sign_transaction(
            {
                "to": to,
                "data": data,
                "value": 0,
                "nonce": int(nonce),
                "gas": int(gas * 1.2) + 10_000,
                "gasPrice": int(price),
                "chainId": self.chain_id,
            }
        )
        return "0x" + bytes(signed.hash).hex(), "0x" + bytes(signed.raw_transaction).hex()

    async def send_raw(self, raw: str) -> str:
        sent = await self._rpc(self._w3.eth.send_raw_transaction(raw))  # type: ignore[arg-type]
        return "0x" + bytes(sent).hex().removeprefix("0x")

    async def transaction_known(self, tx_hash: str) -> bool:
        """Whether the node knows the transaction (pending or mined)."""
        try:
            await self._rpc(self._w3.eth.get_transaction(tx_hash))  # type: ignore[arg-type]
        except TransactionNotFound:
            return False
        return True

    async def emitted(self, tx_hash: str, contract: str, event: str) -> bool:
        """Whether the transaction's receipt holds ``event`` emitted by ``contract``."""
        receipt = await self._rpc(self._w3.eth.get_transaction_receipt(tx_hash))  # type: ignore[arg-type]
        wanted = topic(event)
        return any(
            (log["address"] or "").lower() == contract.lower()
            and log["topics"]
            and bytes(log["topics"][0]) == wanted
            for log in receipt["logs"]
        )

    # -- the chain watch (bot/watch/): logs in bounded ranges, headers, transactions -------
    async def logs(
        self, addresses: Sequence[str], topics: Sequence[bytes], first: int, last: int
    ) -> list[dict[str, Any]]:
        """``eth_getLogs`` of ``addresses`` with any of ``topics`` in blocks first..last (the
        caller keeps the range within what the RPC accepts)."""
        await self.ensure_chain()
        query: Any = {
            "fromBlock": first,
            "toBlock": last,
            "address": [AsyncWeb3.to_checksum_address(a) for a in addresses],
            "topics": [["0x" + t.hex() for t in topics]],
        }
        return [dict(entry) for entry in await self._rpc(self._w3.eth.get_logs(query))]

    async def header(self, number: int) -> tuple[str, int] | None:
        """(hash, timestamp) of block ``number``; None when the node has no such block."""
        block = await self._rpc(self._w3.eth.get_block(number))
        if block is None:
            return None
        return "0x" + bytes(block["hash"]).hex().removeprefix("0x"), int(block["timestamp"])

    async def tx_detail(self, tx_hash: str) -> tuple[str, str | None, bytes] | None:
        """(sender, to, calldata) of a transaction; None when the node does not know it."""
        try:
            tx = await self._rpc(self._w3.eth.get_transaction(tx_hash))  # type: ignore[arg-type]
        except TransactionNotFound:
            return None
        to = tx.get("to")
        return (
            AsyncWeb3.to_checksum_address(tx["from"]),
            AsyncWeb3.to_checksum_address(to) if to else None,
            bytes(tx["input"]),
        )

    async def receipt_of(self, tx_hash: str) -> tuple[str, list[tuple[str, list[bytes]]]] | None:
        """(block hash, [(address, topics)]) of a mined transaction; None when it is not
        mined on the node's chain (any more)."""
        try:
            receipt = await self._rpc(self._w3.eth.get_transaction_receipt(tx_hash))  # type: ignore[arg-type]
        except TransactionNotFound:
            return None
        logs = [(str(log["address"]), [bytes(t) for t in log["topics"]]) for log in receipt["logs"]]
        return "0x" + bytes(receipt["blockHash"]).hex().removeprefix("0x"), logs
