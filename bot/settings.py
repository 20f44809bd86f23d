"""Settings: secrets from the environment, everything else from a TOML file.

Built once in ``main()`` and passed down; nothing here runs at import time.
"""

from __future__ import annotations

import contextlib
import os
import tomllib
from collections.abc import Mapping
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

from bot.alerts.config import AlertsConfig
from bot.config_problems import ConfigError, ConfigProblem, merge, merge_procedure, problems_of
from bot.config_sections import (
    DiscordConfig,
    GitHubConfig,
    OpsRepoConfig,
    Permissions,
    RotationConfig,
    Section,
    StorageConfig,
    WebhookConfig,
    XConfig,
)
from bot.core.render import TEMPLATES
from bot.follow_up.config import FollowUpConfig
from bot.mitigate.config import MitigateConfig
from bot.mitigate.fix_config import FixConfig
from bot.postmortem.config import PostmortemConfig
from bot.procedure import Procedure, default_procedure
from bot.replica.config import ReplicaConfig
from bot.watch.config import WatchConfig
from storage.db import Target, parse_url


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
    templates: dict[str, Path] = Field(default_factory=dict)
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
