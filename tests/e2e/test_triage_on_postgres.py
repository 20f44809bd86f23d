"""A chosen few of the triage end-to-end tests again, the bot on PostgreSQL.

The whole e2e suite runs on PostgreSQL with INCIDENT_BOT_TEST_ENGINE=postgres; these
run in every run, so the normal suite covers both engines where it matters most: an
escalation on time, once, across a restart, a page cut off mid-send found and not sent
again, and the lock under concurrent declarations.
"""

from __future__ import annotations

import pytest

from tests.e2e.test_triage import overlay  # noqa: F401 (the module's fixture, reused)
from tests.e2e.test_triage import (
    test_a_page_cut_off_mid_send_is_found_at_start_and_not_sent_again as test_pg_page_cut_off_not_sent_again,
)
from tests.e2e.test_triage import (
    test_a_restart_in_the_middle_keeps_the_escalation_timer as test_pg_restart_keeps_escalation,
)
from tests.e2e.test_triage import (
    test_an_escalation_run_twice_pages_once as test_pg_escalation_run_twice_pages_once,
)
from tests.e2e.test_triage import (
    test_declared_p1_opens_the_channel_in_the_category_pins_the_kickoff_and_pings_the_primary as test_pg_declared_p1_opens_its_channel,
)
from tests.e2e.test_triage import (
    test_simultaneous_declarations_with_one_title_get_distinct_channels as test_pg_simultaneous_declarations,
)

__all__ = [
    "test_pg_declared_p1_opens_its_channel",
    "test_pg_escalation_run_twice_pages_once",
    "test_pg_page_cut_off_not_sent_again",
    "test_pg_restart_keeps_escalation",
    "test_pg_simultaneous_declarations",
]


@pytest.fixture
def engine() -> str:
    return "postgres"
