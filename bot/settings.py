"""Settings: secrets from the environment, everything else from a TOML file.

Built once in ``main()`` and passed down; nothing here runs at import time.
"""

from __future__ import annotations

import contextlib
import os
import tomllib
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict, SettingsError
from sqlalchemy import make_url

from bot.adapters.discord_endpoints import DISCORD_API_BASE, DISCORD_GATEWAY_URL
from bot.alerts.config import AlertsConfig
from bot.config_problems import ConfigError, ConfigProblem, merge, merge_procedure, problems_of
from bot.core.durations import Duration
from bot.core.render import TEMPLATES
from bot.follow_up.config import FollowUpConfig
from bot.mitigate.config import MitigateConfig
from bot.mitigate.fix_config import FixConfig
from bot.postmortem.config import PostmortemConfig
from bot.procedure import Procedure, default_procedure
from bot.replica.config import ReplicaConfig
from bot.watch.config import WatchConfig
from storage.db import Target, parse_url


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


class Config(Section):
    """The TOML file's shape. Every key is documented in incident-bot.example.toml."""

    time_zone: str = "UTC"
    secrets_file: Path | None = None  # a dotenv file of INCIDENT_BOT_* secrets (mode 0600)
    data_dir: Path = Path("data")
    discord: DiscordConfig = DiscordConfig()
    storage: StorageConfig = StorageConfig()
    rotation: RotationConfig = RotationConfig()
    ops_repo: OpsRepoConfig = OpsRepoConfig()
    webhook: WebhookConfig = WebhookConfig()
    alerts: AlertsConfig = AlertsConfig()
    permissions: Permissions = Permissions()
    x: XConfig = XConfig()
    github: GitHubConfig = GitHubConfig()
    mitigate: MitigateConfig = MitigateConfig()
    fix: FixConfig = FixConfig()  # the hotfix branch, its deploys, the ticket
    postmortem: PostmortemConfig = PostmortemConfig()
    follow_up: FollowUpConfig = FollowUpConfig()
    watch: WatchConfig = WatchConfig()  # the chain watch: admin events, outflows
    replica: ReplicaConfig = ReplicaConfig()  # the lease between replicas on PostgreSQL
    # Template name → file that replaces it (relative paths: from this file's folder).
    templates: dict[str, Path] = {}
    procedure: Procedure = Field(default_factory=default_procedure)

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown time zone {value!r}; use an IANA name such as 'UTC' or 'Europe/Berlin'"
            ) from None
        return value

    @model_validator(mode="after")
    def _alert_severities_exist(self) -> Config:
        names = self.procedure.severity_names
        wanted = {"alerts.default_severity": self.alerts.default_severity}
        wanted |= {f"alerts.severity_map.{k}": v for k, v in self.alerts.severity_map.items()}
        wanted |= {f"fix.ticket_on_declare.{v}": v for v in self.fix.ticket_on_declare}
        for key, name in wanted.items():
            try:
                self.procedure.severity(name)
            except KeyError:
                raise ValueError(
                    f"{key} = {name!r} is not a severity of the procedure ({', '.join(names)})"
                ) from None
        return self

    @field_validator("templates")
    @classmethod
    def _known_templates(cls, value: dict[str, Path]) -> dict[str, Path]:
        known = sorted(p.name for p in TEMPLATES.glob("*.j2"))
        unknown = [name for name in value if name not in known]
        if unknown:
            raise ValueError(
                f"no template named {', '.join(unknown)}; the templates are {', '.join(known)}"
            )
        return value

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)


