"""Publishing an approved X post exactly once, through the outbox.

The approval committed an outbox row (``x_post``) and a PUBLISH timer. Delivering it
marks the row ``sending`` and the post ``publishing`` before the request leaves; X's
answer settles both: posted, back to approved with a backoff (X unavailable), failed
(X refused it), or in doubt (no answer we understand). A run that stopped while X had
the request finds the row ``sending``: it is in doubt and never re-sent by itself.
While X does not answer, /healthz names ``x`` (bot/core/outages.py) until it takes a post.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from datetime import timedelta
from typing import Any

from bot.adapters.x import XInDoubt, XRejected, XUnavailable, post_url
from bot.communicate import rules
from bot.communicate.asking import ApprovalMessages
from bot.communicate.base import ASK, PUBLISH, X_POST, Deps
from bot.communicate.rules import INITIAL, PostState
from bot.core.backoff import Backoff
from bot.core.outages import Outages
from bot.core.outbox import EffectState, Refused, Retry
from storage import communicate as queries
from storage import outbox as outbox_queries
from storage.models import ExternalPost, OutboxEntry, Timer

log = logging.getLogger(__name__)

STOPPED_WHILE_SENDING = (
    "the bot stopped while X had the request, so it may or may not be up; "
    "it is not sent again by itself"
)


class Superseded(Refused):
    """The post is no longer approved (withdrawn, or settled by another run): not sent."""


class Publishing:
    def __init__(
        self,
        deps: Deps,
        messages: ApprovalMessages,
        after_posted: Callable[[int], Awaitable[None]],
    ) -> None:
        self.d = deps
        self.messages = messages
        self._after_posted = after_posted
        x = deps.config.x
        self.backoff = Backoff(initial=x.retry_initial, cap=x.retry_max)
        self._asked: dict[int, timedelta] = {}  # entry id → the wait X asked for
        self._sending: set[int] = set()  # entries this run is delivering now
        self.outages = Outages()  # the composition root's (bot/services.py)

    async def on_publish(self, timer: Timer) -> None:
        await self.publish(int(timer.payload["post_id"]), timer.payload.get("entry_id"))

    async def _entry_of(self, post: ExternalPost, entry_id: int | None) -> OutboxEntry | None:
        async with self.d.sessions() as session:
            if entry_id is not None:
                return await outbox_queries.get(session, int(entry_id))
            entries = await outbox_queries.of_incident(session, post.incident_id, X_POST)
        mine = [e for e in entries if e.payload.get("post_id") == post.id]
        return mine[-1] if mine else None

    async def publish(self, post_id: int, entry_id: int | None = None) -> None:
        post = await self.messages.get(post_id)
        if post.state != PostState.APPROVED or post.approved_by is None:
            return  # posted, withdrawn, or already being posted
        if self.d.x is None:
            await self._settle(
                post_id,
                PostState.FAILED,
                "X is not configured for this bot (the INCIDENT_BOT_X_* keys)",
            )
            return
        entry = await self._entry_of(post, entry_id)
        if entry is None:  # approved by a run that predates the outbox: queue it now
            async with self.d.changing(post.incident_id) as session:
                entry = self.d.outbox.add(
                    session,
                    X_POST,
                    f"x_post:{post_id}:legacy",
                    {"post_id": post_id},
                    post.incident_id,
                )
        if entry.id in self._sending:
            return  # this run is sending it now: that call settles the post
        self._sending.add(entry.id)
        try:
            entry = await self.d.outbox.deliver(entry.id, self._send)
        except Exception as error:  # in doubt: X may have the post
            if not isinstance(error, XInDoubt):
                log.exception("X post %s: unexpected failure while publishing", post_id)
                error = XInDoubt(f"unexpected {type(error).__name__} while posting")
            await self._settle(post_id, PostState.IN_DOUBT, str(error))
            return
        finally:
            self._sending.discard(entry.id)
        if EffectState(entry.state) is EffectState.SENDING:
            return  # claimed by another live run (a restart settles a dead one's first)
        await self.settle_from(post_id, entry)

    async def _send(self, entry: OutboxEntry) -> Mapping[str, Any]:
        """The effect: the post marked publishing (a row before the request), then X."""
        post_id = int(entry.payload["post_id"])
        incident_id = entry.incident_id
        assert incident_id is not None and self.d.x is not None
        async with self.d.changing(incident_id) as session:
            post = await queries.post(session, post_id)
            if post is None or post.state != PostState.APPROVED or post.approved_by is None:
                raise Superseded("the post is no longer approved")
            post.state = rules.POSTS.check(post.state, PostState.PUBLISHING)
            post.attempts += 1
            text, reply_to = post.text, post.reply_to
        try:
            result = await self.d.x.post(text, reply_to)
        except XUnavailable as error:
            now = self.d.clock.now()
            asked = max((error.retry_at - now) if error.retry_at else timedelta(0), timedelta(0))
            self._asked[entry.id] = asked
            self.outages.down("x", str(error))
            raise Retry(str(error), asked) from None
        except XRejected as error:
            self.outages.up("x")  # it answered
            raise Refused(str(error)) from None
        self.outages.up("x")
        return {"remote_id": result.id}

    async def settle_from(self, post_id: int, entry: OutboxEntry) -> None:
        """Bring the post to what its outbox row says happened (only a post this row was
        publishing: a superseded row leaves the post as it is)."""
        state = EffectState(entry.state)
        post = await self.messages.get(post_id)
        ours = post.state in (PostState.PUBLISHING, PostState.APPROVED)
        if state is EffectState.DONE:
            await self._posted(post_id, str(entry.result["remote_id"]))
        elif state is EffectState.PENDING and ours:
            await self._retry_later(post_id, entry)
        elif state is EffectState.FAILED and post.state == PostState.PUBLISHING:
            await self._settle(post_id, PostState.FAILED, entry.last_error or "X refused it")
        elif state in (EffectState.IN_DOUBT, EffectState.SENDING) and ours:
            await self._settle(post_id, PostState.IN_DOUBT, STOPPED_WHILE_SENDING)

    async def _retry_later(self, post_id: int, entry: OutboxEntry) -> None:
        now = self.d.clock.now()
        error = entry.last_error or "X did not take the post"
        first = entry.attempts == 1
        async with self.d.changing(entry.incident_id or 0) as session:
            post = await queries.post(session, post_id)
            assert post is not None
            if post.state == PostState.PUBLISHING:
                post.state = rules.POSTS.check(post.state, PostState.APPROVED)
            post.last_error = error
            not_before = self._asked.pop(entry.id, timedelta(0))
            retry_at = now + self.backoff.delay(entry.attempts, not_before)
            self.d.timers.schedule(
                session, PUBLISH, retry_at, None, {"post_id": post_id, "entry_id": entry.id}
            )
            incident = await queries.incident(session, post.incident_id)
            assert incident is not None
            if first:
                self.d.record(
                    session,
                    incident,
                    "external_pending",
                    f"X did not take the approved post: {error}; retrying with backoff",
                    None,
                    {"post_id": post_id, "error": error},
                )
        log.warning("X post %s: %s; retry %d at %s", post_id, error, entry.attempts, retry_at)
        await self.messages.refresh_quietly(post_id, retry_at)
        if first:
            await self.messages.tell(
                incident,
                f"⚠️ {error}. The approved post to X stays pending and is retried "
                f"automatically with backoff (next try <t:{int(retry_at.timestamp())}:R>). "
                "It will be posted once.",
            )

    async def _settle(self, post_id: int, state: PostState, reason: str) -> None:
        post = await self.messages.get(post_id)
        async with self.d.changing(post.incident_id) as session:
            row = await queries.post(session, post_id)
            assert row is not None
            row.state = rules.POSTS.check(row.state, state)
            row.last_error = reason
            incident = await queries.incident(session, row.incident_id)
            assert incident is not None
            self.d.record(
                session,
                incident,
                f"external_{state.value}",
                (
                    f"X post in doubt: {reason}"
                    if state == PostState.IN_DOUBT
                    else f"X post not published ({state.value.replace('_', ' ')}): {reason}"
                ),
                None,
                {"post_id": post_id},
            )
        await self.messages.refresh_quietly(post_id)
        # In doubt, X may well have the post: never say it did not go out (a second
        # approval of a post that is up is refused by X as a duplicate, or worse, repeated).
        told = (
            f"⚠️ The post to X is in doubt: {reason}. "
            "Check the account: if the post is not there, approve again."
            if state == PostState.IN_DOUBT
            else f"⚠️ The post to X did not go out: {reason}. "
            "Fix the cause and approve again, or post the text by hand."
        )
        await self.messages.tell(incident, told)

    async def _posted(self, post_id: int, remote_id: str) -> None:
        url = post_url(self.d.config.x.web_base, self.d.config.x.handle, remote_id)
        post = await self.messages.get(post_id)
        async with self.d.changing(post.incident_id) as session:
            row = await queries.post(session, post_id)
            assert row is not None
            if row.state == PostState.POSTED:
                return
            row.state = rules.POSTS.check(row.state, PostState.POSTED)
            row.remote_id, row.url = remote_id, url
            row.posted_at, row.last_error = self.d.clock.now(), None
            incident = await queries.incident(session, row.incident_id)
            assert incident is not None
            what = "Posted to X" if row.purpose == INITIAL else "Replied on X (resolution)"
            self.d.record(
                session,
                incident,
                "external_posted",
                f"{what}: {url}",
                row.approved_by,
                {"post_id": post_id, "url": url, "remote_id": remote_id, "purpose": row.purpose},
            )
        await self.messages.refresh_quietly(post_id)
        await self.messages.tell(incident, f"📣 {what}: {url}")
        await self._after_posted(post.incident_id)

    # -- after a restart -------------------------------------------------------------------
    async def reconcile(self) -> list[int]:
        """Finish what a stopped run left (after the outbox's own recovery): posts in
        flight follow their outbox row (in doubt unless it says otherwise; never re-sent),
        approved ones are queued again, approvals never asked are asked, edits cut short
        end. Returns the ids of the incidents touched."""
        touched: set[int] = set()
        now = self.d.clock.now()
        async with self.d.sessions.begin() as session:
            in_flight = await queries.posts_in_state(session, PostState.PUBLISHING)
            for post in await queries.posts_in_state(session, PostState.APPROVED):
                if not await queries.has_pending_timer(session, None, [PUBLISH], post_id=post.id):
                    self.d.timers.schedule(session, PUBLISH, now, None, {"post_id": post.id})
            for post in await queries.posts_in_state(session, PostState.AWAITING):
                if post.approval_message_id is None and not await queries.has_pending_timer(
                    session, None, [ASK], post_id=post.id
                ):
                    self.d.timers.schedule(
                        session, ASK, now, None, {"post_id": post.id, "recover": True}
                    )
            edited = await queries.posts_being_edited(session)
            for post in edited:  # the message may show the text before: show the stored one
                post.editing_since = None
        for post in edited:
            await self.messages.refresh_quietly(post.id)
        for post in in_flight:
            entry = await self._entry_of(post, None)
            if entry is not None and entry.id in self._sending:
                continue  # this run is sending it now (a timer fired before this ran)
            if entry is None:  # no row: it went out the way it did before the outbox
                await self._settle(post.id, PostState.IN_DOUBT, STOPPED_WHILE_SENDING)
            else:
                await self.settle_from(post.id, entry)
            touched.add(post.incident_id)
        return sorted(touched)
