"""The bot's tables. Knows nothing of Discord or cogs: ids are plain strings."""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from storage.types import UTCDateTime, utcnow


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime, dict[str, Any]: JSON}


class Incident(Base):
    __tablename__ = "incidents"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    slug: Mapped[str] = mapped_column(String(100))
    summary: Mapped[str | None] = mapped_column(Text)
    severity: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20), index=True)
    source: Mapped[str] = mapped_column(String(20), default="command")
    # The interaction (or alert group) that asked for this incident: a retry finds it.
    request_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    declared_by: Mapped[str | None] = mapped_column(String(32))
    declared_at: Mapped[datetime] = mapped_column(default=utcnow)
    down_since: Mapped[datetime | None]
    channel_id: Mapped[str | None] = mapped_column(String(32), unique=True)
    channel_name: Mapped[str | None] = mapped_column(String(100))
    kickoff_message_id: Mapped[str | None] = mapped_column(String(32))
    ops_alerts_message_id: Mapped[str | None] = mapped_column(String(32))
    commander_id: Mapped[str | None] = mapped_column(String(32))
    acknowledged_at: Mapped[datetime | None]
    acknowledged_by: Mapped[str | None] = mapped_column(String(32))
    escalation_level: Mapped[int] = mapped_column(Integer, default=0)
    response_breached_at: Mapped[datetime | None]
    resolved_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    github_issue_number: Mapped[int | None]
    github_issue_url: Mapped[str | None] = mapped_column(String(300))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class TimelineEvent(Base):
    __tablename__ = "timeline_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor_id: Mapped[str | None] = mapped_column(String(32))  # None: the bot itself
    kind: Mapped[str] = mapped_column(String(40))
    text: Mapped[str] = mapped_column(Text)
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    message_id: Mapped[str | None] = mapped_column(String(32))

    __table_args__ = (Index("ix_timeline_incident_at", "incident_id", "at"),)


class Page(Base):
    """Someone (a user or a role) paged for an incident, at an escalation level."""

    __tablename__ = "pages"

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"))
    target_kind: Mapped[str] = mapped_column(String(10))  # "user" | "role"
    target_id: Mapped[str] = mapped_column(String(32))
    level: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    # pending (recorded, its message not yet sent) → sent | failed | cancelled; the
    # table of moves is bot/triage/base.py's PAGES. The message is sent through the outbox.
    state: Mapped[str] = mapped_column(String(12), default="sent", server_default="sent")
    message_id: Mapped[str | None] = mapped_column(String(32))


class Timer(Base):
    """A durable deadline. ``state``: pending → firing → done | cancelled | failed."""

    __tablename__ = "timers"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))
    due_at: Mapped[datetime]
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"))
    state: Mapped[str] = mapped_column(String(12), default="pending")
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    fired_at: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (Index("ix_timers_state_due", "state", "due_at"),)


class RotationOverride(Base):
    __tablename__ = "rotation_overrides"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[str] = mapped_column(String(32))
    position: Mapped[str] = mapped_column(String(10), default="primary")
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    reason: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class AlertNotification(Base):
    """One webhook delivery, committed before the 2xx answer; the worker applies it once.

    ``body`` is the request body as received (the generic format's ``routing_key``
    removed). ``state``: pending → done | failed (a body the parser refuses after all).
    """

    __tablename__ = "alert_notifications"

    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(String(20))  # alertmanager | grafana | generic
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    body: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(12), default="pending", index=True)
    processed_at: Mapped[datetime | None]
    error: Mapped[str | None] = mapped_column(Text)
    # A signed request's digest: the same signed request again within the replay
    # window is answered with this row's id instead of being stored twice.
    replay_key: Mapped[str | None] = mapped_column(String(64), index=True)


class AlertGroup(Base):
    """One alert group (Alertmanager ``groupKey``, Grafana's, generic ``dedup_key``).

    ``state``: opening (an incident is to be declared) → open (``incident_id`` set), or
    digest (a storm entry listed in the ops-alerts channel, ``digest_message_id`` once
    posted). ``notes`` are changes waiting to be recorded and posted in the incident
    channel: a row first, a message second.
    """

    __tablename__ = "alert_groups"

    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(String(20))
    group_key: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(12), default="opening", index=True)
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incidents.id"))
    title: Mapped[str] = mapped_column(String(300), default="")
    summary: Mapped[str | None] = mapped_column(Text)
    severity: Mapped[str | None] = mapped_column(String(20))
    severity_note: Mapped[str | None] = mapped_column(Text)
    notes: Mapped[list[Any]] = mapped_column(JSON, default=list)
    digest_message_id: Mapped[str | None] = mapped_column(String(32))
    open_attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    first_seen: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (UniqueConstraint("source", "group_key"),)


