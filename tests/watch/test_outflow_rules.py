"""The outflow rule without a chain: ``[[watch.outflows]]`` refused with a specific message
when it is wrong, amounts beyond TOML's integers, the window's total, and screening (a
token's ordinary transfers are not the vault's outflows)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.config_problems import ConfigError
from bot.settings import parse_config
from bot.watch import outflows, rules
from bot.watch.rules import EVENTS, Outflow, RawLog

VAULT = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
TOKEN = "0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512"
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def watch(*rules_: dict[str, Any], **more: Any) -> dict[str, Any]:
    return {"watch": {"outflows": list(rules_), **more}}


def problem(raw: dict[str, Any]) -> str:
    with pytest.raises(ConfigError) as caught:
        parse_config(raw)
    return str(caught.value)


def test_an_outflow_rule_loads_with_names_addresses_and_big_amounts():
    config = parse_config(
        watch(
            {"token": "ATRIUM_TOKEN", "vault": VAULT.lower(), "limit": "250e18", "window": "1h"},
            {"token": TOKEN, "vault": VAULT, "limit": "1_000_000000000000000000"},
        )
    )
    first, second = config.watch.outflows
    assert first.limit == 250 * 10**18 and first.vault == VAULT  # checksummed
    assert second.limit == 10**21 and second.window == timedelta(hours=1)
    assert config.watch.enabled  # outflow rules alone make a watch
    assert parse_config(watch({"token": TOKEN, "vault": VAULT, "limit": 0})).watch.outflows


def test_a_mistyped_checksum_is_refused_with_its_reason():
    wrong = VAULT[:-1] + "A"  # one character's case off: a different checksum
    text = problem(watch({"token": TOKEN, "vault": wrong, "limit": 1}))
    assert "watch.outflows.0.vault" in text and "wrong EIP-55 checksum" in text
    assert "not an address" in problem(watch({"token": "0x1234", "vault": VAULT, "limit": 1}))


@pytest.mark.parametrize(
    ("limit", "says"),
    [
        (-1, "negative"),
        (1.5e20, "is a float, which loses digits"),
        ("1.5", "not a whole number of the token's smallest unit"),
        ("ten", "is not an amount"),
        (str(2**256), "larger than any ERC-20 amount"),
        (True, "is not an amount"),
    ],
)
def test_a_wrong_amount_is_refused_with_a_specific_message(limit: Any, says: str):
    text = problem(watch({"token": TOKEN, "vault": VAULT, "limit": limit}))
    assert "watch.outflows.0.limit" in text and says in text


def test_a_wrong_window_or_pair_is_refused_with_a_specific_message():
    rule = {"token": TOKEN, "vault": VAULT, "limit": 1}
    assert "longer than 0s" in problem(watch({**rule, "window": "0s"}))
    assert "at most 31 days" in problem(watch({**rule, "window": "40d"}))
    assert "not a duration" in problem(watch({**rule, "window": "soon"}))
    assert "both" in problem(watch({**rule, "vault": TOKEN}))
    text = problem(watch(rule, {**rule, "limit": 5}))
    assert "rules 1 and 2 both watch" in text
    assert "limit" in problem(watch({"token": TOKEN, "vault": VAULT}))  # missing
    assert "no such key" in problem(watch({**rule, "amount": 3}))


def test_transfer_is_not_an_admin_event_of_a_watched_contract():
    text = problem({"watch": {"contracts": {"V": {"address": VAULT, "events": [rules.TRANSFER]}}}})
    assert "[[watch.outflows]]" in text


def rule(limit: int = 100) -> Outflow:
    return Outflow(0, TOKEN, VAULT, limit, timedelta(hours=1), "ATR", "VAULT")


def test_a_transfer_counts_for_the_rule_of_its_token_and_vault():
    assert rules.outflow_rule([rule()], TOKEN.lower(), {"from": VAULT}) == rule()
    assert rules.outflow_rule([rule()], TOKEN, {"from": TOKEN}) is None
    assert rules.outflow_rule([rule()], VAULT, {"from": VAULT}) is None


def test_the_window_total_counts_only_transfers_within_it():
    at = T0 + timedelta(hours=2)
    transfers = [(T0, 500), (at - timedelta(minutes=59), 60), (at, 50)]
    total = rules.outflow_total(transfers, at, timedelta(hours=1))
    assert total == 110 and rules.over_limit(total, 100) and not rules.over_limit(100, 100)


def transfer(index: int, source: str, topics: int = 3) -> RawLog:
    words = [rules.address_word(source), rules.address_word(VAULT), (7).to_bytes(32, "big")]
    return RawLog(
        TOKEN, (EVENTS[rules.TRANSFER].topic, *words[: topics - 1]), b"", 5, "0xh", "0xt", index
    )


def test_screening_keeps_the_vaults_outflows_and_drops_the_tokens_other_transfers():
    watched = {TOKEN.lower(): {EVENTS[rules.TRANSFER].topic}}
    vaults = {TOKEN.lower(): {rules.address_word(VAULT)}}
    other = "0x" + "44" * 20
    batch = [transfer(0, VAULT), transfer(1, other), transfer(2, VAULT, topics=4)]
    screened = rules.screen(batch, 5, 5, watched, vaults)
    assert [log.index for log in screened.logs] == [0, 2] and screened.problems == []
    # The 4-topic one (ERC-721's Transfer shape, the same topic) does not decode: reported.
    with pytest.raises(rules.Undecodable):
        rules.decode_log(screened.logs[1].topics, screened.logs[1].data)


def test_a_rule_whose_names_are_not_set_is_not_applied_and_said():
    config = parse_config(watch({"token": "NOPE_TOKEN", "vault": VAULT, "limit": 1})).watch
    found, problems = outflows.resolved(config, lambda v: v if v.startswith("0x") else None)
    assert found == [] and problems == ["[[watch.outflows]] rule 1: NOPE_TOKEN is not set"]
    named = {"ATR": TOKEN}
    config = parse_config(watch({"token": "ATR", "vault": VAULT, "limit": 1})).watch
    [rule], problems = outflows.resolved(
        config, lambda v: v if v.startswith("0x") else named.get(v)
    )
    assert problems == [] and (rule.token, rule.token_name, rule.vault_name) == (
        TOKEN,
        "ATR",
        VAULT,
    )


def test_amounts_read_in_tokens_when_the_rule_names_the_token_decimals():
    assert rules.token_amount(1100 * 10**18, 18) == "1,100"
    assert rules.token_amount(1_234_500_000, 6) == "1,234.5"
    assert rules.token_amount(1, 18) == "0.000000000000000001"
    assert rules.token_amount(42, 0) == "42"
    assert rules.token_amount(1100 * 10**18, None) == "1100000000000000000000"
    rule = Outflow(0, TOKEN, VAULT, 1000 * 10**18, timedelta(hours=1), "ATR", "VAULT", 18)
    assert rules.outflow_text(1100 * 10**18, rule, "1h") == (
        "1,100 ATR out of VAULT within 1h, over the limit 1,000"
    )
    raw = Outflow(0, TOKEN, VAULT, 1000, timedelta(hours=1), "ATR", "VAULT")
    assert rules.outflow_text(1100, raw, "1h") == (
        "1100 of ATR out of VAULT within 1h, over the limit 1000 (in the token's smallest unit)"
    )


def test_decimals_are_a_whole_number_a_token_can_have():
    config = parse_config(watch({"token": TOKEN, "vault": VAULT, "limit": "1e18", "decimals": 18}))
    assert config.watch.outflows[0].decimals == 18
    assert "decimals" in problem(
        watch({"token": TOKEN, "vault": VAULT, "limit": 1, "decimals": -1})
    )
    assert "decimals" in problem(
        watch({"token": TOKEN, "vault": VAULT, "limit": 1, "decimals": 1.5})
    )
