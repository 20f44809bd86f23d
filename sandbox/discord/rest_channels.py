"""REST routes of channels: a guild's channel list, creating and moving channels, one channel
(edit, delete, overwrites, typing) and its threads."""

from __future__ import annotations

from aiohttp import web

from . import permissions as perms
from .model import Channel
from .rest_base import (
    RestBase,
    json_body,
    no_content,
    parse_json,
    read_body,
)


class ChannelRoutes(RestBase):
    """``/guilds/{g}/channels`` and ``/channels/{c}`` (threads included)."""

    # ------------------------------------------------------------------ channels
    async def get_guild_channels(self, request: web.Request) -> web.Response:
        self._guild(request)
        channels = self.state.the_guild.channels.values()
        return json_body([c.payload() for c in channels if not c.is_thread])

    async def create_channel(self, request: web.Request) -> web.Response:
        self._guild(request)
        body, _ = await read_body(request)
        parent = self._parent(body.get("parent_id"))
        self._need(perms.MANAGE_CHANNELS, parent)
        self._may_grant(body.get("permission_overwrites") or [], parent)
        return json_body(self.state.create_channel(body).payload(), status=201)

    async def move_channels(self, request: web.Request) -> web.Response:
        self._guild(request)
        body = parse_json(await request.read() or b"[]")
        self._need(perms.MANAGE_CHANNELS)
        self.state.move_channels(body if isinstance(body, list) else [])
        return no_content()

    async def get_channel(self, request: web.Request) -> web.Response:
        return json_body(self.state.channel(request.match_info["channel_id"]).payload())

    async def edit_channel(self, request: web.Request) -> web.Response:
        body, _ = await read_body(request)
        channel = self.state.channel(request.match_info["channel_id"])
        self._need_to_manage(channel)
        if "permission_overwrites" in body:
            self._may_grant(body["permission_overwrites"] or [{}], channel)
        if body.get("parent_id") not in (None, "", 0, "0"):
            self._need(perms.MANAGE_CHANNELS, self._parent(body["parent_id"]))
        return json_body(self.state.edit_channel(request.match_info["channel_id"], body).payload())

    async def delete_channel(self, request: web.Request) -> web.Response:
        self._need_to_manage(self.state.channel(request.match_info["channel_id"]))
        return json_body(self.state.delete_channel(request.match_info["channel_id"]).payload())

    async def put_overwrite(self, request: web.Request) -> web.Response:
        body, _ = await read_body(request)
        info = request.match_info
        self._may_grant([body or {}], self.state.channel(info["channel_id"]))
        self.state.set_overwrite(info["channel_id"], info["target_id"], body)
        return no_content()

    async def delete_overwrite(self, request: web.Request) -> web.Response:
        info = request.match_info
        self._may_grant([{}], self.state.channel(info["channel_id"]))
        self.state.delete_overwrite(info["channel_id"], info["target_id"])
        return no_content()

    async def typing(self, request: web.Request) -> web.Response:
        channel = self.state.channel(request.match_info["channel_id"])
        self._need(perms.VIEW_CHANNEL | perms.SEND_MESSAGES, channel)
        return no_content()

    async def start_thread(self, request: web.Request) -> web.Response:
        body, _ = await read_body(request)
        parent = self.state.channel(request.match_info["channel_id"])
        private = "message_id" not in request.match_info and int(body.get("type") or 12) == 12
        create = perms.CREATE_PRIVATE_THREADS if private else perms.CREATE_PUBLIC_THREADS
        self._need(perms.VIEW_CHANNEL | create, parent)
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

    # ------------------------------------------------------------------ permissions
    def _parent(self, parent_id: object) -> Channel | None:
        if parent_id in (None, "", 0, "0") or not str(parent_id).isdigit():
            return None
        return self.state.the_guild.channels.get(int(str(parent_id)))

    def _need_to_manage(self, channel: Channel) -> None:
        """Editing or deleting: Manage Channels, or Manage Threads for a thread the bot did
        not start."""
        if not channel.is_thread:
            self._need(perms.VIEW_CHANNEL | perms.MANAGE_CHANNELS, channel)
        elif channel.owner_id != self.bot_id:
            self._need(perms.VIEW_CHANNEL | perms.MANAGE_THREADS, channel)
