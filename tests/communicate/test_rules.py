"""The rules of external comms, without Discord or a database: who may approve, the post's
state table, which ✅ counts, what the approval message's marker says."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.communicate import rules
from bot.communicate.rules import PostState
from bot.core.permissions import Actor
from bot.errors import Conflict, NotAllowed
from bot.settings import parse_config

AT = datetime(2026, 11, 27, 14, 5, tzinfo=UTC)


def permissions(**rules_):  # type: ignore[no-untyped-def]
    return (
        parse_config({"permissions": rules_}).permissions
        if rules_
        else parse_config({}).permissions
    )


def test_the_commander_and_the_comms_role_may_approve_by_default():
    p = permissions()
    rules.check_approver(p, Actor("1"), "1", frozenset())
    rules.check_approver(p, Actor("2", frozenset({"comms"})), "1", frozenset())
    with pytest.raises(NotAllowed, match="Only the incident commander or members with the `comms`"):
        rules.check_approver(p, Actor("3", frozenset({"oncall"})), "1", frozenset({"3"}))


def test_people_paged_for_the_incident_may_approve_where_the_rule_names_them():
    p = permissions(approve_external=["paged"])
    rules.check_approver(p, Actor("5"), "1", frozenset({"5"}))
    with pytest.raises(NotAllowed, match="whoever was paged"):
        rules.check_approver(p, Actor("6"), "1", frozenset({"5"}))


def test_a_role_named_like_a_keyword_grants_nothing_it_names_only_itself():
    p = permissions(approve_external=["commander"])
    with pytest.raises(NotAllowed):
        rules.check_approver(p, Actor("7", frozenset({"comms"})), "1", frozenset())


def test_a_refusal_says_what_was_refused():
    with pytest.raises(NotAllowed, match="may edit posts to X, so nothing happened"):
        rules.check_approver(permissions(), Actor("3"), "1", frozenset(), doing="edit")


def test_a_post_moves_only_along_its_table():
    table = rules.POSTS
    assert table.can(PostState.AWAITING, PostState.APPROVED)
    assert table.can(PostState.PUBLISHING, PostState.APPROVED)  # X unavailable: back, retried
    assert table.can(PostState.IN_DOUBT, PostState.APPROVED)  # a person approves again
    assert table.can(PostState.WITHDRAWN, PostState.AWAITING)  # drafted again
    with pytest.raises(Conflict):
        table.check(PostState.POSTED, PostState.APPROVED)  # once on X, never again
    with pytest.raises(Conflict):
        table.check(PostState.AWAITING, PostState.PUBLISHING)  # nothing goes out unapproved
    for state in rules.APPROVABLE:
        assert table.can(state, PostState.APPROVED)


def test_a_check_mark_that_came_before_the_last_edit_approves_nothing():
    edited = AT
    assert rules.stale_check_mark(AT - timedelta(seconds=1), edited)
    assert rules.stale_check_mark(AT, edited)
    assert not rules.stale_check_mark(AT + timedelta(seconds=1), edited)
    assert not rules.stale_check_mark(AT, None)  # never edited
    assert not rules.stale_check_mark(None, edited)  # a button press carries its own tag


def test_the_approval_footer_names_its_draft_and_is_read_back():
    footer = rules.approval_footer(3, 7, "resolve", draft_round=2)
    assert footer == "Draft #3 · incident #7 · resolve · round 2"
    assert rules.draft_in_footer(footer) == (3, 7)
    assert rules.draft_in_footer(rules.approval_footer(12, 9, "initial")) == (12, 9)
    assert rules.draft_in_footer("Incident #7") is None
    assert rules.draft_in_footer(None) is None


def test_the_button_carries_the_text_it_showed():
    assert rules.approve_custom_id(3, "a") != rules.approve_custom_id(3, "b")
    assert rules.approve_custom_id(3, "a").endswith(rules.text_tag("a"))


def test_a_long_title_is_shortened_but_never_below_the_minimum():
    def render(title: str) -> str:
        return f"Investigating: {title}. " + "x" * 200

    text = rules.shorten_to_fit(render, "Bridge " + "very " * 40 + "slow")
    assert text.startswith("Investigating: Bridge") and "…" in text


def test_a_text_too_long_even_with_the_shortest_title_is_returned_not_looped_on():
    # The rest of the text alone is over 280: the title stops at MIN_TITLE (and "…").
    text = rules.shorten_to_fit(lambda t: t + " " + "y" * 400, "A" * 30)
    assert text.startswith("A" * rules.MIN_TITLE + "… ")
