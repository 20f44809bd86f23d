"""How an alert group becomes an incident: the rules, as plain functions.

No database, no Discord, no clock of their own: the worker (bot/alerts/worker.py
and its steps) reads rows, asks these functions what to do, and writes the answer.

- :func:`request_key`, :func:`next_incident_number`: which incident a group opens.
- :data:`GROUP_STATES`: how an alert group moves (opening → open, storm → digest…).
- :func:`is_storm`: when a new group goes to the storm digest instead of a channel.
- :func:`wants_incident`, :func:`on_new_firing`: what a new or re-firing alert does
  to its group (a note, a new incident, or a digest entry).
- :data:`OPEN_BACKOFF`, :data:`NOTES_BACKOFF`, :func:`notes_given_up`: retries.
- :func:`make_note`, :func:`timeline_text`, :func:`timeline_data`: what a note says.
- :func:`pack_digest`: storm entries packed into messages.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, TypeVar

from bot.alerts.notification import AlertEvent, Notification, clip
from bot.core.backoff import Backoff
from bot.core.states import StateTable
from bot.core.text import from_outside, in_code, safe_url
from bot.triage.lifecycle import OPEN_STATES, Status

MAX_REQUEST_KEY = 200
MAX_MESSAGE = 2000
NOTE_ALERTS = 10  # alerts shown by name in one note; the rest are counted
NOTE_LABELS = 8  # labels shown per alert (beyond alertname, which is its name)
STORM_WINDOW = timedelta(minutes=1)
STORM_QUIET = timedelta(minutes=10)  # a digest after this much quiet pings the on-call again
DIGEST_CHUNK = 15  # entries per digest message at most
NOTE_TRIES = 5  # failed posts of a group's notes before they are given up (the timeline has them)
OPEN_BACKOFF = Backoff(initial=timedelta(seconds=2), cap=timedelta(seconds=60))
NOTES_BACKOFF = Backoff(initial=timedelta(seconds=2), cap=timedelta(seconds=60))
MENTIONING = frozenset({"resolved", "refiring"})  # note kinds that mention the commander
LIVE = frozenset({Status.OPENING.value, *(s.value for s in OPEN_STATES)})
DOWN_SINCE_LIMIT = timedelta(days=7)


class GroupState(StrEnum):
    OPENING = "opening"  # an incident is to be declared
    OPEN = "open"  # bound to its incident (``incident_id``)
    DIGEST = "digest"  # a storm entry, listed in the ops-alerts channel


GROUP_STATES: StateTable[GroupState] = StateTable(
    "alert group",
    {
        # Declared; or listed after all (Discord refused the channel for good).
        GroupState.OPENING: frozenset({GroupState.OPEN, GroupState.DIGEST}),
        # Its incident was resolved or closed and an alert fires again: a new incident,
        # or a digest entry when that happens in a storm.
        GroupState.OPEN: frozenset({GroupState.OPENING, GroupState.DIGEST}),
        # A new alert after the storm: the group opens at last.
        GroupState.DIGEST: frozenset({GroupState.OPENING}),
    },
)


# -- which incident ------------------------------------------------------------------------------
def request_key(source: str, group_key: str, n: int = 0) -> str:
    """The request key of a group's ``n``-th incident (counted from 0): a retry or restart
    finds the same incident, and a group that recurs after its incident was resolved
    opens a new one (``alert:{source}:{key}:{n}``)."""
    suffix = f":{n}" if n else ""
    key = f"alert:{source}:{group_key}{suffix}"
    if len(key) <= MAX_REQUEST_KEY:
        return key
    digest = hashlib.sha256(group_key.encode("utf-8", "surrogatepass")).hexdigest()
    return f"alert:{source}:sha256:{digest}{suffix}"


def next_incident_number(source: str, group_key: str, previous_key: str | None) -> int:
    """How many incidents a group has had, read from its last incident's request key."""
    if previous_key is None:
        return 0
    base = request_key(source, group_key)
    if previous_key == base:
        return 1
    rest = previous_key.removeprefix(base + ":")
    return int(rest) + 1 if rest != previous_key and rest.isdigit() else 1


def down_since(started: datetime | None, now: datetime) -> datetime | None:
    """When the service went down, from the alerts' start: trusted within a week of now."""
    if started is None or not now - DOWN_SINCE_LIMIT <= started <= now:
        return None
    return started


# -- storms and recurrences ----------------------------------------------------------------------
def is_storm(opened_in_window: int, storm_limit: int) -> bool:
    """True when ``storm_limit`` incidents were opened in the last ``STORM_WINDOW``."""
    return opened_in_window >= storm_limit


def wants_incident(state: str, incident_status: str | None, stored: bool) -> bool:
    """Whether a new or re-firing alert finds its group without a live incident.

    A group bound to a live incident takes a note, as ever; so does one being opened,
    or one digested in this very batch (not ``stored`` yet). A group listed in a
    digest, or whose incident people resolved or closed, wants an incident.
    """
    if state == GroupState.OPEN:
        return incident_status is not None and incident_status not in LIVE
    return state == GroupState.DIGEST and stored


