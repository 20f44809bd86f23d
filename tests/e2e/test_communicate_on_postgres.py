"""A chosen few of the communicate end-to-end tests again, the bot on PostgreSQL (see
tests/e2e/test_triage_on_postgres.py): effects left in doubt by a stop are looked for,
not sent again, and no secret is stored in any row."""

from __future__ import annotations

import pytest

from tests.e2e.test_communicate import overlay  # noqa: F401 (the module's fixture, reused)
from tests.e2e.test_communicate import (
    test_a_post_in_flight_when_the_bot_stopped_is_never_sent_again_by_itself as test_pg_post_in_flight_not_sent_again,
)
from tests.e2e.test_communicate import (
    test_an_issue_opened_while_the_bot_stopped_is_found_by_its_marker_not_reopened as test_pg_issue_found_by_its_marker,
)
from tests.e2e.test_communicate import (
    test_x_and_github_secrets_appear_in_no_row_message_or_log_line as test_pg_no_secret_in_any_row,
)

__all__ = [
    "test_pg_issue_found_by_its_marker",
    "test_pg_no_secret_in_any_row",
    "test_pg_post_in_flight_not_sent_again",
]


@pytest.fixture
def engine() -> str:
    return "postgres"
