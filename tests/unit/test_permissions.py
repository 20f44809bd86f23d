"""The permission rules, without Discord: keywords are not roles; names resolve to one id."""

from __future__ import annotations

from bot.core.permissions import Actor, allowed, describe, resolve_roles, role_uses
from bot.settings import parse_config


def test_a_role_named_like_a_keyword_matches_nothing():
    holder = Actor("42", frozenset({"commander", "paged", "anyone"}))
    assert not allowed(["commander"], holder, commander_id="7")
    assert not allowed(["paged"], holder, paged=frozenset({"7"}))
    assert not allowed(["commander", "paged", "incident-admin"], holder, "7", frozenset({"7"}))


def test_keywords_still_mean_the_commander_the_paged_and_anyone():
    someone = Actor("7")
    assert allowed(["commander"], someone, commander_id="7")
    assert allowed(["paged"], someone, paged=frozenset({"7"}))
    assert allowed(["anyone"], someone)
    assert not allowed(["commander", "paged"], someone, commander_id="8")


def test_a_configured_role_the_member_holds_allows():
    admin = Actor("42", frozenset({"incident-admin"}))
    assert allowed(["commander", "incident-admin"], admin, commander_id="7")
    assert not allowed(["comms"], admin)


def test_describe_names_keywords_and_roles():
    assert describe(["commander", "comms"]) == (
        "the incident commander or members with the `comms` role"
    )


def test_role_uses_names_every_key_and_no_keyword():
    uses = role_uses(parse_config({"permissions": {"declare": ["anyone", "oncall"]}}))
    assert "commander" not in uses and "paged" not in uses and "anyone" not in uses
    assert uses["incident-admin"][0] == "discord.admin_role"
    assert "permissions.declare" in uses["oncall"]
    assert uses["comms"] == [
        "discord.comms_role",
        "permissions.post_update",
        "permissions.approve_external",
    ]


def test_each_name_resolves_to_its_one_role_id():
    uses = {"incident-admin": ["discord.admin_role"], "oncall": ["permissions.acknowledge"]}
    resolved = resolve_roles(uses, [(1, "@everyone"), (2, "incident-admin"), (3, "oncall")])
    assert resolved.ids == {"incident-admin": 2, "oncall": 3}
    assert resolved.problems == []


def test_a_missing_or_doubled_name_resolves_to_nothing_and_says_where_it_is_used():
    uses = {"oncall": ["permissions.acknowledge"], "comms": ["discord.comms_role"]}
    resolved = resolve_roles(uses, [(2, "comms"), (3, "comms"), (4, "on-call")])
    assert resolved.ids == {}
    assert resolved.problems == [
        "permissions.acknowledge: no role named `oncall` in the guild",
        "discord.comms_role: 2 roles are named `comms` in the guild (rename or delete all but one)",
    ]


def test_names_are_compared_exactly():
    resolved = resolve_roles({"Comms": ["discord.comms_role"]}, [(2, "comms")])
    assert resolved.ids == {}
