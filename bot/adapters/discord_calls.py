"""Every call to Discord, through one door: the lock rule checked first, and Discord's
refusals turned into words the person can act on (``UserError``) or an outage
(``ExternalServiceError``)."""

from __future__ import annotations

from collections.abc import Coroutine
from typing import Any, TypeVar

import aiohttp
import discord

from bot.adapters.discord_permissions import Place, refusal
from bot.core.locks import LockHeldAcrossCall, check_not_holding
from bot.errors import ExternalServiceError, UserError

# Discord's documented errors the person can act on.
_GUILD_FULL = 30013
# A full category has no code of its own: Discord answers 50035 (Invalid Form Body) with
# the field code CHANNEL_PARENT_MAX_CHANNELS under parent_id. discord.py keeps that tree in
# HTTPException._errors; its `text` holds only the messages.
_INVALID_FORM_BODY = 50035
_CATEGORY_FULL = "CHANNEL_PARENT_MAX_CHANNELS"
T = TypeVar("T")


async def call(awaitable: Coroutine[Any, Any, T], where: Place | None = None, *needs: str) -> T:
    """``where`` and ``needs``: the permissions the call takes there, to name the one
    lacking when Discord answers 403."""
    # An incident lock is never held across a Discord call: a command waiting on that
    # lock would miss Discord's 3-second deadline while this call is retried.
    try:
        check_not_holding("a Discord call")
    except LockHeldAcrossCall:
        awaitable.close()
        raise
    try:
        return await awaitable
    except discord.Forbidden as error:
        raise refusal(where, needs, error) from error
    except discord.HTTPException as error:
        if error.code == _GUILD_FULL:
            raise UserError(
                "Discord refused to create the channel: the server has 500 channels, its maximum. "
                "Archive or delete old incident channels, then declare again."
            ) from error
        if _is_category_full(error):
            raise UserError(
                "Discord refused: the incidents category is full (50 channels)."
            ) from error
        raise ExternalServiceError(f"Discord answered {error.status}: {error.text}") from error
    except (OSError, aiohttp.ClientError, TimeoutError) as error:
        # discord.py passes connection resets and timeouts through as they are.
        raise ExternalServiceError(
            f"Discord could not be reached ({type(error).__name__})"
        ) from error


def _is_category_full(error: discord.HTTPException) -> bool:
    if error.code != _INVALID_FORM_BODY:
        return False
    tree = getattr(error, "_errors", None) or {}
    parent = tree.get("parent_id") if isinstance(tree, dict) else None
    leaves = parent.get("_errors") if isinstance(parent, dict) else None
    return any(
        isinstance(leaf, dict) and leaf.get("code") == _CATEGORY_FULL for leaf in leaves or []
    )
