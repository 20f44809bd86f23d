"""A refused reaction (a ✅ by someone who may not approve, or acknowledge): the reaction
is removed, and the person is told why once per message, by name and without a ping.
Who was told is a row, so toggling the reaction or restarting the bot tells nobody twice.
"""

from __future__ import annotations

import logging

from bot.communicate.base import Deps
from bot.core.permissions import record_refusal
from bot.errors import ExternalServiceError, UserError
from storage import communicate as queries

log = logging.getLogger(__name__)


def refusal_text(name: str, emoji: str, reason: str) -> str:
    """What the channel reads: the person by name (no mention, so no ping), the reason,
    and that their reaction was taken off."""
    return f"**{name}**: {reason} (Your {emoji} was removed.)"[:2000]


class ReactionRefusals:
    def __init__(self, deps: Deps) -> None:
        self.d = deps

    async def refuse(
        self, channel_id: str, message_id: str, user_id: str, emoji: str, reason: str
    ) -> bool:
        """Remove the reaction and tell the person once; True if they were told now.
        Every refused reaction is recorded (the ``audit`` table), told or not."""
        await record_refusal(
            self.d.sessions, self.d.clock, user_id, f"{emoji} reaction", reason, channel_id
        )
        try:
            await self.d.discord.remove_reaction(channel_id, message_id, emoji, user_id)
        except (ExternalServiceError, UserError) as error:
            log.warning("could not remove a refused %s on %s: %s", emoji, message_id, error)
        async with self.d.sessions.begin() as session:
            first = await queries.note_refusal(session, message_id, user_id, self.d.clock.now())
        if not first:
            return False
        name = self.d.discord.plain_name(user_id)
        try:
            await self.d.discord.send(channel_id, content=refusal_text(name, emoji, reason))
        except (ExternalServiceError, UserError) as error:
            log.warning("could not tell %s why their %s was refused: %s", user_id, emoji, error)
        return True
