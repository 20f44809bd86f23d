"""The configuration's frame sections: Discord, storage, the rotation, the ops repository,
the webhook, X, GitHub and who may do what. The phases' own sections live in their packages
(``bot/<phase>/config.py``); ``bot/settings.py`` puts them together."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator

from bot.adapters.discord_endpoints import DISCORD_API_BASE, DISCORD_GATEWAY_URL
from bot.core.durations import Duration
from storage.db import parse_url


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DiscordConfig(Section):
    guild_id: int | None = None  # None: the first guild the bot is in
    api_base: str = DISCORD_API_BASE
    gateway_url: str = DISCORD_GATEWAY_URL
    ops_alerts_channel: str = "ops-alerts"
    incidents_category: str = "Incidents"
    admin_role: str = "incident-admin"
    comms_role: str = "comms"
    guild_ready_timeout: float = Field(2.0, gt=0)


class StorageConfig(Section):
    database: Path = Path("data/incident-bot.sqlite3")
    # PostgreSQL instead of the file: postgresql+asyncpg://user@host:5432/name, with the
    # password in INCIDENT_BOT_DATABASE_PASSWORD (or the whole URL in
    # INCIDENT_BOT_DATABASE_URL), never here. See "Replicas on PostgreSQL" in the guide.
    database_url: str | None = None

    @field_validator("database_url")
    @classmethod
    def _postgres_url(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        url = parse_url(value.strip())
        if url.password is not None:
            raise ValueError("holds a password: put it in INCIDENT_BOT_DATABASE_PASSWORD instead")
        return value.strip()


class RotationShift(Section):
    start: str
    end: str
    primary: str
    secondary: str | None = None


class RotationConfig(Section):
    """Where the on-call rotation comes from: a Markdown file, or ``shifts`` here."""

    path: Path | None = Path("runbooks/on-call-rotation.md")
    shifts: list[RotationShift] = []


class OpsRepoConfig(Section):
    """The team's ops repository: rotation, postmortems and the plan tracker live there."""

    url: str | None = None  # clone source (a path or git URL); None: use `checkout` as it is
    checkout: Path = Path("data/ops")
    branch: str = "main"
    pull_every: Duration = timedelta(minutes=5)  # fast-forward the checkout this often


class WebhookConfig(Section):
    host: str = "127.0.0.1"
    port: int = Field(8766, ge=0, le=65535)
    max_body_bytes: int = Field(1_048_576, gt=0)
    # A connection has this long to send a whole request head, from connecting or from
    # the previous answer (also how long an idle kept-alive connection stays open).
    header_timeout: Duration = timedelta(seconds=10)
    # A request has this long to send its body; a slower one is answered 408.
    read_timeout: Duration = timedelta(seconds=30)


class XConfig(Section):
    """X (Twitter) API v2 for external status posts; the four OAuth 1.0a keys are secrets."""

    api_base: str = "https://api.twitter.com"  # tweepy's host; the sandbox points this at its world
    handle: str | None = None  # the account's @handle, for links to posts (None: /i/web/status/…)
    web_base: str = "https://x.com"
    product: str = "Atrium"  # how the drafts name the service
    retry_initial: Duration = timedelta(seconds=5)  # first wait after a 429 or an outage
    retry_max: Duration = timedelta(minutes=15)  # the backoff doubles up to this
    request_timeout: Duration = timedelta(seconds=20)


class GitHubConfig(Section):
    """GitHub REST for P3 incident issues (and, later, hotfix branches); the token is a secret."""

    api_base: str = "https://api.github.com"
    owner: str | None = None  # None: no GitHub issues (the incident channel says so)
    repo: str | None = None
    incident_label: str = "incident"
    api_version: str = "2022-11-28"
    request_timeout: Duration = timedelta(seconds=20)


# At least one entry: an empty rule would refuse everyone without saying who may.
Who = Annotated[list[str], Field(min_length=1)]


class Permissions(Section):
    """Who may do what: role names, or ``commander``, ``paged`` (anyone paged), ``anyone``.

    The three keywords are never role names; role names are resolved to role ids at start
    (``bot.core.permissions.resolve_roles``) and compared by id from then on.
    """

    declare: Who = ["anyone"]
    acknowledge: Who = ["commander", "paged", "incident-admin", "oncall"]
    change_severity: Who = ["commander", "incident-admin"]
    change_status: Who = ["commander", "incident-admin"]
    hand_over: Who = ["commander", "incident-admin"]
    override_rotation: Who = ["incident-admin"]
    post_update: Who = ["commander", "incident-admin", "comms"]
    approve_external: Who = ["commander", "comms"]
    # Mitigate (P0): who binds an address as a signer, who removes one, who proposes the
    # emergency pause, cancels a proposal, or runs the kill switch (a bound signer may too).
    register_signer: Who = ["multisig-signer"]
    remove_signer: Who = ["incident-admin"]
    propose_mitigation: Who = ["commander", "incident-admin", "multisig-signer"]
    cancel_mitigation: Who = ["commander", "incident-admin"]
    run_killswitch: Who = ["incident-admin"]
