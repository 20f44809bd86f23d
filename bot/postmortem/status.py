"""``/postmortem status``: whether one is required, by when, what is still empty, and
whether it is published (plain data and its rendering)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Report:
    severity: str
    required: bool
    path: str
    due_at: datetime | None  # None: not resolved yet (or none required)
    empty: tuple[str, ...]
    published_commit: str | None
    published_at: datetime | None
    breached_at: datetime | None
    transcript_messages: int


def _ts(at: datetime, style: str = "f") -> str:
    return f"<t:{int(at.timestamp())}:{style}>"


def render_postmortem_status(report: Report) -> str:
    lines = []
    if not report.required:
        lines.append(f"No postmortem is required for {report.severity} (one may still be written).")
    elif report.due_at is None:
        lines.append(
            f"A postmortem is required for {report.severity}, at `{report.path}`; the clock "
            "starts when the incident is resolved."
        )
    else:
        lines.append(
            f"A postmortem is required for {report.severity}, at `{report.path}`, due "
            f"{_ts(report.due_at)} ({_ts(report.due_at, 'R')})."
        )
    if report.breached_at is not None:
        lines.append(
            f"⚠️ The deadline passed unpublished ({_ts(report.breached_at)}); the breach is recorded."
        )
    if report.published_commit and report.published_at:
        lines.append(
            f"Published {_ts(report.published_at)} as commit `{report.published_commit[:12]}`."
        )
    if report.empty:
        lines.append("Still empty: " + ", ".join(report.empty) + ".")
    else:
        lines.append("Every section has content.")
    lines.append(f"Transcript: {report.transcript_messages} message(s) kept.")
    return "\n".join(lines)
