"""Who may do what: configuration (``[permissions]``), checked in one place."""

from __future__ import annotations

from dataclasses import dataclass

from bot.errors import NotAllowed
from bot.settings import Permissions

ANYONE, COMMANDER, PAGED = "anyone", "commander", "paged"


@dataclass(frozen=True)
class Actor:
    user_id: str
    roles: frozenset[str] = frozenset()


def allowed(
    rule: list[str],
    actor: Actor,
    commander_id: str | None = None,
    paged: frozenset[str] = frozenset(),
) -> bool:
    for who in rule:
        if who == ANYONE:
            return True
        if who == COMMANDER and commander_id is not None and actor.user_id == commander_id:
            return True
        if who == PAGED and actor.user_id in paged:
            return True
        if who in actor.roles:
            return True
    return False


def describe(rule: list[str]) -> str:
    words = []
    for who in rule:
        if who == COMMANDER:
            words.append("the incident commander")
        elif who == PAGED:
            words.append("whoever was paged")
        elif who == ANYONE:
            words.append("anyone")
        else:
            words.append(f"members with the `{who}` role")
    return ", ".join(words[:-1]) + (" or " if len(words) > 1 else "") + words[-1]


def require(
    permissions: Permissions,
    action: str,
    actor: Actor,
    commander_id: str | None = None,
    paged: frozenset[str] = frozenset(),
    doing: str | None = None,
) -> None:
    rule: list[str] = getattr(permissions, action)
    if not allowed(rule, actor, commander_id, paged):
        raise NotAllowed(f"Only {describe(rule)} may {doing or action.replace('_', ' ')}.")
