"""A severity's playbook, its steps filled for one incident: the rule, without Discord or a
database.

The steps are the procedure's own words, with its placeholders written as the procedure
writes them:

- ``YYYY-MM-DD``: the incident's local date (the date in its channel name), so the P1
  hotfix branch reads ``hotfix/incident-2026-03-14``;
- ``<slug>``: the incident's slug (the end of its channel name);
- ``$NAME``: the address configured as ``[mitigate.addresses] NAME`` (the runbook's
  ``$PRAETOR_TIMELOCK``). One not configured stays visible, and the step says what to set.
  Names of signers' keys (``$MULTISIG_KEY_1``) are never filled and never asked for.

A step the bot has already done for the incident carries that as its state: the ticket
playbook's "Create a GitHub issue" says the issue was opened, with its link.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date

from bot.mitigate.config import is_secret_name
from bot.procedure import MitigationKind, Playbook, Severity

DATE_PLACEHOLDER = "YYYY-MM-DD"
SLUG_PLACEHOLDER = "<slug>"
_NAMED = re.compile(r"\$([A-Z][A-Z0-9_]*)")
_ISSUE_STEP = re.compile(r"\bgithub issue\b", re.IGNORECASE)


@dataclass(frozen=True)
class PlaybookFacts:
    """What filling a playbook needs to know of one incident and of the configuration."""

    day: date  # the incident's local date in the configured time zone
    slug: str
    addresses: Mapping[str, str] = field(default_factory=dict)  # name → checksummed address
    github_issue_url: str | None = None  # the incident's issue, once one is recorded


@dataclass(frozen=True)
class FilledStep:
    text: str
    state: str | None = None  # what the bot has already done for this step, if anything
    missing: tuple[str, ...] = ()  # ``$NAME`` placeholders left as they are: not configured

    @property
    def hints(self) -> tuple[str, ...]:
        return tuple(f"not configured: set [mitigate.addresses] {name}" for name in self.missing)

    def markdown(self) -> str:
        """The step as one line of Markdown: its text, what is missing, what is done."""
        line = self.text
        if self.missing:
            line += f" ({'; '.join(self.hints)})"
        if self.state:
            line += f" **{self.state}**"
        return line


@dataclass(frozen=True)
class FilledPlaybook:
    severity: str
    kind: MitigationKind
    summary: str
    steps: tuple[FilledStep, ...]

    def lines(self) -> list[str]:
        """The steps numbered from 1, as the procedure lists them."""
        return [f"{n}. {step.markdown()}" for n, step in enumerate(self.steps, start=1)]


def fill_step(step: str, facts: PlaybookFacts, kind: MitigationKind | None = None) -> FilledStep:
    """One step of a playbook of ``kind`` with the incident's placeholders filled."""
    text = step.replace(DATE_PLACEHOLDER, facts.day.isoformat())
    text = text.replace(SLUG_PLACEHOLDER, facts.slug)
    missing: list[str] = []

    def named(match: re.Match[str]) -> str:
        name = match.group(1)
        if name in facts.addresses:
            return facts.addresses[name]
        if not is_secret_name(name) and name not in missing:
            missing.append(name)
        return match.group(0)

    text = _NAMED.sub(named, text)
    state = None
    if kind is MitigationKind.GITHUB_TICKET and facts.github_issue_url and _ISSUE_STEP.search(step):
        state = f"Opened: {facts.github_issue_url}"
    return FilledStep(text, state, tuple(missing))


def fill_playbook(playbook: Playbook, facts: PlaybookFacts) -> tuple[FilledStep, ...]:
    """Every step of ``playbook`` filled for the incident ``facts`` describe."""
    return tuple(fill_step(step, facts, playbook.kind) for step in playbook.steps)


def playbook_for(severity: Severity, facts: PlaybookFacts) -> FilledPlaybook:
    """The playbook of ``severity`` filled for one incident: what ``/incident playbook`` and
    the kickoff show."""
    book = severity.playbook
    return FilledPlaybook(severity.name, book.kind, book.summary, fill_playbook(book, facts))


def render_playbook(filled: FilledPlaybook) -> str:
    """``/incident playbook``'s answer: the title line, then the numbered steps."""
    return "\n".join([f"**{filled.severity} playbook: {filled.summary}**", *filled.lines()])
