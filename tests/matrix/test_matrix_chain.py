"""The matrix's P0 rows, on a test chain (anvil, a fresh deployment per test): proposing
the pause, its ✅, cancelling it, the kill switch and its Confirm. Only dave (the
``signer`` kind) is bound as a signer, through the bot's own register and verify."""

from __future__ import annotations

import re
from typing import Any

import pytest
from eth_account import Account
from eth_account.messages import encode_defunct

from sandbox.control_client import Control
from storage import mitigate as queries
from tests.e2e.helpers import text_of
from tests.matrix.harness import IGNORED, OVERLAY, Case, Matrix, check_row
from tests.matrix.table import BY_ACTION, ROWS
from tests.mitigate.conftest import anvil, chain, chain_world  # noqa: F401  (fixtures)
from tests.mitigate.helpers import timeline

pytestmark = [pytest.mark.chain]
VICTIM = "0x15d34AAf54267DB7D7c367839AAf71A00a2C6A65"  # anvil's account 4: the compromised one
_FENCED = re.compile(r"```\n(.*?)\n```", re.S)


@pytest.fixture
def world(chain_world):  # type: ignore[no-untyped-def]  # noqa: F811
    return chain_world


@pytest.fixture
def overlay() -> dict[str, Any]:
    return {
        **OVERLAY,
        "mitigate": {
            "chain": {"poll_every": "1h"},  # the effect is not what the matrix checks
            "actions": {
                "killswitch": {
                    "target": "POSTERN_KILL_SWITCH",
                    "function": "revokeAll(address)",
                    "args": ["{account}"],
                    "effect": {"view": "isRevoked(address)", "args": ["{account}"]},
                }
            },
        },
    }


@pytest.fixture
async def matrix(bot: Any, control: Control, world: Any) -> Matrix:
    m = Matrix(control, bot, world)
    await m.setup()
    chain_info = (await control.world(refresh=True))["chain"]
    [dave] = [s for s in chain_info["signers"] if s.get("user_id") == m.ids["signer"]]
    said = await m.run("signer", m.general, "signer", "register", address=dave["address"])
    found = _FENCED.search(said)
    assert found is not None, said
    signed = Account.sign_message(encode_defunct(text=found.group(1)), dave["private_key"])
    signature = "0x" + signed.signature.hex().removeprefix("0x")
    said = await m.run("signer", m.general, "signer", "verify", signature=signature)
    assert "Bound" in said, said
    return m


async def _p0(m: Matrix) -> str:
    return await m.incident("P0")


async def _mitigations(m: Matrix, channel: str) -> list[tuple[int, str]]:
    incident = await m.of(channel)
    async with m.bot.services.sessions() as session:
        return [(r.id, r.state) for r in await queries.mitigations_of(session, incident.id)]


async def _proposed(m: Matrix) -> dict[str, str]:
    channel = await m.incident("P0")
    said = await m.run("admin", channel, "mitigate", "pause")
    assert "Proposed" in said, said

    def proposal(message: dict[str, Any]) -> bool:
        return any((e.get("title") or "").startswith("🛑") for e in message["embeds"])

    message = await m.control.wait_for_message(channel, proposal, what="the proposal")
    [(mitigation, _)] = await _mitigations(m, channel)
    return {"channel": channel, "message": message["id"], "mitigation": str(mitigation)}


async def _in_context(m: Matrix, context: dict[str, str]) -> Any:
    return await _mitigations(m, context["channel"])


async def _confirmations(m: Matrix, context: dict[str, str]) -> list[str]:
    async with m.bot.services.sessions() as session:
        rows = await queries.confirmations(session, int(context["mitigation"]), "reaction")
        return [r.address for r in rows]


async def _react(m: Matrix, kind: str, context: dict[str, str]) -> str:
    """A ✅ on the proposal: refused (recorded), counted, or (the bot's own) ignored."""
    user = m.ids[kind]
    recorded = len(await m.refusals())
    counted = len(await _confirmations(m, context))
    await m.control.react(user, context["channel"], context["message"], "✅")

    async def outcome() -> str | None:
        new = [r for r in (await m.refusals())[recorded:] if r.user_id == user]
        if new:
            return new[0].reason
        if len(await _confirmations(m, context)) > counted:
            return "counted"
        events = await timeline(m.bot, context["channel"])
        if kind == "bot" and any("mitigate_reaction_ignored" in event for event in events):
            return IGNORED
        return None

    said: str = await m.control.wait_for(outcome, what=f"{kind}'s ✅ handled")
    return said


async def _killswitch(m: Matrix, kind: str, channel: str) -> str:
    return await m.run(kind, channel, "mitigate", "killswitch", address=VICTIM)


async def _prepared(m: Matrix) -> dict[str, str]:
    channel = await m.incident("P0")
    said = await _killswitch(m, "admin", channel)
    assert "simulated without a revert" in said, said

    async def button() -> tuple[str, str] | None:
        for message in await m.control.messages(channel):
            for row in message["components"]:
                for item in row.get("components", []):
                    if item.get("custom_id", "").startswith("mitigate:confirm:"):
                        return message["id"], item["custom_id"]
        return None

    message, custom_id = await m.control.wait_for(button, what="the Confirm button")
    return {
        "channel": channel,
        "message": message,
        "custom_id": custom_id,
        "runner": m.ids["admin"],
    }


async def _confirm(m: Matrix, kind: str, context: dict[str, str]) -> str:
    answer = await m.control.press(
        m.ids[kind], context["channel"], context["message"], context["custom_id"]
    )
    return text_of(answer)


async def _pause(m: Matrix, kind: str, channel: str) -> str:
    return await m.run(kind, channel, "mitigate", "pause")


async def _cancel(m: Matrix, kind: str, context: dict[str, str]) -> str:
    return await m.run(kind, context["channel"], "mitigate", "cancel")


CASES: dict[str, Case] = {
    "propose pause": Case(_pause, _p0, _mitigations, "Proposed"),
    "confirm proposal": Case(_react, _proposed, _confirmations, "counted"),
    "cancel proposal": Case(_cancel, _proposed, _in_context, "cancelled"),
    "kill switch": Case(_killswitch, _p0, _mitigations, "simulated without a revert"),
    "confirm kill switch": Case(_confirm, _prepared, _in_context, "confirmed"),
}


def test_every_chain_row_has_a_case() -> None:
    assert sorted(CASES) == sorted(row.action for row in ROWS if row.chain)


@pytest.mark.parametrize("action", list(CASES))
async def test_p0_action_is_allowed_or_refused_as_configured(matrix: Matrix, action: str) -> None:
    await check_row(matrix, BY_ACTION[action], CASES[action])
