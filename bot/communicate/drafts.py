"""X drafts following the incident: drafted when the severity's policy says (at once, or
after enough downtime), withdrawn when the incident moves past them, drafted again."""

from __future__ import annotations

from bot.communicate import rules
from bot.communicate.asking import ApprovalMessages
from bot.communicate.base import ASK, EXTERNAL_DUE, Deps
from bot.communicate.matrix import external_request_at, is_open, posts_externally
from bot.communicate.rules import INITIAL, RESOLVE, PostState
from bot.communicate.weighted import measure
from bot.procedure import Severity
from bot.triage.lifecycle import Status
from storage import communicate as queries
from storage.models import ExternalPost, Incident, Timer


class Drafts:
    def __init__(self, deps: Deps, messages: ApprovalMessages) -> None:
        self.d = deps
        self.messages = messages

    def draft_text(self, purpose: str, incident: Incident, level: Severity) -> str:
        """The template's text; a title too long for X is shortened (never the rest)."""
        context = rules.draft_context(
            incident, level, self.d.config.x.product, self.d.config.x.handle, self.d.clock.now()
        )
        template = rules.template_of(purpose)
        return rules.shorten_to_fit(
            lambda title: self.d.renderer.render(template, title=title, **context),
            incident.title,
        )

    async def ensure_external(self, incident_id: int) -> None:
        """Ask now, or schedule the asking, as the severity's external policy says."""
        async with self.d.changing(incident_id) as session:
            incident = await queries.hold_incident(session, incident_id)
            initial = await queries.post_of(session, incident_id, INITIAL)
            if incident is None or not is_open(incident):
                return
            level = self.d.incidents.severity(incident.severity)
            if not posts_externally(level) or (initial and initial.state != PostState.WITHDRAWN):
                return
            at = external_request_at(level, incident)
            if at is None:
                return
            ask_now = at <= self.d.clock.now()
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
        async with self.d.sessions() as session:
            incident = await queries.incident(session, incident_id)
        if incident is None or not is_open(incident):
            return  # resolved sooner: nothing is asked
        level = self.d.incidents.severity(incident.severity)
        at = external_request_at(level, incident)
        if timer.payload.get("severity") != incident.severity or at is None:
            return  # superseded by a severity change
        if at > self.d.clock.now():
            return
        await self.request(incident_id, INITIAL)

    async def request(self, incident_id: int, purpose: str) -> ExternalPost | None:
        """Draft the post and have approval asked in the incident channel (idempotent: an
        existing draft is returned as it is, a withdrawn one drafted again). The asking is
        a durable action of its own (a timer), retried with backoff if Discord fails."""
        async with self.d.changing(incident_id) as session:
            incident = await queries.hold_incident(session, incident_id)
            if incident is None or incident.channel_id is None:
                return None
            level = self.d.incidents.severity(incident.severity)
            reply_to = None
            if purpose == INITIAL:
                if not is_open(incident) or not posts_externally(level):
                    return None
            else:
                initial = await queries.post_of(session, incident_id, INITIAL)
                if incident.status != Status.RESOLVED or initial is None:
                    return None
                if initial.state != PostState.POSTED:
                    return None
                reply_to = initial.remote_id
            post = await queries.post_of(session, incident_id, purpose)
            if post is not None and post.state != PostState.WITHDRAWN:
                return post
            text = self.draft_text(purpose, incident, level)
            if post is None:
                post = ExternalPost(
                    incident_id=incident_id,
                    purpose=purpose,
                    text=text,
                    state=PostState.AWAITING,
                    created_at=self.d.clock.now(),
                )
                session.add(post)
            else:
                post.state = rules.POSTS.check(post.state, PostState.AWAITING)
            post.text, post.reply_to = text, reply_to
            post.approval_message_id = post.approved_by = post.approved_at = None
            post.last_error, post.attempts, post.editing_since = None, 0, None
            await session.flush()
            measured = measure(text)
            what = "first X post" if purpose == INITIAL else "X reply announcing the resolution"
            self.d.record(
                session,
                incident,
                "external_draft",
                f"Drafted the {what} ({measured.weighted}/{measured.limit} weighted characters); "
                "approval asked in the channel",
                None,
                {"post_id": post.id, "purpose": purpose, "text": text},
            )
            self.d.timers.schedule(session, ASK, self.d.clock.now(), None, {"post_id": post.id})
        return post

    async def withdraw(self, incident_id: int, purpose: str, reason: str) -> bool:
        """Withdraw a draft that has not gone out; True if there was one."""
        async with self.d.changing(incident_id) as session:
            post = await queries.post_of(session, incident_id, purpose)
            if post is None or post.state not in rules.UNPUBLISHED:
                return False
            post.state = rules.POSTS.check(post.state, PostState.WITHDRAWN)
            post.last_error = reason
            self.d.record(
                session,
                await queries.existing_incident(session, incident_id),
                "external_withdrawn",
                f"Withdrew the {purpose} X post draft: {reason}",
                None,
                {"post_id": post.id},
            )
            post_id = post.id
        await self.messages.refresh_quietly(post_id)
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
            incident = await queries.incident(session, incident_id)
        if incident is None:
            return
        level = self.d.incidents.severity(incident.severity)
        if not posts_externally(level):
            async with self.d.changing(incident_id) as session:
                await self.d.timers.cancel(session, incident_id, [EXTERNAL_DUE])
            await self.withdraw(
                incident_id, INITIAL, f"{level.name} incidents are not announced externally"
            )
            return
        await self.ensure_external(incident_id)
