"""The chain watch's rules without a chain: decoding (and refusing what does not decode),
screening an RPC's answer, classification, grouping, ranges."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from eth_abi import encode

from bot.watch import rules
from bot.watch.rules import EVENTS, Approved, Attack, RawLog, Undecodable

A = "0x" + "11" * 20
B = "0x" + "22" * 20
VAULT = "0x" + "33" * 20
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def word(address: str) -> bytes:
    return bytes(12) + bytes.fromhex(address[2:])


def test_paused_and_ownership_transferred_decode():
    spec, args = rules.decode_log([EVENTS["Paused(address)"].topic], encode(["address"], [A]))
    assert spec.name == "Paused" and args == {"account": rules.to_checksum_address(A)}
    topic = EVENTS["OwnershipTransferred(address,address)"].topic
    _, args = rules.decode_log([topic, word(A), word(B)], b"")
    assert args["previousOwner"].lower() == A and args["newOwner"].lower() == B


def test_another_contracts_event_with_the_same_topic_does_not_decode():
    transfer = EVENTS[rules.TRANSFER].topic
    # ERC-721's Transfer: the same topic, the token id indexed too, no data.
    with pytest.raises(Undecodable, match="2 indexed argument"):
        rules.decode_log([transfer, word(A), word(B), (7).to_bytes(32, "big")], b"")
    with pytest.raises(Undecodable, match="does not decode"):
        rules.decode_log([EVENTS["Paused(address)"].topic], b"\x01")
    with pytest.raises(Undecodable, match="carries no data"):
        topic = EVENTS["Upgraded(address)"].topic
        rules.decode_log([topic, word(A)], b"\x00" * 32)
    with pytest.raises(Undecodable, match="not a watched event"):
        rules.decode_log([b"\x00" * 32], b"")


def log(index: int, block: int = 5, address: str = VAULT, removed: bool = False) -> RawLog:
    topic = EVENTS["Paused(address)"].topic
    return RawLog(address, (topic,), b"", block, "0xh", "0xtx", index, removed)


def test_screen_refuses_duplicates_out_of_range_unwatched_and_removed_logs():
    watched = {VAULT: {EVENTS["Paused(address)"].topic}}
    batch = [log(0), log(0), log(1, block=9), log(2, address=A), log(3, removed=True), log(4)]
    screened = rules.screen(batch, 5, 6, watched)
    assert [entry.index for entry in screened.logs] == [0, 4]
    problems = " | ".join(str(p) for p in screened.problems)
    assert "duplicated" in problems and "outside 5..6" in problems
    assert "not a watched contract" in problems and "flagged it removed" in problems


def test_an_approved_action_matches_by_target_and_calldata_or_its_safe_tx():
    pause = Approved(1, 10, VAULT, "0x8456cb59")
    assert rules.approved_match(
        VAULT.upper().replace("0X", "0x"), bytes.fromhex("8456cb59"), [], [pause]
    )
    assert rules.approved_match(VAULT, bytes.fromhex("8456cb5a"), [], [pause]) is None
    assert rules.approved_match(A, bytes.fromhex("8456cb59"), [], [pause]) is None
    safe_hash = "0x" + "ab" * 32
    shown = Approved(2, 11, A, "0x8456cb59", safe_hash)
    success = (B, [rules.EXECUTION_SUCCESS, bytes.fromhex("ab" * 32)])
    assert rules.approved_match(B, b"\x6a\x76", [success], [shown]) == shown
    other = (B, [rules.EXECUTION_SUCCESS, bytes.fromhex("cd" * 32)])
    assert rules.approved_match(B, b"\x6a\x76", [other], [shown]) is None


def test_one_attack_is_the_same_sender_or_contract_within_the_window():
    window = timedelta(minutes=10)
    later = T0 + timedelta(minutes=1)
    attacks = [Attack(1, A, frozenset({VAULT}), T0), Attack(2, B, frozenset({B}), later)]
    assert rules.same_attack(A, [B], T0 + timedelta(minutes=5), attacks, window) == 2
    assert rules.same_attack(A, ["0x" + "44" * 20], T0 + timedelta(minutes=5), attacks, window) == 1
    assert rules.same_attack(A, [VAULT], T0 + timedelta(minutes=11), attacks, window) is None
    stranger = "0x" + "55" * 20
    assert rules.same_attack(stranger, [stranger], T0, attacks, window) is None


def test_ranges_are_bounded_and_wait_for_confirmations():
    assert rules.next_range(100, 100, 0, 500) is None
    assert rules.next_range(100, 2000, 0, 500) == (101, 600)
    assert rules.next_range(100, 103, 3, 500) is None
    assert rules.next_range(100, 104, 3, 500) == (101, 101)
    assert rules.behind(100, 200, 0, 50) == 100 and rules.behind(100, 140, 0, 50) == 0
    assert rules.rewind_to(10, 64) == 0 and rules.rewind_to(100, 64) == 36
    # Never before where the watch began: older events are history, not news.
    assert rules.rewind_to(100, 64, origin=80) == 80 and rules.rewind_to(100, 64, 10) == 36