class Alert(Base):
    """One alert of a group, by fingerprint; a repeat only counts ``fire_count`` up."""

    __tablename__ = "alerts"

    id: Mapped[int] = mapped_column(primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("alert_groups.id", ondelete="CASCADE"))
    fingerprint: Mapped[str] = mapped_column(String(200))
    name: Mapped[str] = mapped_column(String(200), default="")
    status: Mapped[str] = mapped_column(String(12))  # firing | resolved
    labels: Mapped[dict[str, Any]] = mapped_column(default=dict)
    annotations: Mapped[dict[str, Any]] = mapped_column(default=dict)
    url: Mapped[str | None] = mapped_column(Text)
    starts_at: Mapped[datetime | None]
    ends_at: Mapped[datetime | None]
    fire_count: Mapped[int] = mapped_column(Integer, default=1)
    first_seen: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (UniqueConstraint("group_id", "fingerprint"),)


class ExternalPost(Base):
    """A status post for X: drafted, approved by a person, then published exactly once.

    ``state``: awaiting_approval → approved → publishing → posted, or withdrawn (the
    incident moved on first), failed (X refused it for good), in_doubt (the bot stopped
    while X had the request: a person checks and approves again if it is missing).
    """

    __tablename__ = "external_posts"

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"))
    purpose: Mapped[str] = mapped_column(String(20))  # "initial" | "resolve"
    text: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(20), default="awaiting_approval", index=True)
    approval_message_id: Mapped[str | None] = mapped_column(String(32))
    approved_by: Mapped[str | None] = mapped_column(String(32))
    approved_at: Mapped[datetime | None]
    posted_at: Mapped[datetime | None]
    remote_id: Mapped[str | None] = mapped_column(String(64))
    url: Mapped[str | None] = mapped_column(String(300))  # the public link, once posted
    reply_to: Mapped[str | None] = mapped_column(String(64))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Set while an edit's new text is stored but the approval message may still show the
    # old one: a ✅ then approves nothing (people approve what they read).
    editing_since: Mapped[datetime | None]

    __table_args__ = (UniqueConstraint("incident_id", "purpose"),)


class OutboxEntry(Base):
    """An effect that must happen exactly once (bot/core/outbox.py): a row, then the effect.

    ``state``: pending → sending → done | failed, or in_doubt (the bot stopped while the
    other side had the request, and nothing could tell whether it happened). ``key`` is
    the effect's identity (``page:12:1``): one key, one effect.
    """

    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))
    key: Mapped[str] = mapped_column(String(200), unique=True)
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"))
    state: Mapped[str] = mapped_column(String(12), default="pending", index=True)
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    result: Mapped[dict[str, Any]] = mapped_column(default=dict)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    done_at: Mapped[datetime | None]


class ReactionRefusal(Base):
    """A person told once that their reaction on a message was refused (and removed): a
    second toggle of the same reaction, or a restart, tells them nothing again."""

    __tablename__ = "reaction_refusals"

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[str] = mapped_column(String(32))
    user_id: Mapped[str] = mapped_column(String(32))
    at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (UniqueConstraint("message_id", "user_id"),)


class DeclarationDraft(Base):
    """A declaration held back because its title matches an open incident
    (bot/triage/duplicates.py): what "Declare anyway" declares, after a restart too."""

    __tablename__ = "declaration_drafts"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    severity: Mapped[str] = mapped_column(String(20))
    summary: Mapped[str | None] = mapped_column(Text)
    declared_by: Mapped[str | None] = mapped_column(String(32))
    matched_incident_id: Mapped[int | None] = mapped_column(
        ForeignKey("incidents.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class TranscriptMessage(Base):
    """One message of an incident channel or of one of its threads, kept as it arrived and
    as it was edited; a deleted one keeps its text and gets ``deleted_at`` (the postmortem
    is drafted from these rows, never from the channel)."""

    __tablename__ = "transcript_messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"))
    message_id: Mapped[int] = mapped_column(BigInteger, unique=True)  # the snowflake
    channel_id: Mapped[str] = mapped_column(String(32))  # the incident channel
    thread_id: Mapped[str | None] = mapped_column(String(32))  # a thread of it, if any
    author_id: Mapped[str] = mapped_column(String(32))
    author_name: Mapped[str] = mapped_column(String(100), default="")
    is_bot: Mapped[bool] = mapped_column(Boolean, default=False)
    content: Mapped[str] = mapped_column(Text, default="")
    attachments: Mapped[list[Any]] = mapped_column(JSON, default=list)  # file names
    created_at: Mapped[datetime]
    edited_at: Mapped[datetime | None]
    deleted_at: Mapped[datetime | None]

    __table_args__ = (Index("ix_transcript_incident_created", "incident_id", "created_at"),)


class PostmortemRecord(Base):
    """What people wrote for an incident's postmortem (impact, 5 whys, lessons), the last
    draft, the publication and a missed deadline: one row per incident."""

    __tablename__ = "postmortems"

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(
        ForeignKey("incidents.id", ondelete="CASCADE"), unique=True
    )
    impact: Mapped[str | None] = mapped_column(Text)
    whys: Mapped[list[Any]] = mapped_column(JSON, default=list)
    lessons: Mapped[list[Any]] = mapped_column(JSON, default=list)
    drafted_at: Mapped[datetime | None]
    published_commit: Mapped[str | None] = mapped_column(String(64))
    published_path: Mapped[str | None] = mapped_column(String(300))
    published_at: Mapped[datetime | None]
    published_by: Mapped[str | None] = mapped_column(String(32))
    breached_at: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
