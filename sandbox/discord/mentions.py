"""Whom a message mentions and notifies, as Discord decides it.

``allowed_mentions`` (absent: parse everything) says which mentions in the content are
parsed: ``parse`` of ``users``/``roles``/``everyone``, or the listed ``users``/``roles``;
``replied_user`` adds a reply's author. A role mention counts only if the role is
mentionable or the author holds Mention Everyone; ``@everyone``/``@here`` only with
Mention Everyone (and View/Send in the channel, which the permission computation
folds in). Only members who can see the channel are notified, never the author.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from . import permissions as perms

if TYPE_CHECKING:
    from .model import Channel, Message
    from .store import Guild

USER_MENTION = re.compile(r"<@!?(\d+)>")
ROLE_MENTION = re.compile(r"<@&(\d+)>")
EVERYONE_MENTION = re.compile(r"@(everyone|here)\b")


@dataclass
class Mentions:
    user_ids: list[int] = field(default_factory=list)
    role_ids: list[int] = field(default_factory=list)
    everyone: bool = False


def _allowed(allowed: dict[str, Any] | None, kind: str) -> tuple[bool, set[int]]:
    """(all of ``kind`` parsed?, the listed ids)."""
    if allowed is None:
        return True, set()
    parse = allowed.get("parse") or []
    listed = {int(i) for i in allowed.get(kind) or [] if str(i).isdigit()}
    return kind in parse, listed


def parse(
    guild: Guild,
    channel: Channel,
    author_id: int,
    content: str,
    allowed: dict[str, Any] | None,
    replied_to: Message | None = None,
) -> Mentions:
    held = perms.channel_permissions(guild, author_id, channel)
    everyone_ok = bool(held & perms.MENTION_EVERYONE)
    all_users, users = _allowed(allowed, "users")
    all_roles, roles = _allowed(allowed, "roles")
    found = Mentions()
    for raw in dict.fromkeys(USER_MENTION.findall(content)):
        user_id = int(raw)
        if all_users or user_id in users:
            found.user_ids.append(user_id)
    if replied_to is not None and (allowed is None or allowed.get("replied_user", False)):
        if replied_to.author_id not in found.user_ids:
            found.user_ids.append(replied_to.author_id)
    for raw in dict.fromkeys(ROLE_MENTION.findall(content)):
        role = guild.roles.get(int(raw))
        if role is None or not (all_roles or role.id in roles):
            continue
        if role.mentionable or everyone_ok:
            found.role_ids.append(role.id)
    parse_everyone = allowed is None or "everyone" in (allowed.get("parse") or [])
    found.everyone = bool(EVERYONE_MENTION.search(content)) and parse_everyone and everyone_ok
    return found


def notified(guild: Guild, channel: Channel, author_id: int, mentions: Mentions) -> list[int]:
    """The members the message notifies: named, in a named role, or everyone, who can see
    the channel; the author never."""
    targets: dict[int, None] = {}
    for member_id, member in guild.members.items():
        if (
            member_id in mentions.user_ids
            or mentions.everyone
            or any(r in mentions.role_ids for r in member.roles)
        ):
            targets[member_id] = None
    return [
        user_id
        for user_id in targets
        if user_id != author_id
        and perms.channel_permissions(guild, user_id, channel) & perms.VIEW_CHANNEL
    ]