def on_new_firing(state: str, storm: bool) -> GroupState | None:
    """Where a group that :func:`wants_incident` goes; None: it stays as it is.

    A digested group opens once the storm is over (the storm limit batches bursts; it
    does not mute a group for good). A group whose incident was resolved or closed
    opens a *new* incident, which says it recurred (a machine never reopens the old
    one), or, in a storm, becomes a digest entry again.
    """
    if storm:
        return None if state == GroupState.DIGEST else GroupState.DIGEST
    return GroupState.OPENING


# -- retries -------------------------------------------------------------------------------------
def open_retry(attempts: int) -> timedelta:
    """The wait before opening a group's incident again after ``attempts`` failures."""
    return OPEN_BACKOFF.delay(attempts)


def notes_given_up(tries: int) -> bool:
    """After ``NOTE_TRIES`` failed posts a group's notes are dropped (the timeline has them)."""
    return tries >= NOTE_TRIES


def notes_due(last_posted: datetime | None, now: datetime, every: timedelta) -> datetime | None:
    """None when a group's notes may be posted now; else when (one message per ``every``)."""
    if last_posted is None or now >= last_posted + every:
        return None
    return last_posted + every


def mentions_commander(notes: Sequence[dict[str, Any]], commander_id: str | None) -> bool:
    """A resolved or re-firing alert mentions the commander; other notes do not."""
    return bool(commander_id) and any(n["kind"] in MENTIONING for n in notes)


# -- notes ---------------------------------------------------------------------------------------
def make_note(
    kind: str,
    at: datetime,
    events: Sequence[AlertEvent],
    notification: Notification,
    mapped: Sequence[str | None] = (),
) -> dict[str, Any]:
    """A note of a group: what changed, as the timeline and the channel will show it.

    What the sender wrote (names, summaries, links) is made inert here, once, for
    every message after (bot/core/text.py).
    """
    shown = list(events[:NOTE_ALERTS])
    return {
        "kind": kind,
        "at": at.isoformat(),
        "source": notification.source,
        "count": len(events),
        "alerts": [
            {
                "name": from_outside(e.name, 200) or "alert",
                "fingerprint": e.fingerprint,
                "summary": from_outside(e.summary, 300),
                "url": safe_url(e.url),
                "value": in_code(e.severity) if e.severity else None,
                "severity": mapped[i] if i < len(mapped) else None,
                "starts_at": e.starts_at.isoformat() if e.starts_at else None,
                "ends_at": e.ends_at.isoformat() if e.ends_at else None,
                "labels": shown_labels(e.labels),
            }
            for i, e in enumerate(shown)
        ],
        "fingerprints": [e.fingerprint for e in events],
        "link": safe_url(notification.link),
        "recorded": False,
    }


def shown_labels(labels: dict[str, str]) -> list[list[str]]:
    """An alert's labels beyond ``alertname`` as ``[key, value]`` pairs, sorted, inert
    (each goes inside a code span), at most :data:`NOTE_LABELS` of them."""
    pairs = sorted((str(k), str(v)) for k, v in labels.items() if k != "alertname")
    return [[in_code(k, 40), in_code(v, 80)] for k, v in pairs[:NOTE_LABELS]]


def names(note: dict[str, Any]) -> str:
    shown = ", ".join(a["name"] for a in note["alerts"])
    more = note["count"] - len(note["alerts"])
    return shown + (f" and {more} more" if more > 0 else "")


def timeline_text(note: dict[str, Any]) -> str:
    kind, count = note["kind"], note["count"]
    plural = "s" if count != 1 else ""
    if kind == "opened":
        opened = f"Opened by {note['source']}: {count} alert{plural} firing ({names(note)})"
        recurred = note.get("recurred")
        if recurred:
            opened += (
                f"; recurred after incident #{recurred['incident_id']} was {recurred['status']}"
            )
        return opened
    if kind == "new":
        return f"New alert{plural} in the group: {names(note)}"
    if kind == "resolved":
        return f"Alert{plural} resolved at the source: {names(note)}"
    if kind == "refiring":
        return f"Alert{plural} firing again: {names(note)}"
    return f"Acknowledged at the source ({note['source']})"


def timeline_data(note: dict[str, Any], group_id: int) -> dict[str, Any]:
    return {
        "source": note["source"],
        "group_id": group_id,
        "count": note["count"],
        "fingerprints": note["fingerprints"][:1000],
        **({"recurred_from": note["recurred"]["incident_id"]} if note.get("recurred") else {}),
    }


# -- digest --------------------------------------------------------------------------------------
T = TypeVar("T")


def pack_digest(
    entries: Sequence[T], render: Callable[[list[T], bool], str]
) -> list[tuple[list[T], str]]:
    """Entries packed into messages of at most 2000 characters and ``DIGEST_CHUNK`` entries;
    ``render(entries, header)`` writes one, the first with the header."""
    messages: list[tuple[list[T], str]] = []
    chunk: list[T] = []
    content = ""
    for entry in entries:
        trial = [*chunk, entry]
        text = render(trial, not messages)
        if chunk and (len(text) > MAX_MESSAGE or len(trial) > DIGEST_CHUNK):
            messages.append((chunk, content))
            trial = [entry]
            text = render(trial, False)
        chunk, content = trial, text
    if chunk:
        messages.append((chunk, content))
    return [(c, clip_message(t)) for c, t in messages]


def clip_message(text: str) -> str:
    """A message Discord takes: at most ``MAX_MESSAGE`` characters (the one ``clip``)."""
    return clip(text, MAX_MESSAGE) or ""
