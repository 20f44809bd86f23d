"""``/postmortem …``, ``/timeline …``, the message command "Add to timeline", and
``/incident postmortem``: parse, call one function of bot/postmortem/, render."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands

from bot.client import answer_with
from bot.core.permissions import Actor
from bot.errors import WrongChannel
from bot.postmortem.config import MILESTONES
from bot.postmortem.notes import render_written
from bot.postmortem.publishing import render_publication
from bot.postmortem.service import render_status
from bot.postmortem.status import render_postmortem_status
from cogs._phase import INCIDENT, PhaseCog

if TYPE_CHECKING:
    from bot.client import IncidentBot
    from storage.models import Incident

KINDS = [app_commands.Choice(name=label, value=kind) for kind, label in MILESTONES.items()]


def _channel_of(interaction: discord.Interaction) -> str:
    """The incident channel the command runs in (a thread's parent)."""
    channel = interaction.channel
    if isinstance(channel, discord.Thread) and channel.parent_id is not None:
        return str(channel.parent_id)
    return str(interaction.channel_id)


def _text(content: str) -> dict[str, Any]:
    return {"content": content}


class Postmortem(PhaseCog):
    postmortem_commands = app_commands.Group(
        name="postmortem", description="Write, draft and publish the postmortem", guild_only=True
    )
    timeline_commands = app_commands.Group(
        name="timeline", description="The incident's timeline", guild_only=True
    )

    def __init__(self, bot: IncidentBot) -> None:
        super().__init__(bot)
        self._add_to_timeline = app_commands.ContextMenu(
            name="Add to timeline", callback=self.add_to_timeline
        )
        self._add_to_timeline.guild_only = True

    async def cog_load(self) -> None:
        await super().cog_load()
        self.bot.tree.add_command(self._add_to_timeline)

    async def cog_unload(self) -> None:
        self.bot.tree.remove_command(
            self._add_to_timeline.name, type=discord.AppCommandType.message
        )
        await super().cog_unload()

    async def _incident(self, interaction: discord.Interaction) -> Incident:
        return await self.services.incidents.in_channel(_channel_of(interaction))

    def _actor(self, interaction: discord.Interaction) -> Actor:
        user_id = str(interaction.user.id)
        return Actor(user_id, self.services.discord.role_names(user_id))

    # -- /incident postmortem (the rule) -----------------------------------------------------
    @app_commands.command(
        name="postmortem",
        description="Is a postmortem required for this incident, and by when",
        extras=INCIDENT,
    )
    async def postmortem(self, interaction: discord.Interaction) -> None:
        status = await self.services.postmortem.status(str(interaction.channel_id))
        await interaction.response.send_message(render_status(status), ephemeral=True)

    # -- what people write ---------------------------------------------------------------------
    @postmortem_commands.command(
        name="why", description="Add the next why of the 5 whys (or replace one)"
    )
    @app_commands.describe(
        text="Why did it happen? Because …", replace="The number of the why to rewrite"
    )
    async def why(
        self,
        interaction: discord.Interaction,
        text: app_commands.Range[str, 1, 1000],
        replace: app_commands.Range[int, 1, 20] | None = None,
    ) -> None:
        incident = await self._incident(interaction)
        written = await self.services.postmortem.notes.why(incident.id, text, replace)
        await interaction.response.send_message(render_written(written), ephemeral=True)

    @postmortem_commands.command(name="impact", description="What users experienced")
    async def impact(
        self, interaction: discord.Interaction, text: app_commands.Range[str, 1, 1000]
    ) -> None:
        incident = await self._incident(interaction)
        written = await self.services.postmortem.notes.impact(incident.id, text)
        await interaction.response.send_message(render_written(written), ephemeral=True)

    @postmortem_commands.command(
        name="lesson", description="A lesson learned: what we'll do differently"
    )
    async def lesson(
        self, interaction: discord.Interaction, text: app_commands.Range[str, 1, 1000]
    ) -> None:
        incident = await self._incident(interaction)
        written = await self.services.postmortem.notes.lesson(incident.id, text)
        await interaction.response.send_message(render_written(written), ephemeral=True)

    # -- the document ------------------------------------------------------------------------
    @postmortem_commands.command(
        name="draft", description="Draft the postmortem and attach it here"
    )
    async def draft(self, interaction: discord.Interaction) -> None:
        incident = await self._incident(interaction)
        await answer_with(
            interaction,
            self.services.postmortem.attach_draft(incident, str(interaction.user.id)),
            _text,
            ephemeral=True,
        )

    @postmortem_commands.command(
        name="transcript", description="Attach the channel's full transcript here"
    )
    async def transcript(self, interaction: discord.Interaction) -> None:
        incident = await self._incident(interaction)
        await answer_with(
            interaction, self.services.postmortem.attach_transcript(incident), _text, ephemeral=True
        )

    @postmortem_commands.command(
        name="status", description="Is one required, by when, and what is still empty"
    )
    async def status(self, interaction: discord.Interaction) -> None:
        incident = await self._incident(interaction)
        report = await self.services.postmortem.report(incident)
        await interaction.response.send_message(render_postmortem_status(report), ephemeral=True)

    @postmortem_commands.command(
        name="publish", description="Commit the postmortem to incidents/ in the ops repository"
    )
    async def publish(self, interaction: discord.Interaction) -> None:
        incident = await self._incident(interaction)
        actor = self._actor(interaction)
        self.services.postmortem.publishing.check_allowed(incident, actor)  # before any work
        await answer_with(
            interaction,
            self.services.postmortem.publish(incident, actor),
            lambda done: _text(render_publication(done)),
        )

    # -- the timeline ------------------------------------------------------------------------
    @timeline_commands.command(name="add", description="Add an entry to the timeline, now")
    @app_commands.choices(kind=KINDS)
    async def timeline_add(
        self,
        interaction: discord.Interaction,
        kind: app_commands.Choice[str],
        text: app_commands.Range[str, 1, 1500],
    ) -> None:
        line = await self.services.postmortem.timeline.add(
            interaction.channel,
            interaction.channel_id or 0,
            str(interaction.user.id),
            kind.value,
            text,
        )
        await interaction.response.send_message(
            f"Added to the timeline: {line.label}.", ephemeral=True
        )

    @timeline_commands.command(name="show", description="The incident's timeline so far")
    async def timeline_show(self, interaction: discord.Interaction) -> None:
        text = await self.services.postmortem.timeline.show(
            interaction.channel, interaction.channel_id or 0
        )
        await interaction.response.send_message(
            text, ephemeral=True, allowed_mentions=discord.AllowedMentions.none()
        )

    async def add_to_timeline(
        self, interaction: discord.Interaction, message: discord.Message
    ) -> None:
        if interaction.guild is None:
            raise WrongChannel("The timeline belongs to an incident: use this in its channel.")
        line = await self.services.postmortem.timeline.add_message(
            message.channel, message.channel.id, message.id, str(interaction.user.id)
        )
        await interaction.response.send_message(
            f"Added to the timeline as a note, at the message's time: {line.label}.", ephemeral=True
        )
