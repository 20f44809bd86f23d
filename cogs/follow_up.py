"""Procedure step 5, Follow-up: ``/incident follow-up`` (the checklist) and ``/followup
add|done|list`` (action items). Parse, call one function of bot/follow_up/, render."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands

from bot.client import answer_with
from bot.core.durations import parse_duration
from bot.core.permissions import Actor
from bot.errors import UserError
from bot.follow_up.closeout import Closed
from bot.follow_up.items import Changed, item_line
from bot.follow_up.rules import render_checklist
from cogs._phase import INCIDENT, PhaseCog

if TYPE_CHECKING:
    from bot.client import IncidentBot


def _quiet(content: str) -> dict[str, Any]:
    return {"content": content, "allowed_mentions": discord.AllowedMentions.none()}


class CheckButton(
    discord.ui.DynamicItem[discord.ui.Button],
    template=r"followup:check:(?P<id>\d+):(?P<answer>[a-z-]+)",
):
    """A close-out question's answer (runbooks updated / response was clear / alert rules
    updated); survives restarts (routed by custom_id)."""

    def __init__(self, incident_id: int, answer: str) -> None:
        custom_id = f"followup:check:{incident_id}:{answer}"
        super().__init__(discord.ui.Button(label=answer, custom_id=custom_id))
        self.incident_id, self.answer = incident_id, answer

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str]
    ) -> CheckButton:
        return cls(int(match["id"]), match["answer"])

    async def callback(self, interaction: discord.Interaction) -> None:
        bot: IncidentBot = interaction.client  # type: ignore[assignment]
        user_id = str(interaction.user.id)
        actor = Actor(user_id, bot.services.discord.role_names(user_id))
        try:
            await answer_with(
                interaction,
                bot.services.follow_up.closeout.answer(self.incident_id, self.answer, actor),
                _quiet,
            )
        except Exception as error:
            await bot.report_error(interaction, error)


class FollowUp(PhaseCog):
    async def cog_load(self) -> None:
        await super().cog_load()
        self.bot.add_dynamic_items(CheckButton)
        follow_up = self.services.follow_up
        for arm in (follow_up.reminders.arm_digest, follow_up.archive.arm):
            if arm not in self.bot.startup_hooks:
                self.bot.startup_hooks.append(arm)

    async def cog_unload(self) -> None:
        self.bot.remove_dynamic_items(CheckButton)
        await super().cog_unload()

    @app_commands.command(
        name="close",
        description="Close a resolved incident once its follow-up checklist is done",
        extras=INCIDENT,
    )
    @app_commands.describe(reason="incident-admin only: close with items missing, saying why")
    async def close(
        self,
        interaction: discord.Interaction,
        reason: app_commands.Range[str, 1, 500] | None = None,
    ) -> None:
        incident = await self.services.incidents.in_channel(str(interaction.channel_id))
        user_id = str(interaction.user.id)
        actor = Actor(user_id, self.services.discord.role_names(user_id))

        def render(done: Closed) -> dict[str, Any]:
            text = f"🔒 Closed by <@{user_id}>."
            if done.overridden:
                text += " Closed by override, with items missing (recorded): " + "; ".join(
                    done.overridden
                )
            return _quiet(text + (f" {done.archive_note}" if done.archive_note else ""))

        await answer_with(
            interaction, self.services.follow_up.closeout.close(incident, actor, reason), render
        )

    @app_commands.command(
        name="stats",
        description="Incidents, response times and follow-up over a period",
        extras=INCIDENT,
    )
    @app_commands.describe(period="How far back: 7d, 30d, 12h, 2w… (default 30d)")
    async def stats(
        self, interaction: discord.Interaction, period: app_commands.Range[str, 1, 20] = "30d"
    ) -> None:
        try:
            span = parse_duration(period.strip())
        except ValueError:
            raise UserError(
                f"I can't read `{period.replace('`', '')[:20]}` as a period: use a duration such "
                "as `7d`, `30d`, `12h` or `2w`."
            ) from None
        if span <= timedelta(0):
            raise UserError("The period must be longer than zero, such as `7d`.")
        stats = await self.services.follow_up.stats.stats(span)
        await interaction.response.send_message(**_quiet(stats.render()), ephemeral=True)

    followup = app_commands.Group(
        name="followup", description="The incident's action items", guild_only=True
    )

    @app_commands.command(
        name="follow-up", description="The procedure's follow-up checklist", extras=INCIDENT
    )
    async def follow_up(self, interaction: discord.Interaction) -> None:
        items = await self.services.follow_up.checklist(str(interaction.channel_id))
        await interaction.response.send_message(render_checklist(items), ephemeral=True)

    @followup.command(name="add", description="Add an action item to this incident")
    @app_commands.describe(
        action="What will be done",
        owner="Who does it (reminded before the due date)",
        due="A date (2026-03-20), +3d, +2w, tomorrow, friday, next friday",
    )
    async def add(
        self,
        interaction: discord.Interaction,
        action: app_commands.Range[str, 1, 300],
        owner: discord.User,
        due: app_commands.Range[str, 1, 40],
    ) -> None:
        follow_up = self.services.follow_up
        incident = await self.services.incidents.in_channel(str(interaction.channel_id))

        def render(done: Changed) -> dict[str, Any]:
            line = item_line(done.item, follow_up.today())
            return _quiet(f"Added {line}.{done.tracker.note()}")

        await answer_with(
            interaction,
            follow_up.items.add(incident, str(interaction.user.id), str(owner.id), action, due),
            render,
        )

    @followup.command(name="done", description="Mark an action item done")
    @app_commands.describe(id="The item's number (`/followup list` shows it)")
    async def done(self, interaction: discord.Interaction, id: app_commands.Range[int, 1]) -> None:
        follow_up = self.services.follow_up

        def render(done: Changed) -> dict[str, Any]:
            line = item_line(done.item, follow_up.today())
            return _quiet(f"Done: {line}.{done.tracker.note()}")

        await answer_with(interaction, follow_up.items.done(id, str(interaction.user.id)), render)

    @followup.command(name="list", description="This incident's action items (all: every open one)")
    @app_commands.describe(all="Every open incident's open items, not only this incident's")
    async def list_items(self, interaction: discord.Interaction, all: bool = False) -> None:
        follow_up = self.services.follow_up
        incident = None
        if not all:
            incident = await self.services.incidents.in_channel(str(interaction.channel_id))
        await interaction.response.send_message(
            **_quiet(await follow_up.items.listing(incident)), ephemeral=True
        )


async def setup(bot: IncidentBot) -> None:
    await bot.add_cog(FollowUp(bot))
