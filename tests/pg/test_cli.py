"""check-config, db upgrade and db backup with [storage] database_url on PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import URL

from bot.cli import main
from bot.config_problems import ConfigError
from bot.settings import load_settings
from storage.db import head_revision, schema_problems
from tests.pg.cluster import PASSWORD


def _config(tmp_path: Path, url: URL) -> Path:
    bare = url.render_as_string(hide_password=False).replace(f":{PASSWORD}@", "@")
    path = tmp_path / "bot.toml"
    path.write_text(f'[storage]\ndatabase_url = "{bare}"\n')
    return path


def test_the_password_comes_from_the_environment_only(tmp_path, pg_url, monkeypatch):
    path = tmp_path / "bot.toml"
    path.write_text(f'[storage]\ndatabase_url = "{pg_url.render_as_string(hide_password=False)}"\n')
    with pytest.raises(ConfigError, match="INCIDENT_BOT_DATABASE_PASSWORD"):
        load_settings(path)
    monkeypatch.setenv("INCIDENT_BOT_DATABASE_PASSWORD", PASSWORD)
    settings = load_settings(_config(tmp_path, pg_url))
    assert settings.database == pg_url
    assert PASSWORD not in repr(settings.config)


def test_a_url_of_another_engine_is_refused_by_name(tmp_path):
    path = tmp_path / "bot.toml"
    path.write_text('[storage]\ndatabase_url = "mysql://bot@db/incidents"\n')
    with pytest.raises(ConfigError, match=r"mysql:// is not supported: use postgresql\+asyncpg"):
        load_settings(path)


def test_check_config_says_when_migrations_are_not_current(tmp_path, pg_url, monkeypatch, capsys):
    assert "not migrated yet" in schema_problems(pg_url)[0]
    monkeypatch.setenv("INCIDENT_BOT_DATABASE_PASSWORD", PASSWORD)
    path = _config(tmp_path, pg_url)
    assert main(["db", "upgrade", "--config", str(path)]) == 0
    assert f"schema at revision {head_revision()}" in capsys.readouterr().out
    assert schema_problems(pg_url) == []
    assert main(["db", "upgrade", "--config", str(path)]) == 0  # again: nothing to do


def test_check_config_says_when_the_server_cannot_be_reached(pg_url):
    away = pg_url.set(port=1)  # nothing listens there
    problems = schema_problems(away)
    assert len(problems) == 1 and "cannot connect" in problems[0]
    assert PASSWORD not in problems[0] and "***" in problems[0]


def test_db_backup_refuses_postgres_and_names_its_own_tools(
    tmp_path, pg_migrated, monkeypatch, capsys
):
    monkeypatch.setenv("INCIDENT_BOT_DATABASE_PASSWORD", PASSWORD)
    path = _config(tmp_path, pg_migrated)
    assert main(["db", "backup", str(tmp_path / "copy.sqlite3"), "--config", str(path)]) == 2
    assert "pg_dump" in capsys.readouterr().err
    assert not (tmp_path / "copy.sqlite3").exists()


def test_a_bad_database_url_in_the_environment_is_named_at_load(tmp_path, monkeypatch, capsys):
    path = tmp_path / "bot.toml"
    path.write_text("")
    monkeypatch.setenv("INCIDENT_BOT_DATABASE_URL", "postgres://bot:hunter2@db/incidents")
    assert main(["db", "upgrade", "--config", str(path)]) == 2
    err = capsys.readouterr().err
    assert "INCIDENT_BOT_DATABASE_URL" in err and "postgresql+asyncpg" in err
    assert "hunter2" not in err


def test_a_replica_older_than_the_schema_refuses_to_start_and_says_so(
    tmp_path, pg_migrated, monkeypatch, capsys
):
    from tests.pg.support import sql_rows

    sql_rows(pg_migrated, "UPDATE alembic_version SET version_num = '0099_future'")
    monkeypatch.setenv("INCIDENT_BOT_DATABASE_PASSWORD", PASSWORD)
    monkeypatch.setenv("INCIDENT_BOT_DISCORD_TOKEN", "not-used")
    assert main(["run", "--config", str(_config(tmp_path, pg_migrated))]) == 2
    err = capsys.readouterr().err
    assert "refuses to start" in err and "0099_future, newer than this bot knows" in err
    assert PASSWORD not in err


def test_the_password_of_a_whole_url_in_the_environment_is_a_secret_too(monkeypatch):
    from bot.settings import Secrets

    monkeypatch.setenv("INCIDENT_BOT_DATABASE_URL", "postgresql+asyncpg://bot:s3cr3t-pw@db/x")
    assert "s3cr3t-pw" in Secrets().values()  # so the log filter hides it wherever it shows
