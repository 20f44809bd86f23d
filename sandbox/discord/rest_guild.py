"""REST routes of the guild: the guild itself, roles, active threads, members and their roles."""

from __future__ import annotations

from aiohttp import web

from . import errors
from . import permissions as perms
from .model import Role
from .rest_base import (
    RestBase,
    json_body,
    no_content,
    read_body,
    snowflake_param,
    truthy,
)


class GuildRoutes(RestBase):
    """``/guilds/{g}``, its roles, active threads and members."""

    # ------------------------------------------------------------------ guild
    async def get_guild(self, request: web.Request) -> web.Response:
        self._guild(request)
        body = self.state.guild_payload(for_gateway=False)
        if truthy(request.query.get("with_counts")):
            count = len(self.state.the_guild.members)
            body.update(approximate_member_count=count, approximate_presence_count=count)
        return json_body(body)

    async def get_roles(self, request: web.Request) -> web.Response:
        self._guild(request)
        return json_body([r.payload() for r in self.state.the_guild.roles.values()])

    async def active_threads(self, request: web.Request) -> web.Response:
        self._guild(request)
        threads = [
            c.payload()
            for c in self.state.the_guild.channels.values()
            if c.is_thread and not c.archived
        ]
        return json_body({"threads": threads, "members": []})

    async def list_members(self, request: web.Request) -> web.Response:
        self._guild(request)
        limit = int(request.query.get("limit") or 1)
        if not 1 <= limit <= 1000:
            raise errors.invalid_form_body(
                {
                    "limit": errors.field_error(
                        "NUMBER_TYPE_MAX", "int value should be between 1 and 1000"
                    )
                }
            )
        after = snowflake_param(request, "after") or 0
        members = sorted(self.state.the_guild.members.values(), key=lambda mem: mem.user.id)
        selected = [mem for mem in members if mem.user.id > after][:limit]
        return json_body([mem.payload() for mem in selected])

    async def get_member(self, request: web.Request) -> web.Response:
        self._guild(request)
        return json_body(self.state.member(request.match_info["user_id"]).payload())

    async def edit_member(self, request: web.Request) -> web.Response:
        self._guild(request)
        body, _ = await read_body(request)
        return json_body(self.state.edit_member(request.match_info["user_id"], body).payload())

    async def add_member_role(self, request: web.Request) -> web.Response:
        self._guild(request)
        member = self.state.member(request.match_info["user_id"])
        role = self.state.role(request.match_info["role_id"])
        self._may_assign(role)
        if role.id not in member.roles:
            self.state.set_member_roles(member.user.id, [*member.roles, role.id])
        return no_content()

    async def remove_member_role(self, request: web.Request) -> web.Response:
        self._guild(request)
        member = self.state.member(request.match_info["user_id"])
        role = self.state.role(request.match_info["role_id"])
        self._may_assign(role)
        if role.id in member.roles:
            self.state.set_member_roles(member.user.id, [r for r in member.roles if r != role.id])
        return no_content()

    def _may_assign(self, role: Role) -> None:
        """Manage Roles, and only a role below the bot's highest (or the bot is the owner)."""
        held = self._need(perms.MANAGE_ROLES)
        if held == perms.ALL_PERMISSIONS and self.bot_id == self.state.the_guild.owner_id:
            return
        guild = self.state.the_guild
        own = [
            guild.roles[r].position for r in guild.members[self.bot_id].roles if r in guild.roles
        ]
        if role.managed or role.position >= max(own, default=0):
            raise perms.missing_permissions()
