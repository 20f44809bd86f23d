"""Who may do what: configuration (``[permissions]``), checked in one place.

A rule lists keywords (``anyone``, ``commander``, ``paged``) and role names. A keyword is
never a role: a guild role named ``commander`` grants nothing. Role names are resolved to
role ids once, at start (``resolve_roles``); from then on a member holds a configured role
only by its id, so a role created or renamed later to a configured name grants nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.core.clock import Clock
from bot.errors import NotAllowed
from bot.settings import Config, Permissions
from storage.audit import add_refusal

log = logging.getLogger(__name__)

ANYONE, COMMANDER, PAGED = "anyone", "commander", "paged"
KEYWORDS = frozenset({ANYONE, COMMANDER, PAGED})


@dataclass(frozen=True)
class Actor:
    user_id: str
    # The configured role names this member holds, matched by the ids resolved at start
    # (the Discord adapter's ``role_names``), never by the names the guild shows now.
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
        if who not in KEYWORDS and who in actor.roles:
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


async def record_refusal(
    sessions: async_sessionmaker[AsyncSession],
    clock: Clock,
    user_id: str,
    action: str,
    reason: str,
    channel_id: str | None = None,
) -> None:
    """A refusal (``NotAllowed`` answered to a command or button, a reaction taken off) as
    one ``audit`` row: who, what, where, and the reason they were told. Every refusal comes
    through here once (the bot's one error handler, the reaction refusals), so no phase
    records its own. Best effort: a refusal is answered even if the row cannot be written."""
    try:
        async with sessions.begin() as session:
            await add_refusal(session, clock.now(), user_id, action, reason, channel_id)
    except Exception:
        log.exception("could not record %s's refusal of %s", user_id, action)


# -- resolving role names to ids, at start -------------------------------------------------
def role_uses(config: Config) -> dict[str, list[str]]:
    """Each role name the configuration relies on → the keys that name it (keywords aside)."""
    uses: dict[str, list[str]] = {}
    for key in ("admin_role", "comms_role"):
        uses.setdefault(getattr(config.discord, key), []).append(f"discord.{key}")
    for action in type(config.permissions).model_fields:
        for who in getattr(config.permissions, action):
            if who not in KEYWORDS:
                uses.setdefault(who, []).append(f"permissions.{action}")
    for who in config.postmortem.publish:
        if who not in KEYWORDS:
            uses.setdefault(who, []).append("postmortem.publish")
    return uses


@dataclass(frozen=True)
class RoleResolution:
    ids: dict[str, int] = field(default_factory=dict)  # configured name → the role's id
    problems: list[str] = field(default_factory=list)  # one line per unresolved name


def resolve_roles(
    uses: dict[str, list[str]], guild_roles: Iterable[tuple[int, str]]
) -> RoleResolution:
    """Each configured role name → the id of the one guild role with that name.

    A name no role has, or that several roles have, resolves to nothing (it grants nothing
    and mentions no one) and is named in ``problems`` with the keys that use it: with two
    roles of one name, which one is meant is not the bot's guess to make.
    """
    by_name: dict[str, list[int]] = {}
    for role_id, name in guild_roles:
        by_name.setdefault(name, []).append(role_id)
    resolved: dict[str, int] = {}
    problems: list[str] = []
    for name, keys in uses.items():
        ids = by_name.get(name, [])
        where = ", ".join(keys)
        if len(ids) == 1:
            resolved[name] = ids[0]
        elif not ids:
            problems.append(f"{where}: no role named `{name}` in the guild")
        else:
            problems.append(
                f"{where}: {len(ids)} roles are named `{name}` in the guild "
                "(rename or delete all but one)"
            )
    return RoleResolution(resolved, problems)
