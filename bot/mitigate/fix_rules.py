"""The P1 fix's rules as plain functions: the hotfix branch's name, which deployment report
means what, and where GitHub's pages are."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from enum import StrEnum

MAX_BRANCHES_A_DAY = 20
NOT_CONFIGURED = (
    "GitHub is not configured, so the bot cannot make the hotfix branch or the ticket: set "
    "`[github] owner` and `repo` (or `[fix] owner` and `repo` for the product repository) "
    "and INCIDENT_BOT_GITHUB_TOKEN. The incident runs on without it."
)


def branch_names(prefix: str, day: date) -> Iterator[str]:
    """``hotfix/incident-2026-03-14``, then ``-2``, ``-3``… for later incidents that day."""
    first = f"{prefix}{day.isoformat()}"
    yield first
    for n in range(2, MAX_BRANCHES_A_DAY + 1):
        yield f"{first}-{n}"


def web_base(api_base: str) -> str:
    """Where people open GitHub's pages: github.com for the public API, else ``<api>/github``
    (GitHub Enterprise serves its API under the web host's /api/v3; the sandbox under /)."""
    base = api_base.rstrip("/")
    if base == "https://api.github.com":
        return "https://github.com"
    if base.endswith("/api/v3"):
        return base.removesuffix("/api/v3")
    return f"{base}/github"


def branch_url(api_base: str, repository: str, name: str) -> str:
    return f"{web_base(api_base)}/{repository}/tree/{name}"


class Report(StrEnum):
    PREVIEW_READY = "preview_ready"
    PRODUCTION_READY = "production_ready"
    FAILED = "failed"
    NOTHING = "nothing"  # queued, in progress, inactive, or an environment we do not follow


FAILED_STATES = frozenset({"failure", "error"})


def report_of(environment: str, state: str, preview: str, production: str) -> Report:
    """What a deployment status of the fix means for the channel."""
    name = environment.strip().casefold()
    is_production = name == production.casefold()
    is_preview = not is_production and name.startswith(preview.casefold())
    if not (is_production or is_preview):
        return Report.NOTHING
    if state in FAILED_STATES:
        return Report.FAILED
    if state != "success":
        return Report.NOTHING
    return Report.PRODUCTION_READY if is_production else Report.PREVIEW_READY
