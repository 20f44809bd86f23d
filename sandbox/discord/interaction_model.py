"""An interaction's record (what the world sent, what the bot answered), the interaction and
callback types, and the control API's error for a request it cannot turn into one."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

from .model import EPHEMERAL, Message

CALLBACK_DEADLINE_S = 3.0
TOKEN_LIFETIME_S = 15 * 60
ATTACHMENT_SIZE_LIMIT = 10 * 1024 * 1024

PING, APPLICATION_COMMAND, MESSAGE_COMPONENT, AUTOCOMPLETE, MODAL_SUBMIT = 1, 2, 3, 4, 5
PONG, CHANNEL_MESSAGE, DEFERRED_CHANNEL_MESSAGE, DEFERRED_UPDATE, UPDATE_MESSAGE = 1, 4, 5, 6, 7
AUTOCOMPLETE_RESULT, MODAL = 8, 9


class ControlError(Exception):
    """A bad control-API request: answered ``{"error": message}`` with ``status``."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass
class Interaction:
    id: int
    token: str
    type: int
    user_id: int
    channel_id: int
    payload: dict[str, Any]
    created: float = field(default_factory=time.monotonic)
    ack_type: int | None = None
    acked_at: float = 0.0
    original_message_id: int | None = None
    component_message_id: int | None = None
    message_ids: set[int] = field(default_factory=set)
    responses: list[dict[str, Any]] = field(default_factory=list)
    modal: dict[str, Any] | None = None
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    def record(self, response: dict[str, Any]) -> None:
        self.responses.append(response)
        self.changed.set()

    def answered(self) -> bool:
        """The bot's answer is complete: a reply, or a defer followed by something."""
        if not self.responses:
            return False
        if self.responses[0]["type"] in (DEFERRED_CHANNEL_MESSAGE, DEFERRED_UPDATE):
            return len(self.responses) >= 2
        return True


def response_view(response_type: int, source: str, message: Message | None) -> dict[str, Any]:
    view: dict[str, Any] = {"type": response_type, "source": source, "content": None, "embeds": []}
    view["ephemeral"] = bool(message and message.flags & EPHEMERAL)
    if message is not None:
        view.update(
            content=message.content,
            embeds=[dict(e) for e in message.embeds],
            components=list(message.components),
            message_id=str(message.id),
        )
    return view
