"""``[mitigate.addresses]``: checksummed addresses only, refused at load with the key named."""

from __future__ import annotations

import pytest

from bot.settings import ConfigError, parse_config

TIMELOCK = "0x5FbDB2315678afecb367f032d93F642f64180aa3"


def addresses(table: dict) -> dict:
    return {"mitigate": {"addresses": table}}


def test_an_all_lowercase_address_is_checksummed_at_load():
    config = parse_config(addresses({"PRAETOR_TIMELOCK": TIMELOCK.lower()}))
    assert config.mitigate.addresses == {"PRAETOR_TIMELOCK": TIMELOCK}


def test_a_checksummed_address_is_kept_as_written():
    config = parse_config(addresses({"PRAETOR_TIMELOCK": TIMELOCK}))
    assert config.mitigate.addresses["PRAETOR_TIMELOCK"] == TIMELOCK


def test_a_mixed_case_address_with_a_wrong_checksum_is_refused_with_a_clear_message():
    wrong = TIMELOCK.replace("F", "f", 1)  # one letter's case off: the checksum no longer holds
    with pytest.raises(ConfigError) as caught:
        parse_config(addresses({"PRAETOR_TIMELOCK": wrong}))
    [problem] = caught.value.problems
    assert problem.key == "mitigate.addresses.PRAETOR_TIMELOCK"
    assert "wrong EIP-55 checksum" in problem.problem and wrong in problem.problem


@pytest.mark.parametrize("value", ["0x1234", "5FbDB2315678afecb367f032d93F642f64180aa3", "vault"])
def test_what_is_not_an_address_is_refused(value):
    with pytest.raises(ConfigError) as caught:
        parse_config(addresses({"PRAETOR_TIMELOCK": value}))
    assert "is not an address" in str(caught.value)


def test_a_name_must_be_written_as_the_placeholder_is():
    with pytest.raises(ConfigError) as caught:
        parse_config(addresses({"praetor-timelock": TIMELOCK}))
    assert "not a placeholder name" in str(caught.value)


def test_a_key_is_never_configuration():
    with pytest.raises(ConfigError) as caught:
        parse_config(addresses({"MULTISIG_KEY_1": TIMELOCK}))
    assert "never configured" in str(caught.value)


def test_no_addresses_by_default():
    assert parse_config({}).mitigate.addresses == {}
