"""Discord REST API v10 routes, mounted at ``/api/v10``.

Every answer carries ``Content-Type: application/json`` exactly (discord.py compares it
verbatim) and Discord's rate-limit headers. A middleware adds the configured latency,
injected faults, the bot-token check and the request log.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from ..faults import Faults
from . import commands, errors, limits
from .errors import DiscordError
from .interactions import Interactions
from .model import emoji_text, iso, now, parse_emoji
from .state import DiscordState, Upload

log = logging.getLogger(__name__)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
PUBLIC_PREFIXES = ("/interactions/", "/webhooks/")
FILE_FIELD = re.compile(r"^files\[(\d+)\]$")


def json_body(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    """A JSON answer whose Content-Type is exactly ``application/json``."""
    return web.Response(
        body=json.dumps(data).encode(),
        status=status,
        content_type="application/json",
        headers=headers,
    )


def no_content() -> web.Response:
    return web.Response(status=204)


@dataclass
class Settings:
    rest_latency_ms: float = 0.0


@dataclass
class RequestLog:
    entries: list[dict[str, Any]] = field(default_factory=list)

    def add(self, method: str, path: str, query: str, status: int) -> None:
        self.entries.append(
            {"at": iso(now()), "method": method, "path": path, "query": query, "status": status}
        )
        if len(self.entries) > 20000:
            del self.entries[:5000]


async def read_body(request: web.Request) -> tuple[dict[str, Any], list[Upload]]:
    """A JSON body, or a multipart body with ``payload_json`` and ``files[n]`` parts."""
    if request.content_type.startswith("multipart/"):
        payload: dict[str, Any] = {}
        uploads: dict[int, Upload] = {}
        reader = await request.multipart()
        async for part in reader:
            name = getattr(part, "name", None)
            if name == "payload_json":
                payload = _parse_json(await part.read())
            elif part.filename is not None:
                match = FILE_FIELD.match(name or "")
                index = int(match.group(1)) if match else len(uploads)
                uploads[index] = Upload(
                    filename=part.filename,
                    data=bytes(await part.read(decode=False)),
                    content_type=part.headers.get("Content-Type"),
                )
        return payload, [uploads[i] for i in sorted(uploads)]
    raw = await request.read()
    if not raw:
        return {}, []
    body = _parse_json(raw)
    return body, []


def _parse_json(raw: bytes | bytearray) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        raise DiscordError(400, 50109, "The request body contains invalid JSON.") from None


def _snowflake_param(request: web.Request, name: str) -> int | None:
    value = request.query.get(name)
    if value is None:
        return None
    if not value.isdigit():
        raise errors.invalid_form_body(
            {name: errors.field_error("NUMBER_TYPE_COERCE", f'Value "{value}" is not snowflake.')}
        )
    return int(value)


def _truthy(value: str | None) -> bool:
    return (value or "").lower() in ("1", "true", "yes")


class RestApi:
    """The REST half of the emulator."""

    def __init__(
        self,
        state: DiscordState,
        interactions: Interactions,
        faults: Faults,
        settings: Settings,
        log: RequestLog,
        gateway_url: Callable[[], str],
    ) -> None:
        self.state = state
        self.interactions = interactions
        self.faults = faults
        self.settings = settings
        self.log = log
        self.gateway_url = gateway_url

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self.middleware], client_max_size=64 * 1024 * 1024)
        app.add_routes(self.routes())
        return app

    # ------------------------------------------------------------------ middleware
    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        path = request.path.removeprefix("/api/v10") or "/"
        response: web.StreamResponse
        try:
            if self.settings.rest_latency_ms > 0:
                await asyncio.sleep(self.settings.rest_latency_ms / 1000)
            fault = self.faults.take_rest(path)
            if fault is not None and fault.kind == "rate_limit":
                response = self._rate_limited()
            elif fault is not None:
                response = json_body(
                    {"message": "500: Internal Server Error", "code": 0}, status=500
                )
            elif not path.startswith(PUBLIC_PREFIXES) and not self._authorised(request):
                response = json_body({"message": "401: Unauthorized", "code": 0}, status=401)
            else:
                response = await handler(request)
        except DiscordError as error:
            response = json_body(error.body(), status=error.status)
        except web.HTTPMethodNotAllowed:
            response = json_body({"message": "405: Method Not Allowed", "code": 0}, status=405)
        except web.HTTPNotFound:
            response = json_body({"message": "404: Not Found", "code": 0}, status=404)
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            # A body the emulator cannot read: a 400 (a 500 would make discord.py retry for 25 s).
            log.warning("REST %s %s: unreadable request (%r)", request.method, path, error)
            response = json_body({"message": "400: Bad Request", "code": 0}, status=400)
        self._rate_limit_headers(request, response)
        self.log.add(request.method, path, request.query_string, response.status)
        return response

    def _authorised(self, request: web.Request) -> bool:
        return request.headers.get("Authorization") == f"Bot {self.state.bot_token}"

    def _bucket(self, request: web.Request) -> str:
        route = request.match_info.route
        template = (
            getattr(route.resource, "canonical", request.path) if route.resource else request.path
        )
        return hashlib.sha1(f"{request.method} {template}".encode()).hexdigest()[:16]

    def _rate_limit_headers(self, request: web.Request, response: web.StreamResponse) -> None:
        headers = response.headers
        headers.setdefault("X-RateLimit-Limit", "50")
        headers.setdefault("X-RateLimit-Remaining", "49")
        headers.setdefault("X-RateLimit-Reset", f"{time.time() + 1:.3f}")
        headers.setdefault("X-RateLimit-Reset-After", "1.000")
        headers.setdefault("X-RateLimit-Bucket", self._bucket(request))
        headers["Via"] = "1.1 google"

    def _rate_limited(self) -> web.Response:
        retry_after = 0.1
        return json_body(
            {"message": "You are being rate limited.", "retry_after": retry_after, "global": False},
            status=429,
            headers={
                "Retry-After": "1",
                "X-RateLimit-Limit": "5",
                "X-RateLimit-Remaining": "0",
                "X-RateLimit-Reset": f"{time.time() + retry_after:.3f}",
                "X-RateLimit-Reset-After": f"{retry_after:.3f}",
                "X-RateLimit-Scope": "user",
                "X-RateLimit-Global": "false",
            },
        )

    # ------------------------------------------------------------------ routes
    def routes(self) -> list[web.RouteDef]:
        c = "/channels/{channel_id:\\d+}"
        m = c + "/messages/{message_id:\\d+}"
        g = "/guilds/{guild_id:\\d+}"
        app = "/applications/{app_id:\\d+}"
        hook = "/webhooks/{app_id:\\d+}/{token}"
        return [
            web.get("/users/@me", self.get_me),
            web.get("/users/{user_id:\\d+}", self.get_user),
            web.get("/oauth2/applications/@me", self.get_application),
            web.get("/applications/@me", self.get_application),
            web.get("/gateway", self.get_gateway),
            web.get("/gateway/bot", self.get_gateway),
            # application commands
            web.get(app + "/commands", self.get_commands),
            web.put(app + "/commands", self.put_commands),
            web.post(app + "/commands", self.post_command),
            web.get(app + "/commands/{command_id:\\d+}", self.get_command),
            web.delete(app + "/commands/{command_id:\\d+}", self.delete_command),
            web.get(app + g + "/commands", self.get_commands),
            web.put(app + g + "/commands", self.put_commands),
            web.post(app + g + "/commands", self.post_command),
            web.get(app + g + "/commands/{command_id:\\d+}", self.get_command),
            web.delete(app + g + "/commands/{command_id:\\d+}", self.delete_command),
            # interactions
            web.post("/interactions/{interaction_id}/{token}/callback", self.interaction_callback),
            web.post(hook, self.webhook_execute),
            web.get(hook + "/messages/{message_id}", self.webhook_get_message),
            web.patch(hook + "/messages/{message_id}", self.webhook_edit_message),
            web.delete(hook + "/messages/{message_id}", self.webhook_delete_message),
            # guild
            web.get(g, self.get_guild),
            web.get(g + "/roles", self.get_roles),
            web.get(g + "/channels", self.get_guild_channels),
            web.post(g + "/channels", self.create_channel),
            web.patch(g + "/channels", self.move_channels),
            web.get(g + "/threads/active", self.active_threads),
            web.get(g + "/members", self.list_members),
            web.get(g + "/members/{user_id:\\d+}", self.get_member),
            web.patch(g + "/members/{user_id:\\d+}", self.edit_member),
            web.put(g + "/members/{user_id:\\d+}/roles/{role_id:\\d+}", self.add_member_role),
            web.delete(g + "/members/{user_id:\\d+}/roles/{role_id:\\d+}", self.remove_member_role),
            # channels
            web.get(c, self.get_channel),
            web.patch(c, self.edit_channel),
            web.delete(c, self.delete_channel),
            web.put(c + "/permissions/{target_id:\\d+}", self.put_overwrite),
            web.delete(c + "/permissions/{target_id:\\d+}", self.delete_overwrite),
            web.post(c + "/typing", self.typing),
            web.post(c + "/threads", self.start_thread),
            web.put(c + "/thread-members/{member}", self.thread_join),
            web.delete(c + "/thread-members/{member}", self.thread_join),
            # pins (before the message routes)
            web.get(c + "/messages/pins", self.list_pins),
            web.put(c + "/messages/pins/{message_id:\\d+}", self.pin),
            web.delete(c + "/messages/pins/{message_id:\\d+}", self.unpin),
            web.get(c + "/pins", self.list_pins_legacy),
            web.put(c + "/pins/{message_id:\\d+}", self.pin),
            web.delete(c + "/pins/{message_id:\\d+}", self.unpin),
            # messages
            web.get(c + "/messages", self.history),
            web.post(c + "/messages", self.create_message),
            web.post(c + "/messages/bulk-delete", self.bulk_delete),
            web.get(m, self.get_message),
            web.patch(m, self.edit_message),
            web.delete(m, self.delete_message),
            web.post(m + "/threads", self.start_thread),
            # reactions
            web.put(m + "/reactions/{emoji}/@me", self.add_reaction),
            web.delete(m + "/reactions/{emoji}/@me", self.remove_own_reaction),
            web.delete(m + "/reactions/{emoji}/{user_id:\\d+}", self.remove_user_reaction),
            web.get(m + "/reactions/{emoji}", self.list_reactors),
            web.delete(m + "/reactions/{emoji}", self.clear_emoji),
            web.delete(m + "/reactions", self.clear_reactions),
        ]

    # ------------------------------------------------------------------ helpers
    @property
    def bot_id(self) -> int:
        assert self.state.bot_user is not None
        return self.state.bot_user.id

    def _guild(self, request: web.Request) -> None:
        self.state.require_guild(request.match_info["guild_id"])

    def _scope(self, request: web.Request) -> int | None:
        if request.match_info.get("app_id") != str(self.state.application_id):
            raise DiscordError(404, 10002, "Unknown Application")
        if "guild_id" in request.match_info:
            return self.state.require_guild(request.match_info["guild_id"]).id
        return None

    def _message(self, request: web.Request):
        return self.state.message(
            request.match_info["channel_id"], request.match_info["message_id"]
        )

    def _msg(self, message) -> web.Response:
        return json_body(self.state.message_payload(message))

    # ------------------------------------------------------------------ login
    async def get_me(self, request: web.Request) -> web.Response:
        assert self.state.bot_user is not None
        body = {**self.state.bot_user.payload(), "verified": True, "mfa_enabled": False}
        return json_body({**body, "email": None, "locale": "en-US", "premium_type": 0})

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
        body = _parse_json(await request.read() or b"[]")
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
        if _truthy(request.query.get("with_response")):
            return json_body(answer)
        return no_content()

    async def webhook_execute(self, request: web.Request) -> web.Response:
        body, uploads = await read_body(request)
        message = self.interactions.follow_up(
            request.match_info["app_id"], request.match_info["token"], body, uploads
        )
        if _truthy(request.query.get("wait")):
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

    # ------------------------------------------------------------------ guild
    async def get_guild(self, request: web.Request) -> web.Response:
        self._guild(request)
        body = self.state.guild_payload(for_gateway=False)
        if _truthy(request.query.get("with_counts")):
            count = len(self.state.the_guild.members)
            body.update(approximate_member_count=count, approximate_presence_count=count)
        return json_body(body)

    async def get_roles(self, request: web.Request) -> web.Response:
        self._guild(request)
        return json_body([r.payload() for r in self.state.the_guild.roles.values()])

    async def get_guild_channels(self, request: web.Request) -> web.Response:
        self._guild(request)
        channels = self.state.the_guild.channels.values()
        return json_body([c.payload() for c in channels if not c.is_thread])

    async def create_channel(self, request: web.Request) -> web.Response:
        self._guild(request)
        body, _ = await read_body(request)
        return json_body(self.state.create_channel(body).payload(), status=201)

    async def move_channels(self, request: web.Request) -> web.Response:
        self._guild(request)
        body = _parse_json(await request.read() or b"[]")
        self.state.move_channels(body if isinstance(body, list) else [])
        return no_content()

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
        after = _snowflake_param(request, "after") or 0
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
        if role.id not in member.roles:
            self.state.set_member_roles(member.user.id, [*member.roles, role.id])
        return no_content()

    async def remove_member_role(self, request: web.Request) -> web.Response:
        self._guild(request)
        member = self.state.member(request.match_info["user_id"])
        role = self.state.role(request.match_info["role_id"])
        if role.id in member.roles:
            self.state.set_member_roles(member.user.id, [r for r in member.roles if r != role.id])
        return no_content()

    # ------------------------------------------------------------------ channels
    async def get_channel(self, request: web.Request) -> web.Response:
        return json_body(self.state.channel(request.match_info["channel_id"]).payload())

    async def edit_channel(self, request: web.Request) -> web.Response:
        body, _ = await read_body(request)
        return json_body(self.state.edit_channel(request.match_info["channel_id"], body).payload())

    async def delete_channel(self, request: web.Request) -> web.Response:
        return json_body(self.state.delete_channel(request.match_info["channel_id"]).payload())

    async def put_overwrite(self, request: web.Request) -> web.Response:
        body, _ = await read_body(request)
        info = request.match_info
        self.state.set_overwrite(info["channel_id"], info["target_id"], body)
        return no_content()

    async def delete_overwrite(self, request: web.Request) -> web.Response:
        info = request.match_info
        self.state.delete_overwrite(info["channel_id"], info["target_id"])
        return no_content()

    async def typing(self, request: web.Request) -> web.Response:
        self.state.channel(request.match_info["channel_id"])
        return no_content()

    async def start_thread(self, request: web.Request) -> web.Response:
        body, _ = await read_body(request)
        thread = self.state.start_thread(
            request.match_info["channel_id"],
            body,
            self.bot_id,
            message_id=request.match_info.get("message_id"),
        )
        return json_body(thread.payload(), status=201)

    async def thread_join(self, request: web.Request) -> web.Response:
        self.state.channel(request.match_info["channel_id"])
        return no_content()

    # ------------------------------------------------------------------ messages
    async def history(self, request: web.Request) -> web.Response:
        limit = int(request.query.get("limit") or 50)
        if not 1 <= limit <= limits.MAX_HISTORY_LIMIT:
            raise errors.invalid_form_body(
                {
                    "limit": errors.field_error(
                        "NUMBER_TYPE_MAX", "int value should be less than or equal to 100."
                    )
                }
            )
        messages = self.state.history(
            request.match_info["channel_id"],
            limit=limit,
            before=_snowflake_param(request, "before"),
            after=_snowflake_param(request, "after"),
            around=_snowflake_param(request, "around"),
        )
        return json_body([self.state.message_payload(message) for message in messages])

    async def create_message(self, request: web.Request) -> web.Response:
        body, uploads = await read_body(request)
        message = self.state.create_message(
            request.match_info["channel_id"], self.bot_id, body, uploads
        )
        return self._msg(message)

    async def bulk_delete(self, request: web.Request) -> web.Response:
        body, _ = await read_body(request)
        channel = self.state.channel(request.match_info["channel_id"])
        ids = [int(i) for i in body.get("messages") or []]
        if not 2 <= len(ids) <= 100:
            raise errors.invalid_form_body(
                {
                    "messages": errors.field_error(
                        "BASE_TYPE_BAD_LENGTH", "Must be between 2 and 100 in length."
                    )
                }
            )
        for message_id in ids:
            message = channel.messages.get(message_id)
            if message is not None:
                self.state.delete_message(message)
        return no_content()

    async def get_message(self, request: web.Request) -> web.Response:
        return self._msg(self._message(request))

    async def edit_message(self, request: web.Request) -> web.Response:
        body, uploads = await read_body(request)
        message = self.state.edit_message(
            self._message(request), body, uploads, editor_id=self.bot_id
        )
        return self._msg(message)

    async def delete_message(self, request: web.Request) -> web.Response:
        self.state.delete_message(self._message(request))
        return no_content()

    # ------------------------------------------------------------------ reactions
    async def add_reaction(self, request: web.Request) -> web.Response:
        emoji = parse_emoji(request.match_info["emoji"])
        self.state.add_reaction(self._message(request), emoji, self.bot_id)
        return no_content()

    async def remove_own_reaction(self, request: web.Request) -> web.Response:
        emoji = parse_emoji(request.match_info["emoji"])
        self.state.remove_reaction(self._message(request), emoji, self.bot_id)
        return no_content()

    async def remove_user_reaction(self, request: web.Request) -> web.Response:
        emoji = parse_emoji(request.match_info["emoji"])
        user_id = int(request.match_info["user_id"])
        self.state.remove_reaction(self._message(request), emoji, user_id)
        return no_content()

    async def list_reactors(self, request: web.Request) -> web.Response:
        message = self._message(request)
        reaction = message.reaction(parse_emoji(request.match_info["emoji"]))
        if reaction is None:
            raise DiscordError(404, 10014, "Unknown Emoji")
        limit = int(request.query.get("limit") or 25)
        after = _snowflake_param(request, "after") or 0
        users = sorted(u for u in reaction.user_ids if u > after)[:limit]
        return json_body([self.state.users[u].payload() for u in users if u in self.state.users])

    async def clear_emoji(self, request: web.Request) -> web.Response:
        self.state.clear_reactions(self._message(request), parse_emoji(request.match_info["emoji"]))
        return no_content()

    async def clear_reactions(self, request: web.Request) -> web.Response:
        self.state.clear_reactions(self._message(request))
        return no_content()

    # ------------------------------------------------------------------ pins
    async def pin(self, request: web.Request) -> web.Response:
        self.state.pin(self._message(request), self.bot_id)
        return no_content()

    async def unpin(self, request: web.Request) -> web.Response:
        self.state.unpin(self._message(request))
        return no_content()

    async def list_pins(self, request: web.Request) -> web.Response:
        channel = self.state.channel(request.match_info["channel_id"])
        limit = int(request.query.get("limit") or 50)
        if not 1 <= limit <= 50:
            raise errors.invalid_form_body(
                {
                    "limit": errors.field_error(
                        "NUMBER_TYPE_MAX", "int value should be between 1 and 50"
                    )
                }
            )
        before = request.query.get("before")
        pins = sorted(channel.pins, key=lambda pin: pin[1], reverse=True)
        if before:
            pins = [pin for pin in pins if pin[1] < _parse_time(before)]
        page = pins[:limit]
        items = [
            {"pinned_at": iso(at), "message": self.state.message_payload(channel.messages[mid])}
            for mid, at in page
            if mid in channel.messages
        ]
        return json_body({"items": items, "has_more": len(pins) > limit})

    async def list_pins_legacy(self, request: web.Request) -> web.Response:
        channel = self.state.channel(request.match_info["channel_id"])
        pins = sorted(channel.pins, key=lambda pin: pin[1], reverse=True)
        return json_body(
            [
                self.state.message_payload(channel.messages[mid])
                for mid, _ in pins
                if mid in channel.messages
            ]
        )


def _parse_time(value: str) -> datetime:
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)
    except ValueError:
        raise errors.invalid_form_body(
            {"before": errors.field_error("DATE_TYPE_PARSE", "Could not parse date")}
        ) from None


__all__ = ["RequestLog", "RestApi", "Settings", "emoji_text", "json_body"]
