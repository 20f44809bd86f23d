"""The viewer's chain views (issue 17): blocks, transactions, proposals as the guild shows
them, and mining, advancing time and a signer's send, all read from anvil itself.

Mixed into sandbox/views.py's ViewerRoutes, which mounts the routes.
"""

from __future__ import annotations

import asyncio
import json
import re
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import aiohttp
from aiohttp import web

from .chain import dev_accounts

if TYPE_CHECKING:
    from .world import World

# Function selectors the chain view names (keccak-256 of the signature, first 4 bytes).
KNOWN_FUNCTIONS = (
    "pause()",
    "unpause()",
    "revokeAll(address)",
    "transferOwnership(address)",
    "sweep(address,address,uint256)",
    "transfer(address,uint256)",
    "mint(address,uint256)",
    "grantRole(bytes32,address)",
    "execTransaction(address,uint256,bytes,uint8,uint256,uint256,uint256,address,address,bytes)",
)
MAX_BLOCKS = 50


def json_error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


def selector(signature: str) -> str:
    from eth_utils import keccak

    return "0x" + keccak(text=signature)[:4].hex()


async def read_body(request: web.Request) -> dict[str, Any]:
    if not request.can_read_body:
        return {}
    try:
        body = await request.json()
    except ValueError:
        raise web.HTTPBadRequest(
            text='{"error": "the body must be JSON"}', content_type="application/json"
        ) from None
    if not isinstance(body, dict):
        raise web.HTTPBadRequest(
            text='{"error": "the body must be a JSON object"}', content_type="application/json"
        )
    return body


