"""Procedure step 2, Communicate: the comms matrix, status updates, external posts."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cogs._phase import PhaseCog

if TYPE_CHECKING:
    from bot.client import IncidentBot


class Communicate(PhaseCog):
    pass


async def setup(bot: IncidentBot) -> None:
    await bot.add_cog(Communicate(bot))
