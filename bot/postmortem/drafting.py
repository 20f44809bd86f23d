"""``/postmortem draft``: the procedure's template filled from the database alone (the
timeline, the transcript's authors, what people wrote), never from the channel.

Every piece of outside text goes through :func:`bot.core.text.from_outside`: a message
holding ``@everyone``, a heading or a code fence changes nothing in the document.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import PurePosixPath
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.core.durations import format_duration
from bot.core.render import Renderer
from bot.core.text import from_outside, safe_url
from bot.follow_up.items import draft_lines
from bot.postmortem import timeline_rules as rules
from bot.postmortem.timeline import as_event
from bot.procedure import Procedure
from storage import postmortem as queries
from storage import transcript as transcript_queries
from storage.models import Incident, PostmortemRecord

TEMPLATE = "postmortem.md.j2"
PLACEHOLDER_IMPACT = "_Not written yet: `/postmortem impact text:` says what users experienced._"
PLACEHOLDERS = {
    "placeholder_timeline": "_Nothing recorded yet: milestones appear as they happen or are marked._",
    "placeholder_whys": "_Not written yet: `/postmortem why text:` adds each why, in order._",
    "placeholder_lessons": "_Not written yet: `/postmortem lesson text:` adds what we'll do differently._",
    "placeholder_participants": "_Nobody has written in the channel yet._",
}
PLACEHOLDER_ACTIONS = [
    "<action>, owner, due date (from the follow-up issue once it has items)",
    "<action>, owner, due date",
]
NOT_YET = "not yet known"


@dataclass(frozen=True)
class Draft:
    path: str  # incidents/YYYY-MM-DD-<slug>.md
    text: str
    empty: tuple[str, ...]  # the sections still placeholders

    @property
    def filename(self) -> str:
        return PurePosixPath(self.path).name


def one_line(text: str, name_of: Callable[[str], str], limit: int = 500) -> str:
    return from_outside(" ".join(rules.named(text, name_of).split()), limit) or "(no text)"


def paragraph(text: str, name_of: Callable[[str], str]) -> str:
    return from_outside(rules.named(text, name_of), 4000) or "(no text)"


def _span(delta: timedelta | None) -> str:
    return format_duration(delta) if delta is not None else NOT_YET


@dataclass(frozen=True)
class Inputs:
    """Everything a draft is made of, read in one session."""

    incident: Incident
    record: PostmortemRecord | None
    events: list[rules.Event]
    alert_starts: list[tuple[str, datetime]]
    participants: list[tuple[str, str, int]]
    alert_urls: list[str]
    post_urls: list[str]
    action_items: list[str] = field(default_factory=list)  # bot/follow_up/items.py


async def read_inputs(session: AsyncSession, incident: Incident) -> Inputs:
    return Inputs(
        incident,
        await queries.find_record(session, incident.id),
        [as_event(e) for e in await queries.timeline(session, incident.id)],
        await queries.alert_starts(session, incident.id),
        await transcript_queries.authors(session, incident.id),
        await queries.alert_urls(session, incident.id),
        await queries.posted_urls(session, incident.id),
        await draft_lines(session, incident.id),
    )


def render_draft(
    renderer: Renderer,
    inputs: Inputs,
    path: str,
    day: str,
    severity: str,
    zone: ZoneInfo,
    name_of: Callable[[str], str],
) -> Draft:
    incident, record = inputs.incident, inputs.record
    found = rules.lines(inputs.events, inputs.alert_starts)
    measured = rules.measures(
        found,
        incident.declared_at,
        incident.acknowledged_at,
        incident.resolved_at,
        incident.down_since,
    )
    stamps = rules.stamps([line.at for line in found], zone)
    timeline = []
    for stamp, line in zip(stamps, found, strict=True):
        text = one_line(line.text, name_of, 300)
        entry = f"{stamp}, {line.label}" + (f": {text}" if text != line.label else "")
        if line.actor_id and line.kind.startswith(
            ("root_cause", "mitigation", "restored", "note", "fix")
        ):
            entry += f" ({one_line(name_of(line.actor_id), name_of, 100)})"
        if line.tx_hash:
            entry += f" (tx `{line.tx_hash.replace('`', '')}`)"
        timeline.append(entry)
    whys = [one_line(w, name_of) for w in (record.whys if record else []) or []]
    lessons = [one_line(w, name_of) for w in (record.lessons if record else []) or []]
    impact = paragraph(record.impact, name_of) if record and record.impact else PLACEHOLDER_IMPACT
    empty = [
        name
        for name, missing in (
            ("impact", not (record and record.impact)),
            ("5 whys", not whys),
            ("lessons", not lessons),
            ("timeline: root cause", not any(line.kind == "root_cause" for line in found)),
            ("timeline: service restored", measured.restored_at is None),
        )
        if missing
    ]
    actions = list(PLACEHOLDER_ACTIONS)
    if inputs.action_items:
        actions = list(inputs.action_items)
    elif incident.github_issue_url and safe_url(incident.github_issue_url):
        actions[0] = f"<action>, owner, due date (tracked in {incident.github_issue_url})"
    participants = [
        f"{one_line(name, name_of, 100)} ({count} message{'s' if count != 1 else ''})"
        + (" (incident commander)" if author == incident.commander_id else "")
        for author, name, count in inputs.participants
    ]
    if incident.commander_id and not any(
        a == incident.commander_id for a, _, _ in inputs.participants
    ):
        participants.insert(
            0, f"{one_line(name_of(incident.commander_id), name_of, 100)} (incident commander)"
        )
    links = _links(inputs, found)
    text = renderer.render(
        TEMPLATE,
        title=one_line(incident.title, name_of, 200),
        date=day,
        severity=severity,
        duration=rules.hours(measured.duration) or NOT_YET + " (impact start to service restored)",
        impact=impact,
        timeline=timeline,
        whys=whys,
        action_items=actions,
        lessons=lessons,
        measures={
            "to_detect": _span(measured.to_detect),
            "to_acknowledge": _span(measured.to_acknowledge),
            "to_mitigate": _span(measured.to_mitigate),
            "to_resolve": _span(measured.to_resolve),
        },
        participants=participants,
        links=links,
        **PLACEHOLDERS,
    )
    return Draft(path, text + "\n", tuple(empty))


def _links(inputs: Inputs, found: list[rules.Line]) -> list[str]:
    links: list[str] = []

    def add(label: str, url: str | None) -> None:
        cleaned = safe_url(url)
        if cleaned and f"{label}: <{cleaned}>" not in links:
            links.append(f"{label}: <{cleaned}>")

    for url in inputs.alert_urls:
        add("Alert source", url)
    for url in inputs.post_urls:
        add("X post", url)
    add("GitHub issue", inputs.incident.github_issue_url)
    for event in inputs.events:
        branch = event.data.get("branch") or event.data.get("hotfix_branch")
        if isinstance(branch, str) and branch:
            links.append(f"Hotfix branch: `{branch.replace('`', '')}`")
        tx_url = event.data.get("tx_url")
        if isinstance(tx_url, str):
            add("Transaction", tx_url)
    for line in found:
        if line.tx_hash:
            entry = f"Transaction: `{line.tx_hash.replace('`', '')}`"
            if entry not in links:
                links.append(entry)
    return links


class DraftService:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        renderer: Renderer,
        procedure: Procedure,
        zone: ZoneInfo,
        name_of: Callable[[str], str],
        local_date: Callable[[Incident], date],
    ) -> None:
        self._sessions, self._renderer, self._procedure = sessions, renderer, procedure
        self._zone, self._name_of, self._local_date = zone, name_of, local_date

    def path_of(self, incident: Incident) -> str:
        day = self._local_date(incident)
        return self._procedure.postmortem.path_for(day, incident.slug)

    async def draft(self, incident: Incident, mark_drafted_at: datetime | None = None) -> Draft:
        async with self._sessions() as session:
            inputs = await read_inputs(session, incident)
        draft = render_draft(
            self._renderer,
            inputs,
            self.path_of(incident),
            str(self._local_date(incident)),
            self._procedure.severity(incident.severity).name,
            self._zone,
            self._name_of,
        )
        if mark_drafted_at is not None:
            async with self._sessions.begin() as session:
                row = await queries.record_of(session, incident.id)
                row.drafted_at = mark_drafted_at
        return draft
