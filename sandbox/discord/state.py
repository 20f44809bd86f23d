"""The emulated guild: its members, roles, channels and messages, and every change to them.

Each change validates Discord's limits, mutates the model and dispatches the gateway
event Discord would send. The REST routes and the control API both go through here.
``DiscordState`` is put together from: store.py (what there is, lookups, seeding),
payloads.py (wire shapes), channels.py (channels and threads), messages.py (messages,
reactions, pins), and the member changes below.
"""

from __future__ import annotations

from typing import Any

from .channels import Channels
from .messages import Messages
from .model import Member, Role
from .store import Dispatcher, Guild, Upload


class DiscordState(Channels, Messages):
    """One guild, one bot application, and everything in them."""

    # ------------------------------------------------------------------ members
    def set_member_roles(self, user_id: int | str, roles: list[int]) -> Member:
        member = self.member(user_id)
        for role_id in roles:
            self.role(role_id)
        member.roles = list(dict.fromkeys(r for r in roles if r != self.the_guild.id))
        self.dispatch(
            "GUILD_MEMBER_UPDATE", {**member.payload(), "guild_id": str(self.the_guild.id)}
        )
        return member

    def edit_role(
        self, role: Role, *, permissions: int | None = None, mentionable: bool | None = None
    ) -> Role:
        """What the guild's admin changes in Server Settings → Roles."""
        if permissions is not None:
            role.permissions = permissions
        if mentionable is not None:
            role.mentionable = mentionable
        self.dispatch(
            "GUILD_ROLE_UPDATE", {"guild_id": str(self.the_guild.id), "role": role.payload()}
        )
        return role

    def edit_member(self, user_id: int | str, body: dict[str, Any]) -> Member:
        member = self.member(user_id)
        if "nick" in body:
            member.nick = body["nick"] or None
        if "roles" in body:
            return self.set_member_roles(user_id, [int(r) for r in body["roles"] or []])
        self.dispatch(
            "GUILD_MEMBER_UPDATE", {**member.payload(), "guild_id": str(self.the_guild.id)}
        )
        return member


__all__ = ["DiscordState", "Dispatcher", "Guild", "Upload"]
