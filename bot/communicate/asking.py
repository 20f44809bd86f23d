"""The approval message of an X draft: asked once in the incident channel, then kept
showing the draft's state (edited in place, one edit at a time)."""

from __future__ import annotations

import logging
from datetime import datetime

from bot.adapters.discord_out import ButtonSpec, Embed
from bot.communicate import rules
from bot.communicate.base import Deps
from bot.communicate.rules import APPROVE_EMOJI, INITIAL, RESOLVE, PostState
from bot.communicate.weighted import measure
from bot.core.render import Renderer
from bot.errors import ExternalServiceError, NotFound, UserError
from bot.settings import Config
from storage import communicate as queries
from storage.models import ExternalPost, Incident, Timer

log = logging.getLogger(__name__)

APPROVAL_MESSAGE = "x-approval"  # the serialiser of one draft's approval message


class ApprovalMessages:
    def __init__(self, deps: Deps) -> None:
        self.d = deps

    async def get(self, post_id: int) -> ExternalPost:
        async with self.d.sessions() as session:
            post = await queries.post(session, post_id)
        if post is None:
            raise NotFound("That draft no longer exists.")
        return post

    # -- asking ----------------------------------------------------------------------------
    async def on_ask(self, timer: Timer) -> None:
        # A second try (or one queued at start) may follow a send whose message id was
        # never stored: look for that message before sending another.
        look_back = timer.attempts > 0 or bool(timer.payload.get("recover"))
        await self.send(int(timer.payload["post_id"]), look_back)

    async def send(self, post_id: int, look_back: bool = False) -> None:
        async with self.d.serial(APPROVAL_MESSAGE, post_id):
            async with self.d.sessions() as session:
                post = await queries.post(session, post_id)
                incident = await queries.incident(session, post.incident_id) if post else None
            if (
                post is None
                or incident is None
                or incident.channel_id is None
                or post.state != PostState.AWAITING
                or post.approval_message_id is not None
            ):
                return
            embed, buttons = await self._render(post)
            message_id = None
            if look_back:
                message_id = await self.d.discord.find_own_message(
                    incident.channel_id, embed.footer or ""
                )
            if message_id is not None:  # sent by an earlier try: bring it up to date, once
                await self.d.discord.edit(
                    incident.channel_id, message_id, embed=embed, buttons=buttons
                )
            else:
                message_id = await self._send_request(incident, embed, buttons)
            async with self.d.changing(post.incident_id) as session:
                await queries.update_post(session, post_id, approval_message_id=message_id)

    async def _send_request(
        self, incident: Incident, embed: Embed, buttons: tuple[ButtonSpec, ...]
    ) -> str:
        assert incident.channel_id is not None
        pings = []
        if incident.commander_id:
            pings.append(f"<@{incident.commander_id}>")
        comms_role = self.d.discord.role_id(self.d.config.discord.comms_role)
        if comms_role:
            pings.append(f"<@&{comms_role}>")
        return await self.d.discord.send(
            incident.channel_id,
            content=f"{' '.join(pings)} a post to X needs approval before it goes out.".strip(),
            embed=embed,
            buttons=buttons,
            mention_users=(incident.commander_id,) if incident.commander_id else (),
            mention_roles=(comms_role,) if comms_role else (),
        )

    # -- keeping it current ----------------------------------------------------------------
    async def refresh_quietly(self, post_id: int, retry_at: datetime | None = None) -> None:
        """Refresh the approval message; a failure is logged (the next change refreshes it)."""
        try:
            await self.refresh(post_id, retry_at)
        except (ExternalServiceError, UserError) as error:
            log.warning("X draft %s: approval message not refreshed: %s", post_id, error)

    async def refresh(self, post_id: int, retry_at: datetime | None = None) -> None:
        """Edit the approval message to the draft's state as it is now (read under the
        message's serialiser, so the last edit shows the latest state)."""
        async with self.d.serial(APPROVAL_MESSAGE, post_id):
            async with self.d.sessions() as session:
                post = await queries.post(session, post_id)
                incident = await queries.incident(session, post.incident_id) if post else None
            if (
                post is None
                or incident is None
                or incident.channel_id is None
                or post.approval_message_id is None
            ):
                return
            embed, buttons = await self._render(post, retry_at)
            await self.d.discord.edit(
                incident.channel_id, post.approval_message_id, embed=embed, buttons=buttons
            )

    async def _render(
        self, post: ExternalPost, retry_at: datetime | None = None
    ) -> tuple[Embed, tuple[ButtonSpec, ...]]:
        async with self.d.sessions() as session:
            initial = await queries.post_of(session, post.incident_id, INITIAL)
            draft_round = max(1, len(await queries.post_events(session, post, "external_draft")))
        embed = approval_embed(
            self.d.renderer,
            self.d.config,
            post,
            initial.url if initial and post.purpose == RESOLVE else None,
            retry_at,
            draft_round,
        )
        return embed, buttons(post)

    # -- telling the channel ---------------------------------------------------------------
    async def tell(self, incident: Incident, content: str) -> None:
        """A note in the incident channel about a state already recorded; failures are logged."""
        if incident.channel_id is None:
            return
        try:
            await self.d.discord.send(incident.channel_id, content=content)
        except (ExternalServiceError, UserError) as error:
            log.warning("incident %s: could not tell the channel: %s", incident.id, error)


def approval_embed(
    renderer: Renderer,
    config: Config,
    post: ExternalPost,
    reply_url: str | None = None,
    retry_at: datetime | None = None,
    draft_round: int = 1,
) -> Embed:
    """What the approval message shows of a draft in its current state."""
    measured = measure(post.text)
    state = PostState(post.state)
    return Embed(
        title=rules.TITLES[state],
        description=renderer.render(
            "x_approval.md.j2",
            post=post,
            weighted=measured.weighted,
            limit=measured.limit,
            over=measured.over,
            approvers=rules.approvers(config.permissions),
            handle=config.x.handle,
            reply_url=reply_url,
            retry_at=retry_at,
        )[:4096],
        colour=rules.COLOURS.get(state, rules.DEFAULT_COLOUR),
        footer=rules.approval_footer(post.id, post.incident_id, post.purpose, draft_round),
    )


def buttons(post: ExternalPost) -> tuple[ButtonSpec, ...]:
    if post.state not in rules.APPROVABLE:
        return ()
    label = "Approve" if post.state == PostState.AWAITING else "Approve again"
    return (
        ButtonSpec(label, rules.approve_custom_id(post.id, post.text), "success", APPROVE_EMOJI),
        ButtonSpec("Edit", rules.edit_custom_id(post.id), "secondary", "✏️"),
    )
