"""The P0 mitigation rules as plain functions: addresses, calldata, revert reasons, the
challenge, the state table, the Safe transaction's order of signatures."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from eth_abi import encode

from bot.adapters.chain import calldata, revert_reason
from bot.errors import Conflict, UserError
from bot.mitigate import rules, safe
from bot.mitigate.actions import build, target_names
from bot.mitigate.config import MitigateConfig
from bot.mitigate.rules import MITIGATIONS, MitigationState

ADDRESS = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"


def test_an_address_in_lowercase_is_checksummed_and_a_wrong_checksum_refused():
    assert rules.parse_address(ADDRESS.lower()) == ADDRESS
    with pytest.raises(UserError, match="wrong EIP-55 checksum"):
        rules.parse_address(ADDRESS[:2] + ADDRESS[2:].swapcase())
    with pytest.raises(UserError, match="zero address"):
        rules.parse_address("0x" + "0" * 40)
    with pytest.raises(UserError, match="not an address"):
        rules.parse_address("0x1234")


def test_calldata_is_what_cast_computes():
    assert calldata("pause()", []) == "0x8456cb59"
    revoke = calldata("revokeAll(address)", [ADDRESS])
    assert revoke.startswith("0x") and revoke.endswith(ADDRESS[2:].lower())
    assert len(revoke) == 2 + 8 + 64


def test_revert_reasons_are_decoded():
    text = "0x08c379a0" + encode(["string"], ["PraetorTimelock: not a signer"]).hex()
    assert revert_reason(text) == "PraetorTimelock: not a signer"
    assert revert_reason("0x4e487b71" + encode(["uint256"], [0x11]).hex()) == "panic 0x11"
    assert revert_reason("0xa252c151" + "00" * 32).startswith("custom error 0xa252c151")
    assert revert_reason("0x") == "reverted without a reason"


def test_the_challenge_names_member_guild_chain_nonce_and_expiry():
    expires = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    text = rules.challenge_text(ADDRESS, "11", "22", 31337, "abc", expires)
    for part in (
        ADDRESS,
        "member: 11",
        "guild: 22",
        "Chain id: 31337",
        "Nonce: abc",
        "2026-12-01T12:00:00Z",
    ):
        assert part in text
    assert rules.new_nonce() != rules.new_nonce()


def test_an_applied_or_expired_mitigation_moves_nowhere():
    assert MITIGATIONS.can(MitigationState.PROPOSED, MitigationState.APPROVED)
    assert not MITIGATIONS.can(MitigationState.EXPIRED, MitigationState.APPROVED)
    with pytest.raises(Conflict):
        MITIGATIONS.check(MitigationState.APPLIED, MitigationState.CANCELLED)


def test_reminders_come_before_the_deadline_and_never_before_the_proposal():
    now = datetime(2026, 12, 1, tzinfo=UTC)
    times = rules.reminder_times(
        now, now + timedelta(hours=10), [timedelta(hours=24), timedelta(hours=1)]
    )
    assert times == [now + timedelta(hours=9)]


def test_the_cast_command_carries_no_key():
    command = rules.cast_send(ADDRESS, "pause()", [], rules.command_rpc(None))
    assert command == f'cast send {ADDRESS} "pause()" --rpc-url "$ETH_RPC_URL" --interactive'


def test_an_action_target_comes_from_the_addresses_or_the_environment():
    config = MitigateConfig()
    names, problems = target_names(config, {"PRAETOR_TIMELOCK": ADDRESS.lower(), "OTHER": "x"})
    assert names == {"PRAETOR_TIMELOCK": ADDRESS} and problems == []
    assert build(config, "pause", names).target == ADDRESS
    with pytest.raises(UserError, match="POSTERN_KILL_SWITCH is not configured"):
        build(config, "killswitch", names, ADDRESS)
    _, problems = target_names(config, {"POSTERN_KILL_SWITCH": "nope"})
    assert problems and "POSTERN_KILL_SWITCH" in problems[0]


def test_a_configured_action_replaces_only_its_default():
    config = MitigateConfig.model_validate(
        {
            "actions": {
                "pause": {"target": ADDRESS, "function": "halt()", "effect": {"event": "Halted()"}}
            }
        }
    )
    assert config.actions["pause"].function == "halt()"
    assert config.actions["killswitch"].function == "revokeAll(address)"
    with pytest.raises(ValueError, match="view call, an event, or both"):
        MitigateConfig.model_validate(
            {"actions": {"pause": {"target": ADDRESS, "function": "halt()", "effect": {}}}}
        )


def test_safe_signatures_go_in_ascending_owner_order():
    typed = safe.typed_data(31337, ADDRESS, ADDRESS, "0x8456cb59", 0)
    low, high = "0x" + "1" * 40, "0x" + "f" * 40
    args = safe.exec_args(typed, {high: "0x" + "bb" * 65, low: "0x" + "aa" * 65})
    assert args[-1] == "0x" + "aa" * 65 + "bb" * 65
    assert safe.safe_tx_hash(typed).startswith("0x") and len(safe.safe_tx_hash(typed)) == 66
