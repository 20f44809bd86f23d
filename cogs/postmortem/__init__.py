"""Procedure step 4, Postmortem (the rules and services: bot/postmortem/).

``listeners.py`` keeps the transcript and the reaction-marked timeline; ``commands.py``
holds ``/postmortem …``, ``/timeline …``, "Add to timeline" and ``/incident postmortem``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from cogs.postmortem.commands import Postmortem
from cogs.postmortem.listeners import Transcript

if TYPE_CHECKING:
    from bot.client import IncidentBot


async def setup(bot: IncidentBot) -> None:
    await bot.add_cog(Transcript(bot))
    await bot.add_cog(Postmortem(bot))
