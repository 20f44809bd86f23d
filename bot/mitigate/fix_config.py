"""``[fix]``: where the P1 hotfix branch is made and how its deploys are followed, and how the
P2/P3 ticket is scheduled (the token is ``INCIDENT_BOT_GITHUB_TOKEN``, the webhook secrets
``INCIDENT_BOT_GITHUB_WEBHOOK_SECRETS``)."""

from __future__ import annotations

import re
from datetime import timedelta

from pydantic import BaseModel, ConfigDict, Field, field_validator

from bot.core.durations import Duration

_BRANCH = re.compile(r"[A-Za-z0-9._/-]+")


class FixConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # The product repository (None: [github] owner / repo, where the incident issues go).
    owner: str | None = None
    repo: str | None = None
    base_branch: str = "main"
    branch_prefix: str = "hotfix/incident-"  # + the incident's local date (YYYY-MM-DD)
    # The deploy tool's page where a preview is promoted to production (Vercel's UI).
    deploy_ui_url: str | None = None
    # Deployment environments, as the deploy tool names them: a name starting with
    # preview_environment is a preview ("Preview – atrium"), production_environment the
    # production one (compared without case).
    preview_environment: str = "Preview"
    production_environment: str = "Production"
    poll_every: Duration = timedelta(minutes=1)
    # Below this many requests left in GitHub's hourly budget, polling waits for the reset.
    rate_limit_reserve: int = Field(100, ge=0)
    retry_initial: Duration = timedelta(seconds=30)  # after an outage or a used-up limit
    retry_max: Duration = timedelta(minutes=15)
    # The ticket: scheduled for the next sprint by this open milestone, or (None, or no such
    # milestone) by ticket_label; ticket_on_declare lists severities whose ticket opens
    # as soon as the incident is declared (P3's always does, by the comms matrix).
    ticket_milestone: str | None = None
    ticket_label: str = "next-sprint"
    ticket_on_declare: list[str] = []

    @field_validator("base_branch", "branch_prefix")
    @classmethod
    def _branch_name(cls, value: str) -> str:
        if not _BRANCH.fullmatch(value) or ".." in value or value.startswith("/"):
            raise ValueError(f"{value!r} is not a git branch name")
        return value
