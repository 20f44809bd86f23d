"""Approving and editing an X draft: a person approves the text they read, once.

The rules (who may, which ✅ counts) are in :mod:`bot.communicate.rules`; this applies
them: under the incident's lock it re-reads the draft, claims it and queues its one
publication (an outbox row and a timer); the approval message is refreshed after.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.communicate import rules
from bot.communicate.asking import ApprovalMessages
from bot.communicate.base import PUBLISH, X_POST, Deps
from bot.communicate.rules import APPROVE_EMOJI, PostState
from bot.communicate.weighted import measure
from bot.errors import Conflict, ExternalServiceError, NotAllowed, NotFound, UserError
from storage import communicate as queries
from storage.models import ExternalPost, Incident

EDITED_SINCE_SHOWN = (
    "The draft was edited after this button was shown; read the new text and approve again."
)
STALE_CHECK_MARK = (
    f"The draft was edited after your {APPROVE_EMOJI} reached the bot, so it approves "
    f"nothing: read the new text, then press **Approve** (or add your {APPROVE_EMOJI} again)."
)


@dataclass(frozen=True)
class Approval:
    post: ExternalPost
    approved_now: bool  # False: someone had approved it already; nothing more happens


class Approvals:
    def __init__(
        self,
        deps: Deps,
        messages: ApprovalMessages,
        spawn: Callable[[Coroutine[Any, Any, None], str], None],
    ) -> None:
        self.d = deps
        self.messages = messages
        self._spawn = spawn  # work beside the answer: an approval never waits for Discord

    async def _read(self, post_id: int) -> tuple[ExternalPost, Incident, frozenset[str]]:
        async with self.d.sessions() as session:
            post = await queries.post(session, post_id)
            incident = await queries.incident(session, post.incident_id) if post else None
            if post is None or incident is None:
                raise NotFound("That draft no longer exists.")
            paged = await self.d.incidents.paged(session, incident.id)
        return post, incident, paged

    async def _check_approver(
        self,
        post: ExternalPost,
        incident: Incident,
        paged: frozenset[str],
        user_id: str,
        doing: str,
        via: str,
    ) -> None:
        actor = self.d.incidents.actor(user_id)
        try:
            rules.check_approver(
                self.d.config.permissions, actor, incident.commander_id, paged, doing
            )
        except NotAllowed:
            async with self.d.changing(incident.id) as session:
                self.d.record(
                    session,
                    await queries.existing_incident(session, incident.id),
                    "external_refused",
                    f"<@{user_id}> tried to {doing} an X post (draft #{post.id}, {via}) and "
                    f"was refused: only {rules.approvers(self.d.config.permissions)} may",
                    user_id,
                    {"post_id": post.id, "via": via},
                )
            raise

    # -- approving -------------------------------------------------------------------------
    async def approve(
        self,
        post_id: int,
        user_id: str,
        via: str,
        seen: str | None = None,
        reacted_at: datetime | None = None,
    ) -> Approval:
        """Approve the draft. ``seen``: the text tag the approver's button showed; if the
        draft was edited since, nothing is approved (they approve what they read).
        ``reacted_at``: when a ✅ reached the bot; a reaction carries no tag, so one that
        arrived before the last edit of the message (or during it) approves nothing."""
        post, incident, paged = await self._read(post_id)
        await self._check_approver(post, incident, paged, user_id, "approve", via)
        async with self.d.sessions() as session:
            edits = await queries.post_events(session, post, "external_edited")
        if post.state in rules.DONE_OR_GOING:
            return Approval(post, approved_now=False)
        if post.state == PostState.WITHDRAWN:
            raise Conflict(f"This draft was withdrawn ({post.last_error}); nothing to approve.")
        if seen is not None and seen != rules.text_tag(post.text):
            raise Conflict(EDITED_SINCE_SHOWN)
        edited_at = edits[0].at if edits else None
        if reacted_at is not None and (
            post.editing_since is not None or rules.stale_check_mark(reacted_at, edited_at)
        ):
            raise Conflict(STALE_CHECK_MARK)
        problem = measure(post.text).problem()
        if problem:
            raise UserError(f"{problem} Press **Edit** to shorten it, then approve.")
        now = self.d.clock.now()
        async with self.d.changing(incident.id) as session:
            row = await queries.post(session, post_id)
            assert row is not None
            if row.state not in rules.APPROVABLE:
                return Approval(row, approved_now=False)
            if row.text != post.text or row.editing_since is not None:
                # edited between the checks above and now
                raise Conflict(STALE_CHECK_MARK if seen is None else EDITED_SINCE_SHOWN)
            rules.POSTS.check(row.state, PostState.APPROVED)
            round_ = len(await queries.post_events(session, row, "external_approved")) + 1
            row.state, row.approved_by, row.approved_at = PostState.APPROVED, user_id, now
            row.last_error = None
            entry = self.d.outbox.add(
                session, X_POST, f"x_post:{post_id}:{round_}", {"post_id": post_id}, incident.id
            )
            await session.flush()
            self.d.record(
                session,
                await queries.existing_incident(session, incident.id),
                "external_approved",
                f"<@{user_id}> approved the {post.purpose} X post ({via})",
                user_id,
                {"post_id": post_id, "via": via, "text": post.text},
            )
            self.d.timers.schedule(
                session, PUBLISH, now, None, {"post_id": post_id, "entry_id": entry.id}
            )
        self._spawn(self.messages.refresh_quietly(post_id), f"comms-approved-{post_id}")
        return Approval(await self.messages.get(post_id), approved_now=True)

    async def approve_by_message(
        self,
        message_id: str,
        user_id: str,
        reacted_at: datetime | None = None,
        channel_id: str | None = None,
    ) -> Approval | None:
        """A ✅ on a message; None when it is no approval request. ``reacted_at`` (default:
        now) binds it to the text shown when it arrived."""
        reacted_at = reacted_at or self.d.clock.now()
        post_id = await self._post_of_message(message_id, channel_id)
        if post_id is None:
            return None
        return await self.approve(post_id, user_id, "reaction", reacted_at=reacted_at)

    async def _post_of_message(self, message_id: str, channel_id: str | None) -> int | None:
        async with self.d.sessions() as session:
            post = await queries.post_by_approval_message(session, message_id)
            if post is not None:
                return post.id
            if channel_id is None:
                return None
            incident = await queries.incident_in_channel(session, channel_id)
        if incident is None:
            return None
        # A ✅ can arrive before the bot has stored the message's id (it stores it right
        # after Discord answers the send): the message's own footer names its draft. The
        # id may be stored while this looks, so the draft is taken if its stored id is
        # this message or still none (reading "unrecorded" first raced that store).
        named = rules.draft_in_footer(
            await self.d.discord.own_message_footer(channel_id, message_id)
        )
        if named is None or named[1] != incident.id:
            return None
        async with self.d.sessions() as session:
            post = await queries.post(session, named[0])
        if post is None or post.incident_id != incident.id:
            return None
        if post.approval_message_id not in (None, message_id):
            return None
        return post.id

    # -- editing ---------------------------------------------------------------------------
    async def may_edit(self, post_id: int, user_id: str) -> ExternalPost:
        """The draft, if ``user_id`` may edit it now; else NotAllowed / Conflict."""
        post, incident, paged = await self._read(post_id)
        await self._check_approver(post, incident, paged, user_id, "edit", "edit button")
        if post.state not in rules.APPROVABLE:
            raise Conflict(rules.not_editable(post.state, post.url, post.last_error))
        return post

    async def edit(self, post_id: int, user_id: str, text: str) -> ExternalPost:
        """Change the draft's text. The new text is stored (marked as being edited) before
        the approval message shows it, so nothing approves it unseen in between."""
        text = text.strip()
        problem = measure(text).problem()
        if problem:
            raise UserError(f"{problem} The draft was not changed.")
        post, incident, paged = await self._read(post_id)
        await self._check_approver(post, incident, paged, user_id, "edit", "edit")
        async with self.d.changing(incident.id) as session:
            row = await queries.post(session, post_id)
            assert row is not None
            if row.state not in rules.APPROVABLE:
                raise Conflict(rules.not_editable(row.state, row.url, row.last_error))
            if row.editing_since is not None:
                raise Conflict("Someone is editing this draft right now; try again in a moment.")
            before = row.text
            row.text, row.editing_since = text, self.d.clock.now()
        try:
            await self.messages.refresh(post_id)
        except (ExternalServiceError, UserError):
            # The message would show one text while another is approved: undo.
            async with self.d.changing(incident.id) as session:
                await queries.update_post(session, post_id, text=before, editing_since=None)
            raise
        async with self.d.changing(incident.id) as session:
            await queries.update_post(session, post_id, editing_since=None)
            self.d.record(
                session,
                await queries.existing_incident(session, incident.id),
                "external_edited",
                f"<@{user_id}> edited the {post.purpose} X post before approval",
                user_id,
                {"post_id": post_id, "before": before, "after": text},
            )
        return await self.messages.get(post_id)
