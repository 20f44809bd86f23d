"""An action item refused before anything is written: an owner who left the guild, a bot,
an empty or overlong action, a bad due date (no database is touched: it is None here)."""

from __future__ import annotations

from datetime import date
from types import SimpleNamespace
from typing import Any

import pytest

from bot.core.clock import ManualClock
from bot.core.locks import IncidentLocks
from bot.errors import UserError
from bot.follow_up.due import BadDueDate
from bot.follow_up.items import ActionItems


class Out:
    def __init__(self, members: dict[str, Any]) -> None:
        self.members = members

    def member(self, user_id: str) -> Any:
        return self.members.get(user_id)


def items(members: dict[str, Any]) -> ActionItems:
    return ActionItems(
        None,  # type: ignore[arg-type]  (a refusal never opens a session)
        Out(members),  # type: ignore[arg-type]
        ManualClock(),
        IncidentLocks(),
        lambda: date(2026, 3, 18),
        lambda incident: "x",
        None,  # type: ignore[arg-type]
    )


INCIDENT: Any = SimpleNamespace(id=1)
BOB = SimpleNamespace(bot=False, display_name="Bob")


async def test_an_owner_who_left_the_guild_is_refused():
    with pytest.raises(UserError) as refused:
        await items({}).add(INCIDENT, "1", "42", "Add an alert", "+3d")
    assert str(refused.value).startswith(
        "<@42> is not a member of this server (they may have left)"
    )


async def test_a_bot_cannot_own_an_item():
    robot = SimpleNamespace(bot=True, display_name="Bot")
    with pytest.raises(UserError, match="A bot cannot own an action item"):
        await items({"7": robot}).add(INCIDENT, "1", "7", "Add an alert", "+3d")


async def test_an_empty_or_overlong_action_and_a_past_date_are_refused():
    with pytest.raises(UserError, match="`action:` is empty"):
        await items({"2": BOB}).add(INCIDENT, "1", "2", "   ", "+3d")
    with pytest.raises(UserError, match="under 300 characters"):
        await items({"2": BOB}).add(INCIDENT, "1", "2", "x" * 301, "+3d")
    with pytest.raises(BadDueDate, match="already past"):
        await items({"2": BOB}).add(INCIDENT, "1", "2", "Add an alert", "2026-03-01")
