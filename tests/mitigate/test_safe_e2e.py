"""Shape (b) end to end: a Safe v1.4.1 (npm's published artifacts) owns the timelock. The
bot shows the safeTxHash and typed data, takes owners' EIP-712 signatures (cast wallet
sign --data), and at the threshold the execTransaction command that anyone may run."""

from __future__ import annotations

import json
import re
import shlex
from typing import Any

import pytest

from sandbox.chain import SAFE, TIMELOCK, VAULT, Anvil, Deployment, deploy_sync
from tests.e2e.helpers import ALWAYS_ON_CALL, text_of
from tests.mitigate.conftest import TOOLS, cast, cast_call
from tests.mitigate.helpers import declare, described, propose, signed_up, timeline, titled, watched

pytestmark = [pytest.mark.chain, pytest.mark.manual_clock]
QUIET = {"escalate_after": "1h", "respond_within": "2h"}
JSON_BLOCK = re.compile(r"```json\n(.*?)\n```", re.DOTALL)
COMMAND = re.compile(r"```\n(cast send .*?)\n```", re.DOTALL)


@pytest.fixture
def chain(anvil: Anvil) -> Deployment:
    return deploy_sync(anvil.rpc_url, TOOLS, "b")


@pytest.fixture
def world(chain_world):  # type: ignore[no-untyped-def]
    return chain_world


@pytest.fixture
def overlay() -> dict[str, Any]:
    return {
        **ALWAYS_ON_CALL,
        "procedure": {"severities": {"P0": dict(QUIET)}},
        "mitigate": {"chain": {"poll_every": "5s"}},
    }


def sign_typed(typed: dict[str, Any], key: str) -> str:
    done = cast("wallet", "sign", "--data", json.dumps(typed), "--private-key", key)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


async def sign(control, channel: str, user_id: str, signature: str) -> str:  # type: ignore[no-untyped-def]
    return text_of(await control.command(user_id, channel, "mitigate", "sign", signature=signature))


async def test_safe_owners_sign_the_safe_tx_and_anyone_executes_it(bot, control, clock, chain):
    info = await signed_up(control)
    assert info["shape"] == "b"
    channel = await declare(control, "Vault drained")
    proposal = await propose(control, channel)
    body = described(proposal)
    typed = json.loads(JSON_BLOCK.search(body).group(1))  # type: ignore[union-attr]
    safe = info["contracts"][SAFE]
    args = [
        "getTransactionHash(address,uint256,bytes,uint8,uint256,uint256,uint256,address,address,uint256)(bytes32)"
    ]
    message = typed["message"]
    zero = "0x" + "0" * 40
    onchain = cast_call(
        chain,
        safe,
        *args,
        message["to"],
        "0",
        message["data"],
        "0",
        "0",
        "0",
        "0",
        zero,
        zero,
        str(message["nonce"]),
    )
    assert f"**safeTxHash:** `{onchain}`" in body
    assert "2 of 3" in body and message["to"] == info["contracts"][TIMELOCK]

    bob, carol = info["signers"][0], info["signers"][1]
    # A ✅ is intent, not a signature.
    await control.react(bob["user_id"], channel, proposal["id"], "✅")
    outsider_key = chain.others[0][1]
    refused = await sign(control, channel, bob["user_id"], sign_typed(typed, outsider_key))
    assert f"recovers to {chain.others[0][0]}, which is not an owner" in refused
    other_data = json.loads(json.dumps(typed))
    other_data["message"]["nonce"] += 1
    refused = await sign(
        control, channel, bob["user_id"], sign_typed(other_data, bob["private_key"])
    )
    assert "which is not an owner" in refused and "other data" in refused

    assert "1 of 2" in await sign(
        control, channel, bob["user_id"], sign_typed(typed, bob["private_key"])
    )
    again = await sign(control, channel, bob["user_id"], sign_typed(typed, bob["private_key"]))
    assert "signed already" in again
    assert "2 of 2" in await sign(
        control, channel, carol["user_id"], sign_typed(typed, carol["private_key"])
    )
    signed = await control.wait_for_message(channel, titled("✅ Signed: 2 of 2"), what="signed")
    command = COMMAND.search(described(signed)).group(1)  # type: ignore[union-attr]
    assert command.startswith(f'cast send {safe} "execTransaction(') and "--interactive" in command

    # Anyone may run it: here an account that is no owner, with its own key.
    parts = shlex.split(command)[2:]
    parts[parts.index("--interactive")] = "--private-key"
    parts.insert(parts.index("--private-key") + 1, outsider_key)
    done = cast("send", *parts, "--json")
    assert done.returncode == 0, done.stderr
    tx = json.loads(done.stdout)["transactionHash"]
    applied = await watched(control, clock, channel, titled("✅ Mitigation applied"), "applied")
    assert tx in described(applied)
    assert cast_call(chain, info["contracts"][VAULT], "paused()(bool)") == "true"
    events = await timeline(bot, channel)
    assert any(e.startswith("mitigate_intent") for e in events)
    assert sum("mitigate_refused" in e for e in events) == 3
