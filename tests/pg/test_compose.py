"""compose.replicas.example.yaml: PostgreSQL and two replicas, told apart, no secret inline.

(Docker is not available to the test suite, so the file is read, not started.)
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = (ROOT / "compose.replicas.example.yaml").read_text(encoding="utf-8")


def test_two_replicas_with_their_own_names_and_ports_wait_for_a_healthy_postgres():
    names = re.findall(r"INCIDENT_BOT_REPLICA_NAME: (\S+)", COMPOSE)
    ports = re.findall(r'INCIDENT_BOT_WEBHOOK_PORT: "(\d+)"', COMPOSE)
    assert len(names) == len(set(names)) == 2
    assert len(ports) == len(set(ports)) == 2
    for port in ports:
        assert f'"127.0.0.1:{port}:{port}"' in COMPOSE
    assert "image: postgres:15" in COMPOSE and "pg_isready" in COMPOSE
    assert "condition: service_healthy" in COMPOSE


def test_the_password_is_a_secret_file_and_the_url_names_none():
    assert "POSTGRES_PASSWORD_FILE: /run/secrets/postgres_password" in COMPOSE
    assert "POSTGRES_PASSWORD:" not in COMPOSE
    url = re.search(r"database_url = \"(postgresql\+asyncpg://[^\"]+)\"", COMPOSE)
    assert url is not None and ":" not in url.group(1).split("//", 1)[1].split("@")[0]
    assert "INCIDENT_BOT_DATABASE_PASSWORD=" in COMPOSE  # said where it goes instead
