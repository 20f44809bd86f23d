"""REST routes of messages: history, create, bulk delete, get, edit, delete."""

from __future__ import annotations

from aiohttp import web

from . import errors, limits
from . import permissions as perms
from .model import Channel
from .rest_base import (
    RestBase,
    json_body,
    no_content,
    read_body,
    snowflake_param,
)


class MessageRoutes(RestBase):
    """``/channels/{c}/messages[/{m}]``."""

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
        self._need_to_read(self.state.channel(request.match_info["channel_id"]))
        messages = self.state.history(
            request.match_info["channel_id"],
            limit=limit,
            before=snowflake_param(request, "before"),
            after=snowflake_param(request, "after"),
            around=snowflake_param(request, "around"),
        )
        return json_body([self.state.message_payload(message) for message in messages])

    async def create_message(self, request: web.Request) -> web.Response:
        body, uploads = await read_body(request)
        channel = self.state.channel(request.match_info["channel_id"])
        send = perms.SEND_MESSAGES_IN_THREADS if channel.is_thread else perms.SEND_MESSAGES
        needed = perms.VIEW_CHANNEL | send
        if body.get("embeds"):
            needed |= perms.EMBED_LINKS
        if uploads or body.get("attachments"):
            needed |= perms.ATTACH_FILES
        if body.get("message_reference"):
            needed |= perms.READ_MESSAGE_HISTORY
        self._need(needed, channel)
        message = self.state.create_message(
            request.match_info["channel_id"], self.bot_id, body, uploads
        )
        return self._msg(message)

    async def bulk_delete(self, request: web.Request) -> web.Response:
        body, _ = await read_body(request)
        channel = self.state.channel(request.match_info["channel_id"])
        self._need(perms.VIEW_CHANNEL | perms.MANAGE_MESSAGES, channel)
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
        self._need_to_read(self.state.channel(request.match_info["channel_id"]))
        return self._msg(self._message(request))

    async def edit_message(self, request: web.Request) -> web.Response:
        body, uploads = await read_body(request)
        if uploads:
            self._need(perms.ATTACH_FILES, self.state.channel(request.match_info["channel_id"]))
        message = self.state.edit_message(
            self._message(request), body, uploads, editor_id=self.bot_id
        )
        return self._msg(message)

    async def delete_message(self, request: web.Request) -> web.Response:
        message = self._message(request)
        if message.author_id != self.bot_id:
            self._need(
                perms.VIEW_CHANNEL | perms.MANAGE_MESSAGES, self.state.channel(message.channel_id)
            )
        self.state.delete_message(message)
        return no_content()

    def _need_to_read(self, channel: Channel) -> None:
        self._need(perms.VIEW_CHANNEL | perms.READ_MESSAGE_HISTORY, channel)
