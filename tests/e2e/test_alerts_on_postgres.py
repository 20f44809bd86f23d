"""A chosen few of the alert end-to-end tests again, the bot on PostgreSQL (see
tests/e2e/test_triage_on_postgres.py): the writer's group commits, a storm, a replay."""

from __future__ import annotations

import pytest

from tests.e2e.test_alerts import (  # noqa: F401 (the module's fixtures, reused)
    overlay,
    webhook,
)
from tests.e2e.test_alerts import (
    test_a_storm_opens_storm_limit_channels_and_digests_the_rest_in_ops_alerts as test_pg_storm,
)
from tests.e2e.test_alerts import (
    test_alertmanager_payload_from_the_docs_opens_a_p1_channel_and_pings_the_commander as test_pg_alertmanager_opens_p1,
)
from tests.e2e.test_alerts import (
    test_healthz_and_metrics_report_the_database_the_gateway_and_the_counts as test_pg_healthz,
)
from tests.e2e.test_alerts import (
    test_the_same_payload_again_opens_nothing_new as test_pg_same_payload_again,
)

__all__ = [
    "test_pg_alertmanager_opens_p1",
    "test_pg_healthz",
    "test_pg_same_payload_again",
    "test_pg_storm",
]


@pytest.fixture
def engine() -> str:
    return "postgres"
