"""The rules of external comms as plain functions: who may approve an X post, the post's
state table, what a draft says. Tested without Discord or a database.

A post is a row before it is anything else (``ExternalPost``), and it moves through
one state table:

    awaiting_approval ──approve──▶ approved ──claim──▶ publishing ──X took it──▶ posted
          ▲  │edit                    ▲  │                 │
          │  ▼                        │  └─ 429/outage ◀───┘ (back to approved, retried
          └──┘                        │                       with backoff by a timer)
    in_doubt / failed ──approve again─┘

``publishing`` is written before the request leaves, so a run that stops while X
holds the request finds it at start and marks it ``in_doubt`` instead of sending it
again: a person looks at the account and approves again only if the post is missing.
Drafts the incident has moved past (resolved before approval, downgraded to a severity
that never posts) are ``withdrawn``; a withdrawn draft is drafted again when the
incident comes back to it. Nothing reaches X without an ``approved_by``.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from datetime import datetime
from enum import StrEnum
from typing import Any

from bot.communicate.weighted import measure
from bot.core.permissions import Actor, describe, require
from bot.core.states import StateTable
from bot.errors import NotAllowed
from bot.settings import Permissions

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


_P = PostState
POSTS: StateTable[PostState] = StateTable(
    "X post",
    {
        _P.AWAITING: frozenset({_P.APPROVED, _P.WITHDRAWN}),
        _P.APPROVED: frozenset({_P.PUBLISHING, _P.FAILED, _P.IN_DOUBT, _P.WITHDRAWN}),
        _P.PUBLISHING: frozenset({_P.POSTED, _P.APPROVED, _P.IN_DOUBT, _P.FAILED}),
        _P.IN_DOUBT: frozenset({_P.APPROVED, _P.WITHDRAWN}),
        _P.FAILED: frozenset({_P.APPROVED, _P.WITHDRAWN}),
        _P.WITHDRAWN: frozenset({_P.AWAITING}),  # drafted again
        _P.POSTED: frozenset(),
    },
)

APPROVABLE = (PostState.AWAITING, PostState.IN_DOUBT, PostState.FAILED)
UNPUBLISHED = (*APPROVABLE, PostState.APPROVED)  # may still be withdrawn
DONE_OR_GOING = (PostState.APPROVED, PostState.PUBLISHING, PostState.POSTED)

TITLES = {
    PostState.AWAITING: "📝 Draft X post: needs approval",
    PostState.APPROVED: "⏳ X post: approved, posting",
    PostState.PUBLISHING: "⏳ X post: approved, posting",
    PostState.POSTED: "✅ X post: posted",
    PostState.IN_DOUBT: "❓ X post: check the account",
    PostState.FAILED: "⚠️ X post: refused by X",
    PostState.WITHDRAWN: "X post: withdrawn",
}
COLOURS = {PostState.POSTED: 0x57F287, PostState.FAILED: 0xED4245, PostState.IN_DOUBT: 0xE67E22}
DEFAULT_COLOUR = 0x1DA1F2


# -- who may approve -------------------------------------------------------------------------
def check_approver(
    permissions: Permissions,
    actor: Actor,
    commander_id: str | None,
    paged: frozenset[str],
    doing: str = "approve",
) -> None:
    """NotAllowed unless ``actor`` may ``doing`` (approve, edit) X posts of this incident:
    the shared permission check, with the incident's commander and the people paged."""
    try:
        require(permissions, "approve_external", actor, commander_id, paged, doing=doing)
    except NotAllowed:
        raise NotAllowed(
            f"Only {describe(permissions.approve_external)} may {doing} posts to X, so "
            "nothing happened. The attempt is recorded in the incident's timeline."
        ) from None


def approvers(permissions: Permissions) -> str:
    return describe(permissions.approve_external)


# -- what the approval message carries -------------------------------------------------------
def text_tag(text: str) -> str:
    """A short fingerprint of a draft's text: the Approve button carries the one it showed."""
    return hashlib.sha256(text.encode()).hexdigest()[:8]


def approve_custom_id(post_id: int, text: str) -> str:
    return f"comms:approve:{post_id}:{text_tag(text)}"


def edit_custom_id(post_id: int) -> str:
    return f"comms:edit:{post_id}"


def approval_footer(post_id: int, incident_id: int, purpose: str, draft_round: int = 1) -> str:
    """The approval message's marker: finds the message again, and tells which draft it is."""
    footer = f"Draft #{post_id} · incident #{incident_id} · {purpose}"
    return footer + (f" · round {draft_round}" if draft_round > 1 else "")


_FOOTER = re.compile(r"^Draft #(?P<post>\d+) · incident #(?P<incident>\d+) · ")


def draft_in_footer(footer: str | None) -> tuple[int, int] | None:
    """(post id, incident id) named by an approval message's footer, None if it is no such."""
    match = _FOOTER.match(footer or "")
    return (int(match["post"]), int(match["incident"])) if match else None


def stale_check_mark(reacted_at: datetime | None, edited_at: datetime | None) -> bool:
    """A ✅ that reached the bot before the message last changed to a new text approves
    nothing: it was given to the text shown before."""
    return reacted_at is not None and edited_at is not None and reacted_at <= edited_at


def not_editable(state: str, url: str | None, reason: str | None) -> str:
    if state == PostState.POSTED:
        return f"This post is already on X ({url}); it cannot be edited."
    if state == PostState.WITHDRAWN:
        return f"This draft was withdrawn ({reason})."
    return "This post is approved and on its way to X; it can no longer be edited."


# -- what a draft says -----------------------------------------------------------------------
def template_of(purpose: str) -> str:
    return "x_declare.txt.j2" if purpose == INITIAL else "x_resolve.txt.j2"


def shorten_to_fit(render: Any, title: str) -> str:
    """The text ``render(title)`` gives; a title too long for X is shortened (never the
    rest of the text), down to MIN_TITLE characters; a text still too long is returned as
    it is (the approval message flags it)."""
    while True:
        text: str = render(title)
        measured = measure(text)
        if measured.fits or len(title) <= MIN_TITLE or title not in text:
            return text
        shorter = title[: max(MIN_TITLE, len(title) - measured.over - 2)].rstrip() + "…"
        if shorter == title:  # as short as it gets (the "…" counts too): stop here
            return text
        title = shorter


def draft_context(
    incident: Any, level: Any, product: str, handle: str | None, now: datetime
) -> Mapping[str, Any]:
    """What an X template is given (its title is added by :func:`shorten_to_fit`)."""
    resolved_at = incident.resolved_at or now
    down_since = incident.down_since or incident.declared_at
    return {
        "product": product,
        "incident": incident,
        "severity": level,
        "down_since": down_since,
        "declared_at": incident.declared_at,
        "resolved_at": resolved_at,
        "duration": resolved_at - down_since,
        "handle": handle,
    }
