"""REST routes of the bot's identity, its application commands, and interaction answers
(callbacks and the interaction webhooks)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from . import commands, errors
from .rest_base import (
    RestBase,
    json_body,
    no_content,
    parse_json,
    read_body,
    truthy,
)


class ApplicationRoutes(RestBase):
    """Login, application commands, interaction callbacks and follow-ups."""

    # ------------------------------------------------------------------ login
    async def get_me(self, request: web.Request) -> web.Response:
        assert self.state.bot_user is not None
        body = {**self.state.bot_user.payload(), "verified": True, "mfa_enabled": False}
        return json_body({**body, "email": None, "locale": "en-US", "premium_type": 0})

    async def get_my_guilds(self, request: web.Request) -> web.Response:
        """``GET /users/@me/guilds``: the one guild, as a partial guild with the bot's
        permissions (check-config calls it when no guild id is configured)."""
        guild = self.state.the_guild
        body: dict[str, Any] = {
            "id": str(guild.id),
            "name": guild.name,
            "icon": None,
            "banner": None,
            "owner": guild.owner_id == self.bot_id,
            "permissions": str(self.state.permissions(self.bot_id)),
            "features": [],
        }
        if truthy(request.query.get("with_counts")):
            body.update(
                approximate_member_count=len(guild.members),
                approximate_presence_count=len(guild.members),
            )
        after = request.query.get("after")
        before = request.query.get("before")
        listed = (after is None or guild.id > int(after)) and (
            before is None or guild.id < int(before)
        )
        return json_body([body] if listed else [])

    async def get_user(self, request: web.Request) -> web.Response:
        user = self.state.users.get(int(request.match_info["user_id"]))
        if user is None:
            raise errors.unknown_user()
        return json_body(user.payload())

    async def get_application(self, request: web.Request) -> web.Response:
        return json_body(self.state.application_payload())

    async def get_gateway(self, request: web.Request) -> web.Response:
        return json_body(
            {
                "url": self.gateway_url(),
                "shards": 1,
                "session_start_limit": {
                    "total": 1000,
                    "remaining": 999,
                    "reset_after": 14400000,
                    "max_concurrency": 1,
                },
            }
        )

    # ------------------------------------------------------------------ commands
    async def get_commands(self, request: web.Request) -> web.Response:
        return json_body(self.state.commands.get(self._scope(request), []))

    async def put_commands(self, request: web.Request) -> web.Response:
        scope = self._scope(request)
        body = parse_json(await request.read() or b"[]")
        return json_body(commands.overwrite(self.state, scope, body))

    async def post_command(self, request: web.Request) -> web.Response:
        scope = self._scope(request)
        body, _ = await read_body(request)
        return json_body(commands.upsert(self.state, scope, body), status=201)

    async def get_command(self, request: web.Request) -> web.Response:
        scope = self._scope(request)
        return json_body(commands.get(self.state, scope, request.match_info["command_id"]))

    async def delete_command(self, request: web.Request) -> web.Response:
        commands.delete(self.state, self._scope(request), request.match_info["command_id"])
        return no_content()

    # ------------------------------------------------------------------ interactions
    async def interaction_callback(self, request: web.Request) -> web.Response:
        body, uploads = await read_body(request)
        answer = self.interactions.callback(
            request.match_info["interaction_id"], request.match_info["token"], body, uploads
        )
        if truthy(request.query.get("with_response")):
            return json_body(answer)
        return no_content()

    async def webhook_execute(self, request: web.Request) -> web.Response:
        body, uploads = await read_body(request)
        message = self.interactions.follow_up(
            request.match_info["app_id"], request.match_info["token"], body, uploads
        )
        if truthy(request.query.get("wait")):
            return self._msg(message)
        return no_content()

    async def webhook_get_message(self, request: web.Request) -> web.Response:
        info = request.match_info
        return self._msg(
            self.interactions.get_message(info["app_id"], info["token"], info["message_id"])
        )

    async def webhook_edit_message(self, request: web.Request) -> web.Response:
        info = request.match_info
        body, uploads = await read_body(request)
        message = self.interactions.edit_message(
            info["app_id"], info["token"], info["message_id"], body, uploads
        )
        return self._msg(message)

    async def webhook_delete_message(self, request: web.Request) -> web.Response:
        info = request.match_info
        self.interactions.delete_message(info["app_id"], info["token"], info["message_id"])
        return no_content()
