import pytest

from bot.core.permissions import Actor, require
from bot.errors import Conflict, NotAllowed, UserError
from bot.settings import Permissions
from bot.triage.lifecycle import TRANSITIONS, Status, can_move


def test_every_state_has_a_row_in_the_table():
    assert set(TRANSITIONS) == set(Status)


def test_resolved_can_be_reopened_or_closed_but_closed_is_final():
    assert can_move(Status.RESOLVED, Status.ACKNOWLEDGED)
    assert can_move(Status.RESOLVED, Status.CLOSED)
    assert not any(can_move(Status.CLOSED, target) for target in Status)


def test_a_declared_incident_cannot_be_closed_without_resolving():
    assert not can_move(Status.DECLARED, Status.CLOSED)


def test_only_the_commander_or_an_admin_may_change_severity():
    permissions = Permissions()
    require(permissions, "change_severity", Actor("1"), commander_id="1")
    require(
        permissions, "change_severity", Actor("2", frozenset({"incident-admin"})), commander_id="1"
    )
    with pytest.raises(
        NotAllowed, match="incident commander or members with the `incident-admin` role"
    ):
        require(
            permissions,
            "change_severity",
            Actor("2"),
            commander_id="1",
            doing="change the severity",
        )


def test_whoever_was_paged_may_acknowledge():
    require(Permissions(), "acknowledge", Actor("7"), commander_id="1", paged=frozenset({"7"}))


def test_a_failed_declaration_can_only_be_declared_again():
    assert TRANSITIONS[Status.FAILED] == frozenset({Status.OPENING})


def test_state_conflicts_are_answered_to_the_person():
    assert issubclass(Conflict, UserError)
