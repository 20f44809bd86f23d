"""REST routes of reactions and pins."""

from __future__ import annotations

from datetime import UTC, datetime

from aiohttp import web

from . import errors
from . import permissions as perms
from .errors import DiscordError
from .model import Message, iso, parse_emoji
from .rest_base import (
    RestBase,
    json_body,
    no_content,
    snowflake_param,
)


class ReactionPinRoutes(RestBase):
    """``…/reactions…`` and ``…/pins…`` (current and legacy pin routes)."""

    # ------------------------------------------------------------------ reactions
    async def add_reaction(self, request: web.Request) -> web.Response:
        emoji = parse_emoji(request.match_info["emoji"])
        message = self._message(request)
        needed = perms.VIEW_CHANNEL | perms.READ_MESSAGE_HISTORY
        if message.reaction(emoji) is None:
            needed |= perms.ADD_REACTIONS  # adding to an existing reaction needs no more
        self._need_in(message, needed)
        self.state.add_reaction(message, emoji, self.bot_id)
        return no_content()

    async def remove_own_reaction(self, request: web.Request) -> web.Response:
        emoji = parse_emoji(request.match_info["emoji"])
        self.state.remove_reaction(self._message(request), emoji, self.bot_id)
        return no_content()

    async def remove_user_reaction(self, request: web.Request) -> web.Response:
        emoji = parse_emoji(request.match_info["emoji"])
        user_id = int(request.match_info["user_id"])
        message = self._message(request)
        if user_id != self.bot_id:
            self._need_in(message, perms.VIEW_CHANNEL | perms.MANAGE_MESSAGES)
        self.state.remove_reaction(message, emoji, user_id)
        return no_content()

    async def list_reactors(self, request: web.Request) -> web.Response:
        message = self._message(request)
        reaction = message.reaction(parse_emoji(request.match_info["emoji"]))
        if reaction is None:
            raise DiscordError(404, 10014, "Unknown Emoji")
        limit = int(request.query.get("limit") or 25)
        after = snowflake_param(request, "after") or 0
        users = sorted(u for u in reaction.user_ids if u > after)[:limit]
        return json_body([self.state.users[u].payload() for u in users if u in self.state.users])

    async def clear_emoji(self, request: web.Request) -> web.Response:
        message = self._message(request)
        self._need_in(message, perms.VIEW_CHANNEL | perms.MANAGE_MESSAGES)
        self.state.clear_reactions(message, parse_emoji(request.match_info["emoji"]))
        return no_content()

    async def clear_reactions(self, request: web.Request) -> web.Response:
        message = self._message(request)
        self._need_in(message, perms.VIEW_CHANNEL | perms.MANAGE_MESSAGES)
        self.state.clear_reactions(message)
        return no_content()

    # ------------------------------------------------------------------ pins
    async def pin(self, request: web.Request) -> web.Response:
        message = self._message(request)
        self._need_in(message, perms.VIEW_CHANNEL | perms.PIN_MESSAGES)
        self.state.pin(message, self.bot_id)
        return no_content()

    async def unpin(self, request: web.Request) -> web.Response:
        message = self._message(request)
        self._need_in(message, perms.VIEW_CHANNEL | perms.PIN_MESSAGES)
        self.state.unpin(message)
        return no_content()

    async def list_pins(self, request: web.Request) -> web.Response:
        channel = self.state.channel(request.match_info["channel_id"])
        self._need(perms.VIEW_CHANNEL | perms.READ_MESSAGE_HISTORY, channel)
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
        self._need(perms.VIEW_CHANNEL | perms.READ_MESSAGE_HISTORY, channel)
        pins = sorted(channel.pins, key=lambda pin: pin[1], reverse=True)
        return json_body(
            [
                self.state.message_payload(channel.messages[mid])
                for mid, _ in pins
                if mid in channel.messages
            ]
        )

    def _need_in(self, message: Message, needed: int) -> None:
        self._need(needed, self.state.channel(message.channel_id))


def _parse_time(value: str) -> datetime:
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)
    except ValueError:
        raise errors.invalid_form_body(
            {"before": errors.field_error("DATE_TYPE_PARSE", "Could not parse date")}
        ) from None
