"""check-config on the chain: the chain id, and code at every configured address."""

from __future__ import annotations

import pytest

from bot.cli import check_config
from sandbox.chain import KILL_SWITCH, TIMELOCK

pytestmark = pytest.mark.chain


def write(tmp_path, rpc_url: str, chain_id: int, addresses: dict[str, str]):  # type: ignore[no-untyped-def]
    lines = ["[mitigate.chain]", f'rpc_url = "{rpc_url}"', f"chain_id = {chain_id}"]
    lines += ["[mitigate.addresses]", *(f'{k} = "{v}"' for k, v in addresses.items())]
    path = tmp_path / "incident-bot.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_check_config_names_an_address_without_code(tmp_path, chain, capsys, monkeypatch):
    monkeypatch.delenv("INCIDENT_BOT_DISCORD_TOKEN", raising=False)
    no_code = chain.others[0][0]  # a funded account: no contract there
    path = write(
        tmp_path,
        chain.rpc_url,
        31337,
        {"PRAETOR_TIMELOCK": chain.contracts[TIMELOCK], "POSTERN_KILL_SWITCH": no_code},
    )
    assert check_config(path) == 2
    err = capsys.readouterr().err
    assert f"POSTERN_KILL_SWITCH: {no_code} has no contract code on chain 31337" in err
    assert "PRAETOR_TIMELOCK" not in err


def test_check_config_refuses_an_rpc_on_another_chain(tmp_path, chain, capsys, monkeypatch):
    monkeypatch.delenv("INCIDENT_BOT_DISCORD_TOKEN", raising=False)
    path = write(tmp_path, chain.rpc_url, 1, {"POSTERN_KILL_SWITCH": chain.contracts[KILL_SWITCH]})
    assert check_config(path) == 2
    assert "is on chain 31337, not the configured chain 1" in capsys.readouterr().err


def test_check_config_reads_a_target_from_the_environment(tmp_path, chain, capsys, monkeypatch):
    monkeypatch.delenv("INCIDENT_BOT_DISCORD_TOKEN", raising=False)
    monkeypatch.setenv("PRAETOR_TIMELOCK", chain.others[1][0].lower())  # no code there
    monkeypatch.setenv("POSTERN_KILL_SWITCH", chain.contracts[KILL_SWITCH])
    path = write(tmp_path, chain.rpc_url, 31337, {})
    assert check_config(path) == 2
    err = capsys.readouterr().err
    assert f"PRAETOR_TIMELOCK: {chain.others[1][0]} has no contract code" in err
    assert "POSTERN_KILL_SWITCH" not in err


def test_check_config_resolves_the_watchs_names_from_the_environment(
    tmp_path, chain, capsys, monkeypatch
):
    """A [watch] contract named only by an environment variable is resolved (and checked for
    code) as a mitigation target is; a name set nowhere is said, not silently unwatched."""
    monkeypatch.delenv("INCIDENT_BOT_DISCORD_TOKEN", raising=False)
    monkeypatch.setenv("WATCHED_VAULT", chain.others[2][0])  # no code there
    path = write(tmp_path, chain.rpc_url, 31337, {})
    with path.open("a") as handle:
        handle.write(
            '[watch.contracts.vault]\naddress = "WATCHED_VAULT"\n'
            '[watch.contracts.other]\naddress = "NOWHERE_SET"\n'
        )
    assert check_config(path) == 2
    err = capsys.readouterr().err
    assert f"WATCHED_VAULT: {chain.others[2][0]} has no contract code" in err
    assert "watch: NOWHERE_SET is watched but not configured" in err
