import subprocess
import sys
import tomllib
from datetime import timedelta
from pathlib import Path

import pytest
from pydantic import BaseModel

from bot.procedure import ExternalPolicy, InternalTarget
from bot.settings import Config, ConfigError, load_settings, parse_config


def test_defaults_are_the_procedure_document():
    procedure = parse_config({}).procedure
    assert procedure.severity_names == ["P0", "P1", "P2", "P3"]
    p0, p1, p2, p3 = procedure.severities
    assert p0.definition == "Fund loss or unauthorized admin action"
    assert p0.comms.external is ExternalPolicy.ON_DECLARE
    assert p1.comms.external is ExternalPolicy.AFTER_DOWNTIME
    assert p1.comms.external_after_downtime == timedelta(minutes=30)
    assert p2.comms.internal == (InternalTarget.OPS_ALERTS,)
    assert p3.comms.internal == (InternalTarget.GITHUB_ISSUE,)
    assert [s.postmortem_required for s in procedure.severities] == [True, True, False, False]
    assert procedure.postmortem.due_within == timedelta(hours=48)
    assert [s.escalate_after for s in procedure.severities] == [
        timedelta(minutes=5),
        timedelta(minutes=15),
        timedelta(hours=4),
        None,
    ]


def test_a_team_overrides_one_key_of_one_severity():
    config = parse_config({"procedure": {"severities": {"P1": {"escalate_after": "2s"}}}})
    p1 = config.procedure.severity("P1")
    assert p1.escalate_after == timedelta(seconds=2)
    assert p1.definition == "Service down or data integrity issue"


def test_every_bad_key_is_named():
    with pytest.raises(ConfigError) as caught:
        parse_config(
            {
                "discord": {"guild_id": "abc", "bogus": 1},
                "procedure": {"severities": {"P0": {"escalate_after": "soon"}}},
            }
        )
    keys = {p.key for p in caught.value.problems}
    assert "discord.guild_id" in keys
    assert "discord.bogus" in keys
    assert "procedure.severities.P0.escalate_after" in keys  # named as the file names it


def test_secrets_come_from_the_environment_and_hide_their_values(monkeypatch):
    monkeypatch.setenv("INCIDENT_BOT_DISCORD_TOKEN", "tok-123456789")
    monkeypatch.setenv("INCIDENT_BOT_WEBHOOK_BEARER_TOKENS", "old-secret-1,new-secret-2")
    settings = load_settings(None)
    assert "tok-123456789" not in repr(settings)
    assert settings.secrets.values() == ["tok-123456789", "old-secret-1", "new-secret-2"]


def test_check_config_on_a_broken_file_names_the_key_and_starts_nothing(tmp_path):
    config = tmp_path / "incident-bot.toml"
    config.write_text('time_zone = "Mars/Olympus"\n[discord]\nguild_id = "not-a-number"\n')
    result = subprocess.run(
        [sys.executable, "-m", "bot.cli", "check-config", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "discord.guild_id" in result.stderr
    assert "time_zone" in result.stderr and "unknown time zone" in result.stderr


def test_check_config_names_a_template_override_that_does_not_compile(tmp_path):
    (tmp_path / "x.j2").write_text("We are investigating.\n{% if title %}{{ title }}\n")
    config = tmp_path / "incident-bot.toml"
    config.write_text('[templates]\n"x_declare.txt.j2" = "x.j2"\n')
    result = subprocess.run(
        [sys.executable, "-m", "bot.cli", "check-config", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert f"templates.x_declare.txt.j2: {tmp_path / 'x.j2'}, line 2:" in result.stderr
    assert "endif" in result.stderr  # jinja's own words for what is missing


def test_check_config_reports_a_gap_in_the_rotation(tmp_path):
    rotation = tmp_path / "rotation.md"
    rotation.write_text(
        "| Start | End | Primary |\n|---|---|---|\n"
        "| 2020-01-01T00:00+00:00 | 2020-01-02T00:00+00:00 | @alice |\n"
        "| 2020-01-03T00:00+00:00 | 2099-01-01T00:00+00:00 | @bob |\n"
    )
    config = tmp_path / "incident-bot.toml"
    config.write_text(f'[rotation]\npath = "{rotation}"\n')
    result = subprocess.run(
        [sys.executable, "-m", "bot.cli", "check-config", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 2
    assert "gap" in result.stderr and "2020-01-02 00:00" in result.stderr


EXAMPLE = Path(__file__).resolve().parents[2] / "incident-bot.example.toml"


def test_the_example_file_is_a_valid_configuration():
    config = parse_config(tomllib.loads(EXAMPLE.read_text()))
    assert config.procedure.severity_names == ["P0", "P1", "P2", "P3"]


def _keys(model: type[BaseModel], prefix: str = ""):
    for name, field in model.model_fields.items():
        yield prefix + name
        annotation = field.annotation
        if (
            isinstance(annotation, type)
            and issubclass(annotation, BaseModel)
            and name != "procedure"
        ):
            yield from _keys(annotation, f"{prefix}{name}.")


def test_every_configuration_key_is_documented_in_the_example():
    text = EXAMPLE.read_text()
    missing = [key for key in _keys(Config) if key.rsplit(".", 1)[-1] not in text]
    assert missing == []


def test_an_empty_permission_rule_is_refused_at_load():
    with pytest.raises(ConfigError) as caught:
        parse_config({"permissions": {"approve_external": []}})
    assert [p.key for p in caught.value.problems] == ["permissions.approve_external"]


def test_a_secrets_file_others_can_read_is_refused(tmp_path):
    secrets = tmp_path / "bot.secrets.env"
    secrets.write_text("INCIDENT_BOT_DISCORD_TOKEN=abcdefghij\n")
    secrets.chmod(0o644)
    config = tmp_path / "bot.toml"
    config.write_text('secrets_file = "bot.secrets.env"\n')
    with pytest.raises(ConfigError, match="readable by others"):
        load_settings(config)
    secrets.chmod(0o600)
    assert load_settings(config).secrets.discord_token.get_secret_value() == "abcdefghij"
