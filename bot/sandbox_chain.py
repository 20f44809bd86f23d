"""The sandbox command's chain part (``incident-bot sandbox``): the world's chain as the
bot's ``[mitigate]`` configuration, and its three signer members bound at start through
the bot's real ``/signer`` flow. Used only by the command that starts a world."""

from __future__ import annotations

from typing import Any


def sandbox_mitigate(chain: dict[str, Any]) -> dict[str, Any]:
    """``[mitigate]`` for the world's chain: its RPC, its contracts by name, and the pause
    checked on the vault the timelock pauses (the view and the event)."""
    # Shape (b): the Safe's owners and threshold; shape (a): the timelock's threshold.
    shape: dict[str, str] = (
        {"safe": "ATRIUM_SAFE"} if chain.get("shape") == "b" else {"threshold_view": "threshold()"}
    )
    return {
        **shape,
        "addresses": dict(chain["contracts"]),
        "chain": {
            "rpc_url": chain["rpc_url"],
            "chain_id": chain["chain_id"],
            "command_rpc_url": chain["rpc_url"],
            "poll_every": "2s",
        },
        "actions": {
            "pause": {
                "target": "PRAETOR_TIMELOCK",
                "function": "pause()",
                "label": "Emergency pause",
                "effect": {
                    "contract": "ATRIUM_VAULT",
                    "view": "paused()",
                    "event": "Paused(address)",
                },
            }
        },
    }


def sandbox_watch(chain: dict[str, Any], viewer_url: str) -> dict[str, Any]:
    """``[watch]`` for the world's chain, so ``make run`` detects the attacker's ``cast send``
    at once: the vault and the timelock (and the Safe in shape b), the vault's token outflow
    over 1,000 tokens an hour, and transaction links into the viewer's chain view."""
    contracts = {name: {"address": name} for name in ("ATRIUM_VAULT", "PRAETOR_TIMELOCK")}
    if chain.get("shape") == "b":
        contracts["ATRIUM_SAFE"] = {"address": "ATRIUM_SAFE"}
    return {
        "contracts": contracts,
        "outflows": [
            {
                "token": "ATRIUM_TOKEN",
                "vault": "ATRIUM_VAULT",
                "limit": "1000e18",
                "window": "1h",
                "decimals": 18,  # contracts/AtriumToken.sol
            }
        ],
        "poll_every": "1s",
        "explorer_url": f"{viewer_url}/#chain",
    }


async def register_sandbox_signers(world: Any) -> None:
    """The world's three signer members bind their development addresses through the real
    flow (/signer register, the key signs the challenge, /signer verify), so a newcomer
    can confirm a proposal at once."""
    from sandbox.control_client import Control
    from sandbox.signers import register_signers

    chain = world.describe().get("chain")
    if not chain:
        print("sandbox: no chain (run `make node` for anvil, cast and solc)", flush=True)
        return
    async with Control(world.base_url) as control:
        general = await control.channel_id("general")
        bound = await register_signers(control, chain, general)
    print(f"sandbox: chain at {chain['rpc_url']}, {len(bound)} signers bound", flush=True)
