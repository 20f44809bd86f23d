"""REST routes of channels: a guild's channel list, creating and moving channels, one channel
(edit, delete, overwrites, typing) and its threads."""

from __future__ import annotations

from aiohttp import web

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
        return json_body(self.state.create_channel(body).payload(), status=201)

    async def move_channels(self, request: web.Request) -> web.Response:
        self._guild(request)
        body = parse_json(await request.read() or b"[]")
        self.state.move_channels(body if isinstance(body, list) else [])
        return no_content()

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
