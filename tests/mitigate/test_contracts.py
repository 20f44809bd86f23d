"""The test chain's own contracts behave as the runbook describes (cast, as a signer runs it)."""

from __future__ import annotations

import pytest

from sandbox.chain import BROKEN_KILL_SWITCH, KILL_SWITCH, TIMELOCK, VAULT
from tests.mitigate.conftest import cast, cast_call, cast_send

pytestmark = pytest.mark.chain
TRUE = "true"
FALSE = "false"


def test_two_of_three_signers_pause_the_vault_through_the_timelock(chain):
    timelock, vault = chain.contracts[TIMELOCK], chain.contracts[VAULT]
    first, second, _ = (s["private_key"] for s in chain.signers)
    cast_send(chain, first, timelock, "pause()")
    assert cast_call(chain, vault, "paused()(bool)") == FALSE  # one confirmation is not enough
    assert cast_call(chain, timelock, "confirmations()(uint256)") == "1"
    cast_send(chain, second, timelock, "pause()")
    assert cast_call(chain, vault, "paused()(bool)") == TRUE


def test_a_non_signer_and_a_second_confirmation_are_refused(chain):
    timelock = chain.contracts[TIMELOCK]
    outsider = chain.others[0][1]
    refused = cast(
        "send", timelock, "pause()", "--private-key", outsider, "--rpc-url", chain.rpc_url
    )
    assert refused.returncode != 0 and "not a signer" in refused.stderr
    first = chain.signers[0]["private_key"]
    cast_send(chain, first, timelock, "pause()")
    again = cast("send", timelock, "pause()", "--private-key", first, "--rpc-url", chain.rpc_url)
    assert again.returncode != 0 and "already confirmed" in again.stderr


def test_the_kill_switch_revokes_and_the_broken_one_succeeds_without_effect(chain):
    key = chain.signers[0]["private_key"]
    victim = chain.others[1][0]
    cast_send(chain, key, chain.contracts[KILL_SWITCH], "revokeAll(address)", victim)
    assert (
        cast_call(chain, chain.contracts[KILL_SWITCH], "isRevoked(address)(bool)", victim) == TRUE
    )
    cast_send(chain, key, chain.contracts[BROKEN_KILL_SWITCH], "revokeAll(address)", victim)
    broken = chain.contracts[BROKEN_KILL_SWITCH]
    assert cast_call(chain, broken, "isRevoked(address)(bool)", victim) == FALSE