def iso_seconds(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat().replace("+00:00", "Z")


class ChainViews:
    world: World
    _selectors: dict[str, str]
    _deployer: str | None

    # -- the chain -------------------------------------------------------------------------
    def _chain(self) -> dict[str, Any]:
        described = self.world.describe().get("chain")
        if not described:
            raise web.HTTPConflict(
                text='{"error": "the world has no chain (run `make node`)"}',
                content_type="application/json",
            )
        return described

    async def _rpc(self, method: str, *params: Any) -> Any:
        url = self._chain()["rpc_url"]
        body = {"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)}
        timeout = aiohttp.ClientTimeout(total=10)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            async with session.post(url, json=body) as response:
                answer = await response.json(content_type=None)
        if "error" in answer:
            message = f"{method}: {str(answer['error'].get('message', ''))[:200]}"
            raise web.HTTPBadRequest(
                text=json.dumps({"error": message}), content_type="application/json"
            )
        return answer["result"]

    def _names(self, chain: dict[str, Any]) -> dict[str, str]:
        users = {u["id"]: u["name"] for u in self.world.describe()["users"]}
        names = {a.lower(): n for n, a in chain["contracts"].items()}
        for signer in chain["signers"]:
            names[signer["address"].lower()] = users.get(signer.get("user_id") or "", "signer")
        if self._deployer is None:
            self._deployer = dev_accounts(1)[0][0].lower()
        names[self._deployer] = "deployer"
        if chain.get("attacker"):
            names[chain["attacker"]["address"].lower()] = "attacker"
        return names

    async def _call_bool(self, to: str, signature: str) -> Any:
        raw = await self._rpc("eth_call", {"to": to, "data": selector(signature)}, "latest")
        return int(raw, 16) if raw and raw != "0x" else None

    async def chain_state(self, request: web.Request) -> web.Response:
        """``{block, time, chain_id, contracts:[{name, address}], paused, confirmations,
        threshold}``: the latest block and what the demo contracts read now."""
        chain = self._chain()
        block = await self._rpc("eth_getBlockByNumber", "latest", False)
        contracts = chain["contracts"]
        reads: dict[str, Any] = {}
        for key, to, signature in (
            ("paused", contracts.get("ATRIUM_VAULT"), "paused()"),
            ("confirmations", contracts.get("PRAETOR_TIMELOCK"), "confirmations()"),
            ("threshold", contracts.get("PRAETOR_TIMELOCK"), "threshold()"),
        ):
            try:
                reads[key] = await self._call_bool(to, signature) if to else None
            except web.HTTPBadRequest:
                reads[key] = None
        if reads["paused"] is not None:
            reads["paused"] = bool(reads["paused"])
        return web.json_response(
            {
                "block": int(block["number"], 16),
                "time": iso_seconds(int(block["timestamp"], 16)),
                "chain_id": chain.get("chain_id"),
                "shape": chain.get("shape"),
                "rpc_url": chain["rpc_url"],
                "contracts": [{"name": n, "address": a} for n, a in contracts.items()],
                **reads,
            }
        )

    async def chain_blocks(self, request: web.Request) -> web.Response:
        """``[{number, hash, time, transactions:[{hash, from, from_name, to, to_name,
        function, status}]}]``, newest first, at most ``?limit`` (20; 50 at most)."""
        chain = self._chain()
        try:
            limit = min(MAX_BLOCKS, max(1, int(request.query.get("limit", "20"))))
        except ValueError:
            return json_error(400, "limit must be a whole number")
        names = self._names(chain)
        latest = int(await self._rpc("eth_blockNumber"), 16)
        blocks = []
        for number in range(latest, max(-1, latest - limit), -1):
            block = await self._rpc("eth_getBlockByNumber", hex(number), True)
            txs = []
            for tx in block["transactions"]:
                receipt = await self._rpc("eth_getTransactionReceipt", tx["hash"]) or {}
                to = (tx.get("to") or "").lower()
                data = tx.get("input") or "0x"
                txs.append(
                    {
                        "hash": tx["hash"],
                        "from": tx["from"],
                        "from_name": names.get(tx["from"].lower()),
                        "to": tx.get("to"),
                        "to_name": names.get(to or str(receipt.get("contractAddress")).lower()),
                        "function": self._selectors.get(data[:10], data[:10]) if to else "deploy",
                        "status": "ok" if receipt.get("status") == "0x1" else "reverted",
                    }
                )
            blocks.append(
                {
                    "number": number,
                    "hash": block["hash"],
                    "time": iso_seconds(int(block["timestamp"], 16)),
                    "transactions": txs,
                }
            )
        return web.json_response(blocks)

    async def chain_proposals(self, request: web.Request) -> web.Response:
        """``[{channel_id, message_id, title, description, reactions, at}]``: the bot's
        emergency-action proposals (its 🛑 messages) in every channel."""
        state = self.world.discord.state
        bot_id = state.bot_user.id if state.bot_user else None
        found = []
        for channel in state.the_guild.channels.values():
            for message in channel.messages.values():
                if message.author_id != bot_id:
                    continue
                for embed in message.embeds or []:
                    title = embed.get("title") or ""
                    if title.startswith(("🛑", "✅ Approved", "✅ Mitigation applied", "⛓️")):
                        found.append(
                            {
                                "channel_id": str(channel.id),
                                "message_id": str(message.id),
                                "title": title,
                                "description": embed.get("description") or "",
                                "at": message.created_at.isoformat(),
                            }
                        )
        return web.json_response(sorted(found, key=lambda p: int(p["message_id"])))

    async def chain_mine(self, request: web.Request) -> web.Response:
        """``{blocks?: n}`` (1): mine n empty blocks now; answers the state."""
        body = await read_body(request)
        blocks = body.get("blocks", 1)
        if not isinstance(blocks, int) or not 1 <= blocks <= 100:
            return json_error(400, "blocks must be a whole number from 1 to 100")
        for _ in range(blocks):
            await self._rpc("evm_mine")
        return await self.chain_state(request)

    async def chain_advance(self, request: web.Request) -> web.Response:
        """``{seconds}``: move the chain's time forward and mine a block at the new time."""
        body = await read_body(request)
        seconds = body.get("seconds")
        if not isinstance(seconds, int) or isinstance(seconds, bool) or seconds < 1:
            return json_error(400, "seconds must be a whole number of at least 1")
        await self._rpc("evm_increaseTime", seconds)
        await self._rpc("evm_mine")
        return await self.chain_state(request)

    async def chain_send(self, request: web.Request) -> web.Response:
        """``{user_id, to, function}``: that signer's wallet sends ``function`` (one of the
        argument-less ones, e.g. ``pause()``) to a contract (its name or address), as the
        member would with ``cast send``. Answers ``{hash, status, block}``."""
        body = await read_body(request)
        chain = self._chain()
        signer = next(
            (s for s in chain["signers"] if s.get("user_id") == str(body.get("user_id"))), None
        )
        if signer is None:
            return json_error(400, "user_id must be a member holding one of the signer keys")
        to = chain["contracts"].get(str(body.get("to")), str(body.get("to") or ""))
        if not re.fullmatch(r"0x[0-9a-fA-F]{40}", to):
            return json_error(400, f"to must be a contract name or an address, not {to!r}")
        function = str(body.get("function") or "")
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*\(\)", function):
            return json_error(400, "function must be an argument-less signature, e.g. pause()")
        tx = {"from": signer["address"], "to": to, "data": selector(function)}
        tx_hash = await self._rpc("eth_sendTransaction", tx)
        receipt = None
        for _ in range(100):
            receipt = await self._rpc("eth_getTransactionReceipt", tx_hash)
            if receipt:
                break
            await asyncio.sleep(0.1)
        return web.json_response(
            {
                "hash": tx_hash,
                "status": None
                if not receipt
                else ("ok" if receipt["status"] == "0x1" else "reverted"),
                "block": None if not receipt else int(receipt["blockNumber"], 16),
            },
            status=201,
        )
