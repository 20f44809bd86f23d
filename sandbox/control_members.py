"""The control API's routes for members acting in the guild: posting, editing and deleting
messages, reacting, and the admin changing roles and channel overwrites."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from .control_base import ControlBase, bitfield, message_view, role_view
from .discord.interactions import ControlError
from .discord.model import parse_emoji


class MembersControl(ControlBase):
    # ------------------------------------------------------------------ people acting
    async def post_message(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        self._required(body, "user_id", "channel_id")
        user = self._user(body["user_id"])
        channel = self._channel(body["channel_id"])
        payload: dict[str, Any] = {"content": body.get("content") or ""}
        if body.get("embeds"):
            payload["embeds"] = body["embeds"]
        if body.get("reply_to"):
            payload["message_reference"] = {"message_id": body["reply_to"]}
        message = self.state.create_message(channel.id, user.id, payload)
        return web.json_response(message_view(message), status=201)

    async def edit_message(self, request: web.Request) -> web.Response:
        """An addition: the author edits their message (MESSAGE_UPDATE)."""
        body = await self._body(request)
        self._required(body, "user_id", "channel_id")
        user = self._user(body["user_id"])
        channel = self._channel(body["channel_id"])
        message = self._message(channel, request.match_info["message"])
        edited = self.state.edit_message(
            message, {"content": body.get("content") or ""}, editor_id=user.id
        )
        return web.json_response(message_view(edited))

    async def delete_message(self, request: web.Request) -> web.Response:
        """An addition: a member deletes a message (MESSAGE_DELETE)."""
        body = await self._body(request)
        self._required(body, "channel_id")
        channel = self._channel(body["channel_id"])
        message = self._message(channel, request.match_info["message"])
        self.state.delete_message(message)
        return web.json_response({"deleted": str(message.id)})

    async def _reaction(self, request: web.Request, add: bool) -> web.Response:
        body = await self._body(request)
        self._required(body, "user_id", "channel_id", "message_id", "emoji")
        user = self._user(body["user_id"])
        channel = self._channel(body["channel_id"])
        message = self._message(channel, body["message_id"])
        emoji = parse_emoji(str(body["emoji"]))
        if add:
            self.state.add_reaction(message, emoji, user.id)
        else:
            self.state.remove_reaction(message, emoji, user.id)
        return web.json_response(message_view(message))

    async def add_reaction(self, request: web.Request) -> web.Response:
        return await self._reaction(request, add=True)

    async def remove_reaction(self, request: web.Request) -> web.Response:
        return await self._reaction(request, add=False)

    async def _role_change(self, request: web.Request, add: bool) -> web.Response:
        body = await self._body(request)
        self._required(body, "role")
        user = self._user(request.match_info["user"])
        role = self.state.find_role(body["role"])
        if role is None or role.id == self.state.the_guild.id:
            raise ControlError(404, f"unknown role {body['role']!r}")
        member = self.state.the_guild.members[user.id]
        roles = [*member.roles, role.id] if add else [r for r in member.roles if r != role.id]
        self.state.set_member_roles(user.id, roles)
        names = [self.state.the_guild.roles[r].name for r in member.roles]
        return web.json_response({"id": str(user.id), "name": user.username, "roles": names})

    async def add_role(self, request: web.Request) -> web.Response:
        return await self._role_change(request, add=True)

    async def remove_role(self, request: web.Request) -> web.Response:
        return await self._role_change(request, add=False)

    async def edit_role(self, request: web.Request) -> web.Response:
        """``{permissions?, mentionable?}``: the admin edits a role (its id or its name)."""
        body = await self._body(request)
        role = self.state.find_role(request.match_info["role"])
        if role is None:
            raise ControlError(404, f"unknown role {request.match_info['role']!r}")
        permissions = body.get("permissions")
        if permissions is not None:
            permissions = bitfield(permissions, "permissions")
        mentionable = body.get("mentionable")
        if mentionable is not None and not isinstance(mentionable, bool):
            raise ControlError(400, "mentionable must be true or false")
        if permissions is None and mentionable is None:
            raise ControlError(400, "give permissions and/or mentionable")
        self.state.edit_role(role, permissions=permissions, mentionable=mentionable)
        return web.json_response(role_view(role))

    async def put_overwrite(self, request: web.Request) -> web.Response:
        """``{allow, deny, type}``: the admin sets a channel's overwrite for a role (type 0)
        or a member (type 1); the target is an id, or a role or user name."""
        body = await self._body(request)
        channel = self._channel(request.match_info["channel"])
        kind = body.get("type")
        if kind not in (0, 1):
            raise ControlError(400, "type must be 0 (role) or 1 (member)")
        ref = request.match_info["target"]
        target = self.state.find_role(ref) if kind == 0 else self.state.find_user(ref)
        if target is None:
            raise ControlError(404, f"unknown {'role' if kind == 0 else 'user'} {ref!r}")
        allow = bitfield(body.get("allow", "0"), "allow")
        deny = bitfield(body.get("deny", "0"), "deny")
        self.state.set_overwrite(
            channel.id, target.id, {"type": kind, "allow": str(allow), "deny": str(deny)}
        )
        overwrite = next(o for o in channel.permission_overwrites if o["id"] == str(target.id))
        return web.json_response(overwrite)
