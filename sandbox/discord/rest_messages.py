"""REST routes of messages: history, create, bulk delete, get, edit, delete."""

from __future__ import annotations

from aiohttp import web

from . import errors, limits
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