class Secrets(BaseSettings):
    """Secrets, from ``INCIDENT_BOT_*`` variables (or the configured secrets file)."""

    model_config = SettingsConfigDict(env_prefix="INCIDENT_BOT_", extra="ignore")

    discord_token: SecretStr | None = None
    # Comma-separated; two at once while a secret is being rotated.
    webhook_bearer_tokens: Annotated[list[SecretStr], NoDecode] = []
    webhook_hmac_secrets: Annotated[list[SecretStr], NoDecode] = []
    github_token: SecretStr | None = None
    github_webhook_secrets: Annotated[list[SecretStr], NoDecode] = []  # deployment_status
    ops_repo_token: SecretStr | None = None  # HTTPS pushes of postmortems (never logged)
    x_consumer_key: SecretStr | None = None
    x_consumer_secret: SecretStr | None = None
    x_access_token: SecretStr | None = None
    x_access_token_secret: SecretStr | None = None
    # The optional executor: a relayer key with no authority of its own that submits an
    # approved Safe transaction (anyone may). Unset: the bot never sends a transaction.
    chain_executor_key: SecretStr | None = None
    # PostgreSQL: the password of [storage] database_url, or the whole URL (wins over it).
    database_password: SecretStr | None = None
    database_url: SecretStr | None = None

    @field_validator(
        "webhook_bearer_tokens", "webhook_hmac_secrets", "github_webhook_secrets", mode="before"
    )
    @classmethod
    def _comma_list(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    def values(self) -> list[str]:
        """Every secret value, so logs and outgoing text can be checked against them."""
        found: list[str] = []
        for name in type(self).model_fields:
            value = getattr(self, name)
            items = value if isinstance(value, list) else [value]
            found.extend(v.get_secret_value() for v in items if v is not None)
        if self.database_url is not None:  # its password alone, as a driver error may quote it
            with contextlib.suppress(Exception):
                found.append(make_url(self.database_url.get_secret_value()).password or "")
        return [v for v in found if v]


class Settings(BaseModel):
    model_config = ConfigDict(arbitrary_types_allowed=True)

    config: Config
    secrets: Secrets
    config_path: Path | None = None

    def resolve(self, path: Path) -> Path:
        """A configured path, relative to the config file's folder."""
        if path.is_absolute() or self.config_path is None:
            return path
        return (self.config_path.parent / path).resolve()

    @property
    def database_path(self) -> Path:
        return self.resolve(self.config.storage.database)

    @property
    def database(self) -> Target:
        """Where the data lives: PostgreSQL when a URL is configured, else the SQLite file."""
        if self.secrets.database_url is not None:
            try:
                return parse_url(self.secrets.database_url.get_secret_value())
            except ValueError as error:
                raise ConfigError(
                    [ConfigProblem(key="INCIDENT_BOT_DATABASE_URL", problem=str(error))]
                ) from None
        if self.config.storage.database_url is None:
            return self.database_path
        url = parse_url(self.config.storage.database_url)
        if self.secrets.database_password is not None:
            url = url.set(password=self.secrets.database_password.get_secret_value())
        return url

    def template_overrides(self) -> dict[str, Path]:
        """``[templates]`` with paths resolved; ConfigError names any file that is missing."""
        paths = {name: self.resolve(path) for name, path in self.config.templates.items()}
        missing = [
            ConfigProblem(key=f"templates.{name}", problem=f"{path} does not exist")
            for name, path in paths.items()
            if not path.is_file()
        ]
        if missing:
            raise ConfigError(missing)
        return paths


def parse_config(raw: dict[str, Any]) -> Config:
    raw = dict(raw)
    if "procedure" in raw:
        raw["procedure"] = merge_procedure(raw["procedure"])
    try:
        return Config.model_validate(raw)
    except ValidationError as error:
        problems = problems_of(error)
        severities = raw.get("procedure", {}).get("severities")
        if isinstance(severities, list):  # name a severity as the file does: P1, not 1
            for problem in problems:
                parts = problem.key.split(".")
                if (
                    parts[:2] == ["procedure", "severities"]
                    and len(parts) > 2
                    and parts[2].isdigit()
                ):
                    index = int(parts[2])
                    if index < len(severities) and isinstance(severities[index], dict):
                        parts[2] = str(severities[index].get("name", parts[2]))
                        problem.key = ".".join(parts)
        raise ConfigError(problems) from None


# Not secrets, but facts of where the bot runs, so they win over the file: the container
# image sets INCIDENT_BOT_WEBHOOK_HOST=0.0.0.0 whatever a TOML written for a laptop says.
ENVIRONMENT_OVERRIDES = {
    "INCIDENT_BOT_WEBHOOK_HOST": ("webhook", "host"),
    "INCIDENT_BOT_WEBHOOK_PORT": ("webhook", "port"),
}


def environment_overrides(raw: dict[str, Any], environ: Mapping[str, str]) -> dict[str, Any]:
    """``raw`` with the ``ENVIRONMENT_OVERRIDES`` that are set merged over it."""
    for name, (section, key) in ENVIRONMENT_OVERRIDES.items():
        value = environ.get(name, "").strip()
        if key == "port" and value and not (value.isdigit() and int(value) <= 65535):
            raise ConfigError(
                [ConfigProblem(key=name, problem=f"{value!r} is not a port", expected="0 to 65535")]
            )
        if value:
            raw = merge(raw, {section: {key: value}})
    return raw


def load_settings(path: Path | None) -> Settings:
    """Read the TOML file (if any) and the environment; raise ConfigError naming every problem."""
    raw: dict[str, Any] = {}
    if path is not None:
        try:
            raw = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError([ConfigProblem(key=str(path), problem="file not found")]) from None
        except tomllib.TOMLDecodeError as error:
            raise ConfigError(
                [ConfigProblem(key=str(path), problem=f"not valid TOML: {error}")]
            ) from None
    config = parse_config(environment_overrides(raw, os.environ))
    secrets_kwargs: dict[str, Any] = {}
    if config.secrets_file is not None:
        secrets_path = config.secrets_file
        if not secrets_path.is_absolute() and path is not None:
            secrets_path = path.parent / secrets_path
        if not secrets_path.exists():
            raise ConfigError(
                [ConfigProblem(key="secrets_file", problem=f"{secrets_path} does not exist")]
            )
        mode = secrets_path.stat().st_mode & 0o777
        if mode & 0o077:
            raise ConfigError(
                [
                    ConfigProblem(
                        key="secrets_file",
                        problem=f"{secrets_path} is readable by others (mode {mode:04o})",
                        expected=f"mode 0600: chmod 600 {secrets_path}",
                    )
                ]
            )
        secrets_kwargs["_env_file"] = secrets_path
    try:
        secrets = Secrets(**secrets_kwargs)
    except ValidationError as error:
        raise ConfigError(problems_of(error, prefix="INCIDENT_BOT_")) from None
    except SettingsError as error:
        raise ConfigError([ConfigProblem(key="INCIDENT_BOT_*", problem=str(error))]) from None
    return Settings(config=config, secrets=secrets, config_path=path.resolve() if path else None)
