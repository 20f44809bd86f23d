"""A persistent button that names one row by id: the base of the cogs' buttons.

Its ``custom_id`` carries the id (``incident:ack:12``), so discord.py routes a press to
it after a restart (``bot.add_dynamic_items``). A subclass gives its ``template`` (a
regex with an ``id`` group), ``custom_id_of``, its label and style, the one domain call
a press makes (``press``) and how its result is answered (``answer``); the press is
answered in time (``answer_with``) and an error told as every command tells one.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, ClassVar, Self

import discord

from bot.client import answer_with

if TYPE_CHECKING:
    from collections.abc import Awaitable

    from bot.client import IncidentBot


class RowButton(discord.ui.DynamicItem[discord.ui.Button], template=r"(?!)"):
    """Never registered itself (its template matches nothing): subclass it."""

    label: ClassVar[str]
    style: ClassVar[discord.ButtonStyle] = discord.ButtonStyle.primary

    def __init__(self, row_id: int) -> None:
        super().__init__(
            discord.ui.Button(
                label=self.label, style=self.style, custom_id=self.custom_id_of(row_id)
            )
        )
        self.row_id = row_id

    @staticmethod
    def custom_id_of(row_id: int) -> str:
        raise NotImplementedError

    def press(self, bot: IncidentBot, user_id: str) -> Awaitable[Any]:
        raise NotImplementedError

    def answer(self, result: Any) -> dict[str, Any]:
        raise NotImplementedError

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str]
    ) -> Self:
        return cls(int(match["id"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        bot: IncidentBot = interaction.client  # type: ignore[assignment]
        try:
            await answer_with(interaction, self.press(bot, str(interaction.user.id)), self.answer)
        except Exception as error:
            await bot.report_error(interaction, error)
