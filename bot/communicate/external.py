"""External comms: X posts drafted from templates, approved by a person, published once.

A post is a row before it is anything else (``ExternalPost``), and it moves through
one state machine:

    awaiting_approval ──approve──▶ approved ──claim──▶ publishing ──X took it──▶ posted
          ▲  │edit                    ▲  │                 │
          │  ▼                        │  └─ 429/outage ◀───┘ (back to approved, retried
          └──┘                        │                       with backoff by a timer)
    in_doubt / failed ──approve again─┘

``publishing`` is written before the request leaves, so a run that stops while X
holds the request finds it at start and marks it ``in_doubt`` instead of sending it
again: a person looks at the account and approves again only if the post is missing.
Drafts the incident has moved past (resolved before approval, downgraded to a severity
that never posts) are ``withdrawn``. Nothing reaches X without an ``approved_by``.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, cast

from sqlalchemy import CursorResult, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.adapters.discord_out import ButtonSpec, Embed
from bot.adapters.x import XInDoubt, XRejected, XUnavailable, post_url
from bot.communicate.base import ASK, EXTERNAL_DUE, PUBLISH, Deps, has_pending_timer, hold_incident
from bot.communicate.matrix import external_request_at, is_open, posts_externally
from bot.communicate.weighted import measure
from bot.core.permissions import allowed, describe
from bot.errors import Conflict, ExternalServiceError, NotAllowed, NotFound, UserError
from bot.procedure import Severity
from bot.triage.lifecycle import Status, record
from storage.models import ExternalPost, Incident, TimelineEvent, Timer
from storage.types import utcnow

log = logging.getLogger(__name__)

INITIAL, RESOLVE = "initial", "resolve"
APPROVE_EMOJI = "✅"
MIN_TITLE = 12  # a draft that is too long loses title characters down to this many


class PostState(StrEnum):
    AWAITING = "awaiting_approval"
    APPROVED = "approved"
    PUBLISHING = "publishing"
    POSTED = "posted"
    IN_DOUBT = "in_doubt"
    FAILED = "failed"
    WITHDRAWN = "withdrawn"


APPROVABLE = (PostState.AWAITING, PostState.IN_DOUBT, PostState.FAILED)
UNPUBLISHED = (*APPROVABLE, PostState.APPROVED)  # may still be withdrawn
DONE_OR_GOING = (PostState.APPROVED, PostState.PUBLISHING, PostState.POSTED)
_TITLES = {
    PostState.AWAITING: "📝 Draft X post: needs approval",
    PostState.APPROVED: "⏳ X post: approved, posting",
    PostState.PUBLISHING: "⏳ X post: approved, posting",
    PostState.POSTED: "✅ X post: posted",
    PostState.IN_DOUBT: "❓ X post: check the account",
    PostState.FAILED: "⚠️ X post: refused by X",
    PostState.WITHDRAWN: "X post: withdrawn",
}
_COLOURS = {PostState.POSTED: 0x57F287, PostState.FAILED: 0xED4245, PostState.IN_DOUBT: 0xE67E22}


def text_tag(text: str) -> str:
    """A short fingerprint of a draft's text: the Approve button carries the one it showed."""
    return hashlib.sha256(text.encode()).hexdigest()[:8]


def approve_custom_id(post_id: int, text: str) -> str:
    return f"comms:approve:{post_id}:{text_tag(text)}"


def edit_custom_id(post_id: int) -> str:
    return f"comms:edit:{post_id}"


@dataclass(frozen=True)
class Approval:
    post: ExternalPost
    approved_now: bool  # False: someone had approved it already; nothing more happens


def backoff(attempts: int, initial: timedelta, cap: timedelta, not_before: timedelta) -> timedelta:
    """Doubling waits from ``initial`` up to ``cap``, never sooner than X asked for (X's
    reset wins over the cap: retrying before it only earns another 429)."""
    wait = initial * (2 ** max(0, attempts - 1))
    return max(min(cap, wait), not_before)


