"""What every part of the control API shares: the JSON views of Discord objects, reading a
request's body and finding the user, channel and message it names.

The routes themselves live in sandbox/control.py (reads, interactions),
sandbox/control_members.py (members acting) and sandbox/control_faults.py (faults, holds,
settings, alerts).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web

from .discord.interactions import ControlError, Interaction
from .discord.model import Channel, Message, Role, User, emoji_text, iso

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


def options_of(body: dict[str, Any]) -> dict[str, Any]:
    options = body.get("options") or {}
    if not isinstance(options, dict):
        raise ControlError(400, "options must be an object {name: value}")
    return options


def bitfield(value: Any, name: str) -> int:
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


class ControlBase:
    def __init__(self, world: World) -> None:
        self.world = world
        self.discord = world.discord
        self.state = world.discord.state

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
