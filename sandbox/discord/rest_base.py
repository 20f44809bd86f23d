"""What every REST route shares: JSON answers and bodies, query parameters, and the lookups
of the objects a route names (guild, application scope, message)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web

from . import errors
from . import permissions as perms
from .errors import DiscordError
from .model import Channel, Message
from .state import Upload

if TYPE_CHECKING:
    from .interactions import Interactions
    from .state import DiscordState

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


async def read_body(request: web.Request) -> tuple[dict[str, Any], list[Upload]]:
    """A JSON body, or a multipart body with ``payload_json`` and ``files[n]`` parts."""
    if request.content_type.startswith("multipart/"):
        payload: dict[str, Any] = {}
        uploads: dict[int, Upload] = {}
        reader = await request.multipart()
        async for part in reader:
            name = getattr(part, "name", None)
            if name == "payload_json":
                payload = parse_json(await part.read())
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
    body = parse_json(raw)
    return body, []


def parse_json(raw: bytes | bytearray) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        raise DiscordError(400, 50109, "The request body contains invalid JSON.") from None


def snowflake_param(request: web.Request, name: str) -> int | None:
    value = request.query.get(name)
    if value is None:
        return None
    if not value.isdigit():
        raise errors.invalid_form_body(
            {name: errors.field_error("NUMBER_TYPE_COERCE", f'Value "{value}" is not snowflake.')}
        )
    return int(value)


def truthy(value: str | None) -> bool:
    return (value or "").lower() in ("1", "true", "yes")


class RestBase:
    """The state every route reads, and its lookups; the routes are mixins on top of this."""

    state: DiscordState
    interactions: Interactions
    gateway_url: Callable[[], str]

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

    def _message(self, request: web.Request) -> Message:
        return self.state.message(
            request.match_info["channel_id"], request.match_info["message_id"]
        )

    def _msg(self, message: Message) -> web.Response:
        return json_body(self.state.message_payload(message))

    # ------------------------------------------------------------------ permissions
    def _need(self, needed: int, channel: Channel | None = None) -> int:
        """403 50013 unless the bot holds ``needed`` (in ``channel``); what it holds there."""
        return self.state.require_permissions(self.bot_id, needed, channel)

    def _may_grant(self, overwrites: list[dict[str, Any]], channel: Channel | None) -> None:
        """Overwrites need Manage Roles, and allow or deny only what the bot holds (in the
        guild, or in the channel's parent category)."""
        if not overwrites:
            return
        where = channel
        if channel is not None and channel.parent_id is not None:
            where = self.state.the_guild.channels.get(channel.parent_id, channel)
        held = self._need(perms.MANAGE_ROLES, where)
        if channel is not None and held != perms.ALL_PERMISSIONS:
            own = next(
                (o for o in channel.permission_overwrites if o["id"] == str(self.bot_id)), None
            )
            if own is not None and int(own["allow"]) & perms.MANAGE_ROLES:
                return  # a Manage Roles overwrite of its own lets the bot grant anything here
        for overwrite in overwrites:
            wanted = int(overwrite.get("allow") or 0) | int(overwrite.get("deny") or 0)
            perms.require(held, wanted)