class ExternalComms:
    def __init__(self, deps: Deps, after_posted: Callable[[int], Awaitable[None]]) -> None:
        self.d = deps
        self._after_posted = after_posted

    # -- reading ---------------------------------------------------------------------------
    @staticmethod
    async def _events_of(
        session: AsyncSession, post: ExternalPost, kind: str
    ) -> list[TimelineEvent]:
        """The post's timeline events of ``kind``, newest first."""
        rows = await session.scalars(
            select(TimelineEvent)
            .where(TimelineEvent.incident_id == post.incident_id, TimelineEvent.kind == kind)
            .order_by(TimelineEvent.id.desc())
        )
        return [e for e in rows if (e.data or {}).get("post_id") == post.id]

    async def draft_round(self, session: AsyncSession, post: ExternalPost) -> int:
        """How many times this post has been drafted: a withdrawn draft drafted again asks
        in a new message, told apart from the old one by its round."""
        return max(1, len(await self._events_of(session, post, "external_draft")))

    async def last_edited_at(self, session: AsyncSession, post: ExternalPost) -> datetime | None:
        """When the approval message last changed to a new text (recorded after the edit)."""
        edits = await self._events_of(session, post, "external_edited")
        return edits[0].at if edits else None

    @staticmethod
    async def post_of(session: AsyncSession, incident_id: int, purpose: str) -> ExternalPost | None:
        return await session.scalar(
            select(ExternalPost).where(
                ExternalPost.incident_id == incident_id, ExternalPost.purpose == purpose
            )
        )

    async def get(self, post_id: int) -> ExternalPost:
        async with self.d.sessions() as session:
            post = await session.get(ExternalPost, post_id)
        if post is None:
            raise NotFound("That draft no longer exists.")
        return post

    async def by_approval_message(self, message_id: str) -> ExternalPost | None:
        async with self.d.sessions() as session:
            return await session.scalar(
                select(ExternalPost).where(ExternalPost.approval_message_id == message_id)
            )

    # -- drafting --------------------------------------------------------------------------
    def draft_text(self, purpose: str, incident: Incident, level: Severity) -> str:
        """The template's text; a title too long for X is shortened (never the rest)."""
        template = "x_declare.txt.j2" if purpose == INITIAL else "x_resolve.txt.j2"
        resolved_at = incident.resolved_at or utcnow()
        down_since = incident.down_since or incident.declared_at
        title = incident.title
        while True:
            text = self.d.renderer.render(
                template,
                product=self.d.config.x.product,
                incident=incident,
                title=title,
                severity=level,
                down_since=down_since,
                declared_at=incident.declared_at,
                resolved_at=resolved_at,
                duration=resolved_at - down_since,
                handle=self.d.config.x.handle,
            )
            measured = measure(text)
            if measured.fits or len(title) <= MIN_TITLE or title not in text:
                return text
            title = title[: max(MIN_TITLE, len(title) - measured.over - 2)].rstrip() + "…"

    async def ensure_external(self, incident_id: int) -> None:
        """Ask now, or schedule the asking, as the severity's external policy says (lock held)."""
        async with self.d.sessions.begin() as session:
            incident = await hold_incident(session, incident_id)
            initial = await self.post_of(session, incident_id, INITIAL)
            if incident is None or not is_open(incident):
                return
            level = self.d.incidents.severity(incident.severity)
            if not posts_externally(level) or (initial and initial.state != PostState.WITHDRAWN):
                return
            at = external_request_at(level, incident)
            if at is None:
                return
            ask_now = at <= utcnow()
            if not ask_now:
                await self.d.timers.cancel(session, incident_id, [EXTERNAL_DUE])
                self.d.timers.schedule(
                    session, EXTERNAL_DUE, at, incident_id, {"severity": level.name}
                )
        if ask_now:
            await self.request(incident_id, INITIAL)

    async def on_external_due(self, timer: Timer) -> None:
        incident_id = timer.incident_id
        assert incident_id is not None
        async with self.d.lock(incident_id):
            async with self.d.sessions() as session:
                incident = await session.get(Incident, incident_id)
            if incident is None or not is_open(incident):
                return  # resolved sooner: nothing is asked
            level = self.d.incidents.severity(incident.severity)
            at = external_request_at(level, incident)
            if timer.payload.get("severity") != incident.severity or at is None or at > utcnow():
                return  # superseded by a severity change
            await self.request(incident_id, INITIAL)

    async def request(self, incident_id: int, purpose: str) -> ExternalPost | None:
        """Draft the post and have approval asked in the incident channel (lock held;
        idempotent: an existing draft is returned as it is, a withdrawn one drafted again)."""
        async with self.d.sessions.begin() as session:
            incident = await session.get(Incident, incident_id)
            if incident is None or incident.channel_id is None:
                return None
            level = self.d.incidents.severity(incident.severity)
            reply_to = None
            if purpose == INITIAL:
                if not is_open(incident) or not posts_externally(level):
                    return None
            else:
                initial = await self.post_of(session, incident_id, INITIAL)
                if incident.status != Status.RESOLVED or initial is None:
                    return None
                if initial.state != PostState.POSTED:
                    return None
                reply_to = initial.remote_id
            post = await self.post_of(session, incident_id, purpose)
            if post is not None and post.state != PostState.WITHDRAWN:
                return post
            text = self.draft_text(purpose, incident, level)
            if post is None:
                post = ExternalPost(incident_id=incident_id, purpose=purpose, text=text)
                session.add(post)
            post.text, post.state, post.reply_to = text, PostState.AWAITING, reply_to
            post.approval_message_id = post.approved_by = post.approved_at = None
            post.last_error, post.attempts = None, 0
            await session.flush()
            measured = measure(text)
            what = "first X post" if purpose == INITIAL else "X reply announcing the resolution"
            record(
                session,
                incident,
                "external_draft",
                f"Drafted the {what} ({measured.weighted}/{measured.limit} weighted characters); "
                "approval asked in the channel",
                None,
                {"post_id": post.id, "purpose": purpose, "text": text},
            )
            # Asking is a durable action of its own: retried with backoff if Discord fails.
            self.d.timers.schedule(session, ASK, utcnow(), None, {"post_id": post.id})
        return post

    async def on_ask(self, timer: Timer) -> None:
        post = await self.get(int(timer.payload["post_id"]))
        # A second try (or one queued at start) may follow a send whose message id was
        # never stored: look for that message before sending another.
        look_back = timer.attempts > 0 or bool(timer.payload.get("recover"))
        async with self.d.lock(post.incident_id):
            await self.send_approval(post.id, look_back)

    async def send_approval(self, post_id: int, look_back: bool = False) -> None:
        async with self.d.sessions() as session:
            post = await session.get(ExternalPost, post_id)
            incident = await session.get(Incident, post.incident_id) if post else None
            initial = await self.post_of(session, post.incident_id, INITIAL) if post else None
            draft_round = await self.draft_round(session, post) if post else 1
        if (
            post is None
            or incident is None
            or post.state != PostState.AWAITING
            or post.approval_message_id is not None
        ):
            return
        pings = []
        if incident.commander_id:
            pings.append(f"<@{incident.commander_id}>")
        comms_role = self.d.discord.role_id(self.d.config.discord.comms_role)
        if comms_role:
            pings.append(f"<@&{comms_role}>")
        embed = self._approval_embed(post, initial, draft_round=draft_round)
        message_id = None
        assert incident.channel_id is not None  # an open incident has its channel
        if look_back:
            message_id = await self._find_approval(incident.channel_id, embed.footer or "")
        if message_id is not None:  # sent by an earlier try: bring it up to date, once
            await self.d.discord.edit(
                incident.channel_id, message_id, embed=embed, buttons=self._buttons(post)
            )
        else:
            message_id = await self.d.discord.send(
                incident.channel_id,
                content=f"{' '.join(pings)} a post to X needs approval before it goes out.".strip(),
                embed=embed,
                buttons=self._buttons(post),
                mention_users=(incident.commander_id,) if incident.commander_id else (),
                mention_roles=(comms_role,) if comms_role else (),
            )
        async with self.d.sessions.begin() as session:
            await session.execute(
                update(ExternalPost)
                .where(ExternalPost.id == post_id)
                .values(approval_message_id=message_id)
            )

    async def _find_approval(self, channel_id: str, footer: str) -> str | None:
        """The bot's approval message with ``footer``, newest first (only after a failed or
        interrupted try, so reading the whole channel is rare)."""
        bot_id = self.d.discord.bot_user_id
        for message in reversed(await self.d.discord.history(channel_id)):
            if str(message.author.id) == bot_id and any(
                e.footer and e.footer.text == footer for e in message.embeds
            ):
                return str(message.id)
        return None

    @staticmethod
    def approval_footer(post: ExternalPost, draft_round: int = 1) -> str:
        footer = f"Draft #{post.id} · incident #{post.incident_id} · {post.purpose}"
        return footer + (f" · round {draft_round}" if draft_round > 1 else "")

    def _approval_embed(
        self,
        post: ExternalPost,
        initial: ExternalPost | None,
        retry_at: datetime | None = None,
        draft_round: int = 1,
    ) -> Embed:
        measured = measure(post.text)
        state = PostState(post.state)
        return Embed(
            title=_TITLES[state],
            description=self.d.renderer.render(
                "x_approval.md.j2",
                post=post,
                weighted=measured.weighted,
                limit=measured.limit,
                over=measured.over,
                approvers=describe(self.d.config.permissions.approve_external),
                handle=self.d.config.x.handle,
                reply_url=initial.url if initial and post.purpose == RESOLVE else None,
                retry_at=retry_at,
            )[:4096],
            colour=_COLOURS.get(state, 0x1DA1F2),
            footer=self.approval_footer(post, draft_round),
        )

    @staticmethod
    def _buttons(post: ExternalPost) -> tuple[ButtonSpec, ...]:
        if post.state not in APPROVABLE:
            return ()
        label = "Approve" if post.state == PostState.AWAITING else "Approve again"
        return (
            ButtonSpec(label, approve_custom_id(post.id, post.text), "success", APPROVE_EMOJI),
            ButtonSpec("Edit", edit_custom_id(post.id), "secondary", "✏️"),
        )

    async def refresh_quietly(self, post_id: int, retry_at: datetime | None = None) -> None:
        """Refresh the approval message; a failure is logged (the next change refreshes it)."""
        try:
            await self.refresh_approval(post_id, retry_at)
        except (ExternalServiceError, UserError) as error:
            log.warning("X draft %s: approval message not refreshed: %s", post_id, error)

    async def refresh_approval(self, post_id: int, retry_at: datetime | None = None) -> None:
        async with self.d.sessions() as session:
            post = await session.get(ExternalPost, post_id)
            incident = await session.get(Incident, post.incident_id) if post else None
            initial = await self.post_of(session, post.incident_id, INITIAL) if post else None
            draft_round = await self.draft_round(session, post) if post else 1
        if post is None or incident is None or post.approval_message_id is None:
            return
        assert incident.channel_id is not None  # an open incident has its channel
        await self.d.discord.edit(
            incident.channel_id,
            post.approval_message_id,
            embed=self._approval_embed(post, initial, retry_at, draft_round),
            buttons=self._buttons(post),
        )

    # -- approving and editing -------------------------------------------------------------
    async def _check_approver(
        self, post: ExternalPost, incident: Incident, user_id: str, doing: str, via: str
    ) -> None:
        rule = self.d.config.permissions.approve_external
        if allowed(rule, self.d.incidents.actor(user_id), incident.commander_id):
            return
        async with self.d.sessions.begin() as session:
            row = await session.get(Incident, incident.id)
            assert row is not None  # the Incident row is there: read or locked above
            record(
                session,
                row,
                "external_refused",
                f"<@{user_id}> tried to {doing} an X post (draft #{post.id}, {via}) and was "
                f"refused: only {describe(rule)} may",
                user_id,
                {"post_id": post.id, "via": via},
            )
        raise NotAllowed(
            f"Only {describe(rule)} may {doing} posts to X, so nothing happened. "
            "The attempt is recorded in the incident's timeline."
        )

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
        arrived before the last edit of the message approves nothing either (it may have
        waited here for that edit to finish)."""
        post = await self.get(post_id)
        async with self.d.lock(post.incident_id):
            async with self.d.sessions() as session:
                fresh = await session.get(ExternalPost, post_id)
                assert fresh is not None  # the ExternalPost row is there: read or locked above
                post = fresh
                incident = await session.get(Incident, post.incident_id)
                assert incident is not None  # the Incident row is there: read or locked above
                edited_at = await self.last_edited_at(session, post)
            await self._check_approver(post, incident, user_id, "approve", via)
            if post.state in DONE_OR_GOING:
                return Approval(post, approved_now=False)
            if post.state == PostState.WITHDRAWN:
                raise Conflict(f"This draft was withdrawn ({post.last_error}); nothing to approve.")
            if seen is not None and seen != text_tag(post.text):
                raise Conflict(
                    "The draft was edited after this button was shown; read the new text "
                    "and approve again."
                )
            if reacted_at is not None and edited_at is not None and reacted_at <= edited_at:
                raise Conflict(
                    f"The draft was edited after your {APPROVE_EMOJI} reached the bot, so it "
                    "approves nothing: read the new text, then press **Approve** (or remove "
                    f"your {APPROVE_EMOJI} and add it again)."
                )
            problem = measure(post.text).problem()
            if problem:
                raise UserError(f"{problem} Press **Edit** to shorten it, then approve.")
            now = utcnow()
            async with self.d.sessions.begin() as session:
                claimed = cast(  # an UPDATE's result is a CursorResult; execute() says Result
                    CursorResult[Any],
                    await session.execute(
                        update(ExternalPost)
                        .where(ExternalPost.id == post_id, ExternalPost.state.in_(APPROVABLE))
                        .values(
                            state=PostState.APPROVED,
                            approved_by=user_id,
                            approved_at=now,
                            last_error=None,
                        )
                    ),
                )
                if not claimed.rowcount:
                    return Approval(await self.get(post_id), approved_now=False)
                row = await session.get(Incident, incident.id)
                assert row is not None  # the Incident row is there: read or locked above
                record(
                    session,
                    row,
                    "external_approved",
                    f"<@{user_id}> approved the {post.purpose} X post ({via})",
                    user_id,
                    {"post_id": post_id, "via": via, "text": post.text},
                )
                self.d.timers.schedule(session, PUBLISH, now, None, {"post_id": post_id})
            await self.refresh_quietly(post_id)
        return Approval(await self.get(post_id), approved_now=True)

    async def approve_by_message(
        self, message_id: str, user_id: str, reacted_at: datetime | None = None
    ) -> Approval | None:
        """A ✅ on an approval message; ``reacted_at`` (default: now, before any waiting)
        binds it to the text shown when it arrived."""
        reacted_at = reacted_at or utcnow()
        post = await self.by_approval_message(message_id)
        if post is None:
            return None
        return await self.approve(post.id, user_id, "reaction", reacted_at=reacted_at)

    async def may_edit(self, post_id: int, user_id: str) -> ExternalPost:
        """The draft, if ``user_id`` may edit it now; else NotAllowed / Conflict."""
        post = await self.get(post_id)
        async with self.d.sessions() as session:
            incident = await session.get(Incident, post.incident_id)
            assert incident is not None  # the Incident row is there: read or locked above
        await self._check_approver(post, incident, user_id, "edit", "edit button")
        if post.state not in APPROVABLE:
            raise Conflict(_not_editable(post))
        return post

    async def edit(self, post_id: int, user_id: str, text: str) -> ExternalPost:
        text = text.strip()
        problem = measure(text).problem()
        if problem:
            raise UserError(f"{problem} The draft was not changed.")
        post = await self.get(post_id)
        async with self.d.lock(post.incident_id):
            async with self.d.sessions() as session:
                fresh = await session.get(ExternalPost, post_id)
                assert fresh is not None  # the ExternalPost row is there: read or locked above
                post = fresh
                incident = await session.get(Incident, post.incident_id)
                assert incident is not None  # the Incident row is there: read or locked above
            await self._check_approver(post, incident, user_id, "edit", "edit")
            if post.state not in APPROVABLE:
                raise Conflict(_not_editable(post))
            before = post.text
            await self._set_text(post_id, text)
            try:
                await self.refresh_approval(post_id)
            except (ExternalServiceError, UserError):
                # The message would show one text while another is approved: undo.
                await self._set_text(post_id, before)
                raise
            async with self.d.sessions.begin() as session:
                row = await session.get(Incident, incident.id)
                assert row is not None  # the Incident row is there: read or locked above
                record(
                    session,
                    row,
                    "external_edited",
                    f"<@{user_id}> edited the {post.purpose} X post before approval",
                    user_id,
                    {"post_id": post_id, "before": before, "after": text},
                )
        return await self.get(post_id)

    async def _set_text(self, post_id: int, text: str) -> None:
        async with self.d.sessions.begin() as session:
            await session.execute(
                update(ExternalPost).where(ExternalPost.id == post_id).values(text=text)
            )

    # -- publishing ------------------------------------------------------------------------
    async def on_publish(self, timer: Timer) -> None:
        await self.publish(int(timer.payload["post_id"]))

    async def publish(self, post_id: int) -> None:
        first = await self.get(post_id)
        incident_id, posted = first.incident_id, False
        async with self.d.lock(incident_id):
            async with self.d.sessions.begin() as session:
                post = await session.get(ExternalPost, post_id)
                if post is None or post.state != PostState.APPROVED or post.approved_by is None:
                    return  # posted, withdrawn, or already being posted
                if self.d.x is None:
                    post.state = PostState.FAILED
                    post.last_error = "X is not configured for this bot (the INCIDENT_BOT_X_* keys)"
                else:
                    post.state = PostState.PUBLISHING
                    post.attempts += 1
                text, reply_to, attempts = post.text, post.reply_to, post.attempts
            if self.d.x is None:
                await self._settle(post_id, PostState.FAILED, post.last_error or "")
                return
            try:
                result = await self.d.x.post(text, reply_to)
            except XUnavailable as error:
                await self._retry_later(post_id, attempts, error)
            except XInDoubt as error:
                await self._settle(post_id, PostState.IN_DOUBT, str(error))
            except XRejected as error:
                await self._settle(post_id, PostState.FAILED, str(error))
            except Exception as error:  # not an answer we understand: the post may be up
                log.exception("X post %s: unexpected failure while publishing", post_id)
                await self._settle(
                    post_id, PostState.IN_DOUBT, f"unexpected {type(error).__name__} while posting"
                )
            else:
                await self._posted(post_id, result.id)
                posted = True
        if posted:
            await self._after_posted(incident_id)

    async def _retry_later(self, post_id: int, attempts: int, error: XUnavailable) -> None:
        now = utcnow()
        config = self.d.config.x
        asked = (error.retry_at - now) if error.retry_at else timedelta(0)
        retry_at = now + backoff(attempts, config.retry_initial, config.retry_max, asked)
        async with self.d.sessions.begin() as session:
            post = await session.get(ExternalPost, post_id)
            assert post is not None  # the ExternalPost row is there: read or locked above
            post.state, post.last_error = PostState.APPROVED, str(error)
            self.d.timers.schedule(session, PUBLISH, retry_at, None, {"post_id": post_id})
            incident = await session.get(Incident, post.incident_id)
            assert incident is not None  # the Incident row is there: read or locked above
            if attempts == 1:
                record(
                    session,
                    incident,
                    "external_pending",
                    f"X did not take the approved post: {error}; retrying with backoff",
                    None,
                    {"post_id": post_id, "error": str(error)},
                )
        log.warning("X post %s: %s; retry %d at %s", post_id, error, attempts, retry_at)
        await self.refresh_quietly(post_id, retry_at)
        if attempts == 1:
            await self._tell(
                incident,
                f"⚠️ {error}. The approved post to X stays pending and is retried "
                f"automatically with backoff (next try <t:{int(retry_at.timestamp())}:R>). "
                "It will be posted once.",
            )

    async def _tell(self, incident: Incident, content: str) -> None:
        """A note in the incident channel about a state already recorded; failures are logged."""
        assert incident.channel_id is not None  # an open incident has its channel
        try:
            await self.d.discord.send(incident.channel_id, content=content)
        except (ExternalServiceError, UserError) as error:
            log.warning("incident %s: could not tell the channel: %s", incident.id, error)

    async def _settle(self, post_id: int, state: PostState, reason: str) -> None:
        async with self.d.sessions.begin() as session:
            post = await session.get(ExternalPost, post_id)
            assert post is not None  # the ExternalPost row is there: read or locked above
            post.state, post.last_error = state, reason
            incident = await session.get(Incident, post.incident_id)
            assert incident is not None  # the Incident row is there: read or locked above
            record(
                session,
                incident,
                f"external_{state.value}",
                f"X post not published ({state.value.replace('_', ' ')}): {reason}",
                None,
                {"post_id": post_id},
            )
        await self.refresh_quietly(post_id)
        advice = (
            "Check the account: if the post is not there, approve again."
            if state == PostState.IN_DOUBT
            else "Fix the cause and approve again, or post the text by hand."
        )
        await self._tell(incident, f"⚠️ The post to X did not go out: {reason}. {advice}")

    async def _posted(self, post_id: int, remote_id: str) -> None:
        url = post_url(self.d.config.x.web_base, self.d.config.x.handle, remote_id)
        async with self.d.sessions.begin() as session:
            post = await session.get(ExternalPost, post_id)
            assert post is not None  # the ExternalPost row is there: read or locked above
            post.state, post.remote_id, post.url = PostState.POSTED, remote_id, url
            post.posted_at, post.last_error = utcnow(), None
            incident = await session.get(Incident, post.incident_id)
            assert incident is not None  # the Incident row is there: read or locked above
            what = "Posted to X" if post.purpose == INITIAL else "Replied on X (resolution)"
            record(
                session,
                incident,
                "external_posted",
                f"{what}: {url}",
                post.approved_by,
                {"post_id": post_id, "url": url, "remote_id": remote_id, "purpose": post.purpose},
            )
        await self.refresh_quietly(post_id)
        await self._tell(incident, f"📣 {what}: {url}")

    # -- the incident moving on ------------------------------------------------------------
    async def withdraw(self, incident_id: int, purpose: str, reason: str) -> bool:
        """Withdraw a draft that has not gone out (lock held); True if there was one."""
        async with self.d.sessions.begin() as session:
            post = await self.post_of(session, incident_id, purpose)
            if post is None or post.state not in UNPUBLISHED:
                return False
            post.state, post.last_error = PostState.WITHDRAWN, reason
            row = await session.get(Incident, incident_id)
            assert row is not None  # the Incident row is there: read or locked above
            record(
                session,
                row,
                "external_withdrawn",
                f"Withdrew the {purpose} X post draft: {reason}",
                None,
                {"post_id": post.id},
            )
            post_id = post.id
        await self.refresh_quietly(post_id)
        return True

    async def on_resolved(self, incident_id: int) -> None:
        """Resolution: a first post not yet out is withdrawn; one that is out gets a reply draft."""
        await self.withdraw(incident_id, INITIAL, "the incident was resolved before it went out")
        await self.request(incident_id, RESOLVE)

    async def on_reopened(self, incident_id: int) -> None:
        await self.withdraw(incident_id, RESOLVE, "the incident was reopened")
        await self.ensure_external(incident_id)

    async def on_severity_changed(self, incident_id: int) -> None:
        async with self.d.sessions() as session:
            incident = await session.get(Incident, incident_id)
        if incident is None:
            return
        level = self.d.incidents.severity(incident.severity)
        if not posts_externally(level):
            async with self.d.sessions.begin() as session:
                await self.d.timers.cancel(session, incident_id, [EXTERNAL_DUE])
            await self.withdraw(
                incident_id, INITIAL, f"{level.name} incidents are not announced externally"
            )
            return
        await self.ensure_external(incident_id)

    # -- after a restart -------------------------------------------------------------------
    async def reconcile(self) -> list[int]:
        """Finish what a stopped run left: in-flight posts become in doubt (never re-sent),
        approved ones are queued again, approvals that were never asked are asked. Returns
        the ids of the incidents touched."""
        touched: set[int] = set()
        async with self.d.sessions.begin() as session:
            in_flight = list(
                await session.scalars(
                    select(ExternalPost).where(ExternalPost.state == PostState.PUBLISHING)
                )
            )
            queued = list(
                await session.scalars(
                    select(ExternalPost).where(ExternalPost.state == PostState.APPROVED)
                )
            )
            for post in queued:
                if not await has_pending_timer(session, None, [PUBLISH], post_id=post.id):
                    self.d.timers.schedule(session, PUBLISH, utcnow(), None, {"post_id": post.id})
            unasked = await session.scalars(
                select(ExternalPost.id).where(
                    ExternalPost.state == PostState.AWAITING,
                    ExternalPost.approval_message_id.is_(None),
                )
            )
            for post_id in list(unasked):
                if not await has_pending_timer(session, None, [ASK], post_id=post_id):
                    self.d.timers.schedule(
                        session, ASK, utcnow(), None, {"post_id": post_id, "recover": True}
                    )
        for post in in_flight:
            async with self.d.lock(post.incident_id):
                await self._settle(
                    post.id,
                    PostState.IN_DOUBT,
                    "the bot stopped while X had the request, so it may or may not be up; "
                    "it is not sent again by itself",
                )
            touched.add(post.incident_id)
        return sorted(touched)


def _not_editable(post: ExternalPost) -> str:
    if post.state == PostState.POSTED:
        return f"This post is already on X ({post.url}); it cannot be edited."
    if post.state == PostState.WITHDRAWN:
        return f"This draft was withdrawn ({post.last_error})."
    return "This post is approved and on its way to X; it can no longer be edited."
