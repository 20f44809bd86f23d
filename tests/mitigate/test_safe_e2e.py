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
from tests.mitigate.conftest import TOOLS, cast, cast_call, cast_send
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


class TestTheOptionalExecutor:
    """With an executor key (a relayer with no authority of its own), the bot submits the
    signed Safe transaction itself; the key appears nowhere."""

    @pytest.fixture
    def world(self, chain_world, chain):  # type: ignore[no-untyped-def]
        chain_world.extra_secrets["INCIDENT_BOT_CHAIN_EXECUTOR_KEY"] = chain.others[2][1]
        return chain_world

    async def test_the_executor_sends_the_approved_safe_transaction(
        self, bot, control, clock, chain, caplog
    ):
        import logging

        caplog.set_level(logging.DEBUG)
        info = await signed_up(control)
        channel = await declare(control, "Vault drained")
        proposal = await propose(control, channel)
        typed = json.loads(JSON_BLOCK.search(described(proposal)).group(1))  # type: ignore[union-attr]
        for signer in info["signers"][:2]:
            await sign(
                control, channel, signer["user_id"], sign_typed(typed, signer["private_key"])
            )
        sent = await control.wait_for_message(channel, titled("🤖 Executor"), what="sent")
        tx = re.search(r"tx `(0x[0-9a-f]{64})`", described(sent)).group(1)  # type: ignore[union-attr]
        applied = await watched(control, clock, channel, titled("✅ Mitigation applied"), "applied")
        assert tx in described(applied)
        assert cast_call(chain, info["contracts"][VAULT], "paused()(bool)") == "true"

        key = chain.others[2][1].lower()
        world = await control.world(refresh=True)
        everything = json.dumps(
            [await control.messages(c["id"]) for c in world["channels"] if c["type"] == 0]
        ).lower()
        everything += "\n".join(r.getMessage() for r in caplog.records).lower()
        everything += (
            b"".join(p.read_bytes() for p in bot.data_dir.rglob("*.sqlite3*"))
            .decode("latin-1")
            .lower()
        )
        assert tx.lower() in everything  # the scan reads what is there
        assert key not in everything and key.removeprefix("0x") not in everything

    async def test_a_transaction_in_doubt_is_looked_up_by_hash_at_start(
        self, bot, control, clock, chain
    ):
        from bot.mitigate.executor import EXECUTE
        from storage import outbox as outbox_queries

        # Any mined transaction stands for one the executor sent before the bot stopped.
        mined = cast_send(chain, chain.others[3][1], chain.contracts[VAULT], "paused()")
        unknown = "0x" + "ab" * 32
        services = bot.services
        async with services.sessions.begin() as session:
            for key, tx_hash in (("doubt:mined", mined), ("doubt:unknown", unknown)):
                entry = services.outbox.add(
                    session, EXECUTE, key, {"tx_hash": tx_hash, "raw": "0x"}
                )
                entry.state = "sending"  # as a run that stopped mid-send leaves it
        doubtful = await services.outbox.recover()
        assert doubtful == []
        async with services.sessions() as session:
            found = await outbox_queries.by_key(session, "doubt:mined")
            missing = await outbox_queries.by_key(session, "doubt:unknown")
        assert found.state == "done" and found.result == {"tx_hash": mined}
        assert missing.state == "pending"  # its same signed bytes go out again, nothing new
