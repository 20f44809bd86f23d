"""The control API under ``/_sandbox/``: drive the world and read what the bot did.

Published contract: /work/shared/docs/sandbox-contract.md ("Control API"). Additions are
listed in sandbox/README.md.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import aiohttp
from aiohttp import web

from . import alerts
from .discord.errors import DiscordError
from .discord.interactions import ControlError, Interaction
from .discord.model import Channel, Message, Role, User, emoji_text, iso, parse_emoji
from .faults import GATEWAY_KINDS, HOLD_KINDS, KINDS

if TYPE_CHECKING:
    from .world import World

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
DEFAULT_WAIT_S = 10.0


def message_view(message: Message) -> dict[str, Any]:
    return {
        "id": str(message.id),
        "author_id": str(message.author_id),
        "content": message.content,
        "embeds": [dict(e) for e in message.embeds],
        "components": list(message.components),
        "reactions": [
            {"emoji": emoji_text(r.emoji), "user_ids": [str(u) for u in r.user_ids]}
            for r in message.reactions
        ],
        "pinned": message.pinned,
        "attachments": [
            {
                "id": str(a.id),
                "filename": a.filename,
                "text": a.text,
                "size": len(a.data),
                "url": a.url,
            }
            for a in message.attachments
        ],
        "created_at": iso(message.created_at),
        "edited_at": iso(message.edited_at),
        "type": message.type,
        "flags": message.flags,
        "thread_id": None if message.thread_id is None else str(message.thread_id),
        "reply_to": (message.message_reference or {}).get("message_id"),
        "notified_user_ids": [str(u) for u in message.notified_user_ids],
    }


def role_view(role: Role) -> dict[str, Any]:
    return {
        "id": str(role.id),
        "name": role.name,
        "permissions": str(role.permissions),
        "mentionable": role.mentionable,
    }


def _options(body: dict[str, Any]) -> dict[str, Any]:
    options = body.get("options") or {}
    if not isinstance(options, dict):
        raise ControlError(400, "options must be an object {name: value}")
    return options


def _bitfield(value: Any, name: str) -> int:
    """A permissions integer, as Discord sends it (a string) or as a number."""
    text = str(value).strip()
    if isinstance(value, bool) or not text.isdigit():
        raise ControlError(400, f"{name} must be a permissions integer (a string of digits)")
    return int(text)


def interaction_view(interaction: Interaction, *, timed_out: bool = False) -> dict[str, Any]:
    return {
        "interaction_id": str(interaction.id),
        "responses": list(interaction.responses),
        "timed_out": timed_out,
    }


class ControlApi:
    def __init__(self, world: World) -> None:
        self.world = world
        self.discord = world.discord
        self.state = world.discord.state

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self.middleware])
        app.add_routes(
            [
                web.get("/world", self.get_world),
                web.get("/channels/{channel}/messages", self.channel_messages),
                web.get("/commands", self.list_commands),
                web.post("/commands", self.run_command),
                web.post("/components", self.press_component),
                web.post("/autocomplete", self.autocomplete),
                web.post("/modals", self.submit_modal),
                web.get("/interactions/{interaction_id}", self.get_interaction),
                web.post("/messages", self.post_message),
                web.patch("/messages/{message}", self.edit_message),
                web.delete("/messages/{message}", self.delete_message),
                web.post("/reactions", self.add_reaction),
                web.delete("/reactions", self.remove_reaction),
                web.post("/members/{user}/roles", self.add_role),
                web.delete("/members/{user}/roles", self.remove_role),
                web.patch("/roles/{role}", self.edit_role),
                web.put("/channels/{channel}/permissions/{target}", self.put_overwrite),
                web.get("/requests", self.requests),
                web.post("/faults", self.add_fault),
                web.get("/faults", self.list_faults),
                web.get("/holds", self.list_holds),
                web.post("/holds/release", self.release_holds),
                web.get("/settings", self.get_settings),
                web.put("/settings", self.put_settings),
                web.get("/rate-limits", self.get_rate_limits),
                web.get("/gateway", self.gateway),
                web.get("/alerts/sample", self.sample_alert),
                web.post("/alerts", self.fire_alert),
            ]
        )
        return app

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            return await handler(request)
        except ControlError as error:
            return web.json_response({"error": error.message}, status=error.status)
        except DiscordError as error:
            body = {"error": error.message, "code": error.code}
            if error.errors:
                body["errors"] = error.errors
            return web.json_response(body, status=error.status)
        except web.HTTPMethodNotAllowed:
            return web.json_response({"error": f"{request.method} not allowed here"}, status=405)
        except web.HTTPNotFound:
            return web.json_response({"error": f"no control route {request.path}"}, status=404)

    # ------------------------------------------------------------------ helpers
    async def _body(self, request: web.Request) -> dict[str, Any]:
        try:
            body = await request.json() if await request.read() else {}
        except (ValueError, json.JSONDecodeError):
            raise ControlError(400, "the body must be JSON") from None
        if not isinstance(body, dict):
            raise ControlError(400, "the body must be a JSON object")
        return body

    def _required(self, body: dict[str, Any], *keys: str) -> None:
        missing = [k for k in keys if body.get(k) in (None, "")]
        if missing:
            raise ControlError(400, f"missing field(s): {', '.join(missing)}")

    def _user(self, ref: Any) -> User:
        user = self.state.find_user(ref)
        if user is None or user.id not in self.state.the_guild.members:
            raise ControlError(404, f"unknown user {ref!r}")
        return user

    def _channel(self, ref: Any) -> Channel:
        channel = self.state.find_channel(ref)
        if channel is None:
            raise ControlError(404, f"unknown channel {ref!r}")
        return channel

    def _message(self, channel: Channel, ref: Any) -> Message:
        message = None
        if str(ref).isdigit():
            # ephemeral messages live outside the channel but can carry buttons
            message = channel.messages.get(int(ref)) or self.state.messages.get(int(ref))
        if message is None or message.channel_id != channel.id:
            raise ControlError(404, f"unknown message {ref!r} in channel {channel.id}")
        return message

    async def _answer(
        self, interaction: Interaction, body: dict[str, Any], command: dict[str, Any] | None = None
    ) -> web.Response:
        timeout = float(body.get("timeout") or DEFAULT_WAIT_S)
        answered = await self.discord.interactions.wait_answer(interaction, timeout)
        view = interaction_view(interaction, timed_out=not answered)
        if command is not None:
            view["command"] = command  # what a command_line was read as
        return web.json_response(view)

    # ------------------------------------------------------------------ reading
    async def get_world(self, request: web.Request) -> web.Response:
        return web.json_response(self.world.describe())

    async def channel_messages(self, request: web.Request) -> web.Response:
        channel = self._channel(request.match_info["channel"])
        ordered = sorted(channel.messages.values(), key=lambda m: m.id)
        return web.json_response([message_view(m) for m in ordered])

    async def list_commands(self, request: web.Request) -> web.Response:
        guild_id = self.state.the_guild.id
        scopes = ((guild_id, "guild"), (None, "global"))
        return web.json_response(
            [
                {**command, "scope": scope}
                for key, scope in scopes
                for command in self.state.commands.get(key, [])
            ]
        )

    async def get_interaction(self, request: web.Request) -> web.Response:
        ref = request.match_info["interaction_id"]
        interaction = self.discord.interactions.by_id.get(int(ref)) if ref.isdigit() else None
        if interaction is None:
            raise ControlError(404, f"unknown interaction {ref!r}")
        return web.json_response(interaction_view(interaction))

    async def requests(self, request: web.Request) -> web.Response:
        since = request.query.get("since")
        entries = self.discord.requests.entries
        if since:
            try:
                moment = datetime.fromisoformat(since.replace("Z", "+00:00"))
            except ValueError:
                raise ControlError(400, f"since must be an ISO-8601 time, not {since!r}") from None
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=UTC)
            entries = [e for e in entries if datetime.fromisoformat(e["at"]) >= moment]
        return web.json_response(entries)

    async def gateway(self, request: web.Request) -> web.Response:
        return web.json_response(self.discord.gateway.describe())

    # ------------------------------------------------------------------ interactions
    async def run_command(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        interactions = self.discord.interactions
        parsed = None
        if body.get("command_line") is not None:
            # An addition: the line as typed in Discord's client, read as the client reads it.
            if any(body.get(key) is not None for key in ("name", "subcommand", "options")):
                raise ControlError(400, "give command_line or name/subcommand/options, not both")
            self._required(body, "user_id", "channel_id")
            parsed = interactions.read_command_line(str(body["command_line"]))
            body = {**body, **parsed}
        self._required(body, "user_id", "channel_id", "name")
        options = _options(body)
        interaction = interactions.run_command(
            self._user(body["user_id"]),
            self._channel(body["channel_id"]),
            str(body["name"]).removeprefix("/"),
            body.get("subcommand"),
            options,
        )
        return await self._answer(interaction, body, command=parsed)

    async def autocomplete(self, request: web.Request) -> web.Response:
        """``{user_id, channel_id, name, subcommand?, options, focused}`` → ``{choices}``:
        the bot's suggestions for the focused option, as a real autocomplete interaction."""
        body = await self._body(request)
        self._required(body, "user_id", "channel_id", "name", "focused")
        options = _options(body)
        interaction = self.discord.interactions.run_autocomplete(
            self._user(body["user_id"]),
            self._channel(body["channel_id"]),
            str(body["name"]).removeprefix("/"),
            body.get("subcommand"),
            options,
            str(body["focused"]),
        )
        timeout = float(body.get("timeout") or DEFAULT_WAIT_S)
        answered = await self.discord.interactions.wait_answer(interaction, timeout)
        choices = next(
            (r.get("choices") or [] for r in interaction.responses if r["type"] == 8), []
        )
        return web.json_response(
            {"interaction_id": str(interaction.id), "choices": choices, "timed_out": not answered}
        )

    async def press_component(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        self._required(body, "user_id", "channel_id", "message_id", "custom_id")
        channel = self._channel(body["channel_id"])
        interaction = self.discord.interactions.press_component(
            self._user(body["user_id"]),
            channel,
            self._message(channel, body["message_id"]),
            str(body["custom_id"]),
            body.get("values"),
        )
        return await self._answer(interaction, body)

    async def submit_modal(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        self._required(body, "user_id", "channel_id", "custom_id")
        fields = body.get("fields") or {}
        if not isinstance(fields, dict):
            raise ControlError(400, "fields must be an object {custom_id: value}")
        interaction = self.discord.interactions.submit_modal(
            self._user(body["user_id"]),
            self._channel(body["channel_id"]),
            str(body["custom_id"]),
            fields,
        )
        return await self._answer(interaction, body)

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
            permissions = _bitfield(permissions, "permissions")
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
        allow = _bitfield(body.get("allow", "0"), "allow")
        deny = _bitfield(body.get("deny", "0"), "deny")
        self.state.set_overwrite(
            channel.id, target.id, {"type": kind, "allow": str(allow), "deny": str(deny)}
        )
        overwrite = next(o for o in channel.permission_overwrites if o["id"] == str(target.id))
        return web.json_response(overwrite)

    # ------------------------------------------------------------------ faults, settings
    async def add_fault(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        kind = body.get("kind")
        if kind not in KINDS:
            raise ControlError(400, f"kind must be one of {', '.join(sorted(KINDS))}")
        try:
            count = int(body.get("count", 1))
        except (TypeError, ValueError):
            raise ControlError(400, "count must be an integer") from None
        if count < 1:
            raise ControlError(400, "count must be at least 1")
        prefix = body.get("path_prefix")
        if prefix is not None and (not isinstance(prefix, str) or kind in GATEWAY_KINDS):
            raise ControlError(400, "path_prefix is a string, for rest kinds only")
        method, pattern = body.get("method"), body.get("path_pattern")
        for value, name in ((method, "method"), (pattern, "path_pattern")):
            if value is not None and (not isinstance(value, str) or kind not in HOLD_KINDS):
                raise ControlError(400, f"{name} is a string, for hold kinds only")
        if pattern is not None:
            try:
                re.compile(pattern)
            except re.error as error:
                raise ControlError(
                    400, f"path_pattern is not a regular expression: {error}"
                ) from None
        applied = 0
        gateway = self.discord.gateway
        if kind == "disconnect":
            applied = gateway.disconnect(count)
        elif kind == "reconnect":
            applied = gateway.reconnect(count)
        if count > applied:
            self.discord.faults.add(kind, count - applied, prefix, method, pattern)
        return web.json_response(
            {"applied_now": applied, "pending": self.discord.faults.describe()}, status=201
        )

    async def list_faults(self, request: web.Request) -> web.Response:
        return web.json_response({"pending": self.discord.faults.describe()})

    async def list_holds(self, request: web.Request) -> web.Response:
        return web.json_response({"held": self.discord.faults.describe_held()})

    async def release_holds(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        held_id, drop = body.get("id"), body.get("drop", False)
        if held_id is not None and (isinstance(held_id, bool) or not isinstance(held_id, int)):
            raise ControlError(400, "id is an integer (omit it to release every held request)")
        if not isinstance(drop, bool):
            raise ControlError(400, "drop is true or false")
        released = self.discord.faults.release(held_id, drop)
        return web.json_response({"released": [h.describe() for h in released]})

    async def get_settings(self, request: web.Request) -> web.Response:
        return web.json_response(
            {
                "rest_latency_ms": self.discord.settings.rest_latency_ms,
                "rate_limits": self.discord.rate_limits.enabled,
            }
        )

    async def get_rate_limits(self, request: web.Request) -> web.Response:
        return web.json_response(self.discord.rate_limits.describe())

    async def put_settings(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        if "rest_latency_ms" in body:
            try:
                latency = float(body["rest_latency_ms"])
            except (TypeError, ValueError):
                raise ControlError(400, "rest_latency_ms must be a number") from None
            if latency < 0:
                raise ControlError(400, "rest_latency_ms must not be negative")
            self.discord.settings.rest_latency_ms = latency
        if "rate_limits" in body:
            if not isinstance(body["rate_limits"], bool):
                raise ControlError(400, "rate_limits must be true or false")
            self.discord.rate_limits.enabled = body["rate_limits"]
        return await self.get_settings(request)

    # ------------------------------------------------------------------ alerts
    async def sample_alert(self, request: web.Request) -> web.Response:
        return web.json_response(alerts.sample_alertmanager_payload())

    async def fire_alert(self, request: web.Request) -> web.Response:
        """Forward an Alertmanager payload (the sample by default) to the bot's webhook server."""
        body = await self._body(request)
        base_url = self.world.options.webhook_base_url
        if not base_url:
            raise ControlError(
                409, "the world has no webhook base_url (WorldOptions.webhook_base_url)"
            )
        payload = body.get("payload") or alerts.sample_alertmanager_payload()
        try:
            status, text = await alerts.fire(
                base_url, self.world.webhook_bearer_token, self.world.webhook_hmac_secret, payload
            )
        except (OSError, TimeoutError, aiohttp.ClientError) as error:
            raise ControlError(502, f"the bot's webhook server did not answer: {error}") from None
        return web.json_response({"status": status, "body": text, "payload": payload})
