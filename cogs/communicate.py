"""Procedure step 2, Communicate: the comms matrix, status updates, external posts."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.client import answer_with
from bot.communicate.approvals import Approval
from bot.communicate.rules import APPROVE_EMOJI
from bot.communicate.updates import UpdatePosted
from cogs._phase import INCIDENT, PhaseCog

if TYPE_CHECKING:
    from bot.client import IncidentBot
    from bot.communicate import CommsService


def _comms(bot: IncidentBot) -> CommsService:
    comms = bot.services.comms
    if comms is None:
        raise RuntimeError("the comms service is built with the others in build_services")
    return comms


def _approval_answer(approval: Approval, user_id: int, via: str) -> dict:
    post = approval.post
    if approval.approved_now:
        return {
            "content": f"{APPROVE_EMOJI} <@{user_id}> approved the post to X ({via}); it goes out now."
        }
    if post.state == "posted":
        return {"content": f"Already posted: {post.url}. Nothing more to do."}
    return {
        "content": f"Already approved by <@{post.approved_by}>; it is on its way and goes out once."
    }


def _update_answer(result: UpdatePosted) -> dict:
    places = result.places
    where = places[0] if len(places) == 1 else ", ".join(places[:-1]) + " and " + places[-1]
    text = f"Status update posted in {where}."
    if result.next_due is not None:
        text += f" Next one due <t:{int(result.next_due.timestamp())}:R>."
    for problem in result.problems:
        text += f"\n⚠️ {problem}"
    return {"content": text}


class ApproveButton(
    discord.ui.DynamicItem[discord.ui.Button],
    template=r"comms:approve:(?P<id>\d+)(?::(?P<seen>[0-9a-f]{8}))?",
):
    """Approve on a draft X post; survives restarts (routed by custom_id). The custom_id
    carries a tag of the text it was shown with: an edit since then refuses the click."""

    def __init__(self, post_id: int, seen: str | None = None) -> None:
        custom_id = f"comms:approve:{post_id}" + (f":{seen}" if seen else "")
        super().__init__(discord.ui.Button(label="Approve", custom_id=custom_id))
        self.post_id, self.seen = post_id, seen

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str]
    ) -> ApproveButton:
        return cls(int(match["id"]), match["seen"])

    async def callback(self, interaction: discord.Interaction) -> None:
        bot: IncidentBot = interaction.client  # type: ignore[assignment]
        work = _comms(bot).approve(self.post_id, str(interaction.user.id), "button", self.seen)
        try:
            await answer_with(
                interaction,
                work,
                lambda approval: _approval_answer(approval, interaction.user.id, "button"),
            )
        except Exception as error:
            await bot.report_error(interaction, error)


class EditButton(discord.ui.DynamicItem[discord.ui.Button], template=r"comms:edit:(?P<id>\d+)"):
    """Edit on a draft X post: opens a modal with the text; survives restarts."""

    def __init__(self, post_id: int) -> None:
        super().__init__(discord.ui.Button(label="Edit", custom_id=f"comms:edit:{post_id}"))
        self.post_id = post_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str]
    ) -> EditButton:
        return cls(int(match["id"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        bot: IncidentBot = interaction.client  # type: ignore[assignment]
        try:
            post = await _comms(bot).may_edit(self.post_id, str(interaction.user.id))
            await interaction.response.send_modal(EditPostModal(post.id, post.text, interaction.id))
        except Exception as error:
            await bot.report_error(interaction, error)


class EditPostModal(discord.ui.Modal):
    def __init__(self, post_id: int, text: str, opened_by: int) -> None:
        super().__init__(
            title="Edit the post to X", custom_id=f"comms:edit-post:{post_id}:{opened_by}"
        )
        self.post_id = post_id
        self.text: discord.ui.TextInput = discord.ui.TextInput(
            label="Text (280 weighted characters; links 23)",
            style=discord.TextStyle.paragraph,
            default=text,
            max_length=1000,
            custom_id="text",
        )
        self.add_item(self.text)

    async def on_submit(self, interaction: discord.Interaction) -> None:
        bot: IncidentBot = interaction.client  # type: ignore[assignment]
        user_id = interaction.user.id
        await answer_with(
            interaction,
            _comms(bot).edit(self.post_id, str(user_id), self.text.value),
            lambda _: {"content": f"✏️ <@{user_id}> edited the draft; it still needs approval."},
        )

    async def on_error(self, interaction: discord.Interaction, error: Exception) -> None:  # type: ignore[override]  # a Modal's on_error takes no item (discord.py types the View's)
        bot: IncidentBot = interaction.client  # type: ignore[assignment]
        await bot.report_error(interaction, error)


class Communicate(PhaseCog):
    async def cog_load(self) -> None:
        await super().cog_load()
        self.bot.add_dynamic_items(ApproveButton, EditButton)
        comms = self.services.comms
        if comms is not None and comms.start not in self.bot.startup_hooks:
            self.bot.startup_hooks.append(comms.start)

    async def cog_unload(self) -> None:
        self.bot.remove_dynamic_items(ApproveButton, EditButton)
        await super().cog_unload()

    @app_commands.command(
        name="update",
        description="Post a status update here and wherever the comms matrix says",
        extras=INCIDENT,
    )
    @app_commands.describe(text="What changed, what is being done, and what comes next")
    async def update(self, interaction: discord.Interaction, text: str) -> None:
        work = _comms(self.bot).post_update(
            str(interaction.channel_id), str(interaction.user.id), text
        )
        await answer_with(interaction, work, _update_answer, ephemeral=True)

    # -- ✅ on an approval request -----------------------------------------------------------
    @commands.Cog.listener()
    async def on_raw_reaction_add(self, payload: discord.RawReactionActionEvent) -> None:
        if (
            str(payload.emoji) != APPROVE_EMOJI
            or self.bot.user is None
            or payload.user_id == self.bot.user.id
            or payload.guild_id is None
        ):
            return
        # A refused ✅ is removed and its author told once, by the service.
        approval = await _comms(self.bot).approve_by_reaction(
            str(payload.channel_id), str(payload.message_id), str(payload.user_id)
        )
        channel = self.bot.get_channel(payload.channel_id)
        if (
            approval is not None
            and approval.approved_now
            and isinstance(channel, discord.TextChannel)
        ):
            await self.services.discord.send(
                str(channel.id),
                content=_approval_answer(approval, payload.user_id, "reaction")["content"],
                mention_users=(str(payload.user_id),),
            )


async def setup(bot: IncidentBot) -> None:
    await bot.add_cog(Communicate(bot))
