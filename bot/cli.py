"""``incident-bot``: run, sandbox, check-config, db upgrade|backup|verify|restore."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from pathlib import Path

from bot.settings import (
    ConfigError,
    ConfigProblem,
    Settings,
    load_settings,
)

log = logging.getLogger("incident-bot")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="incident-bot", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run the bot against Discord (or any URLs the config names)")
    run.add_argument("--config", type=Path, default=Path("incident-bot.toml"))

    from bot.sandbox_run import add_command

    add_command(sub)

    check = sub.add_parser(
        "check-config", help="validate the configuration and environment, start nothing"
    )
    check.add_argument("--config", type=Path, default=Path("incident-bot.toml"))

    db = sub.add_parser("db", help="database maintenance")
    db_sub = db.add_subparsers(dest="db_command", required=True)
    upgrade = db_sub.add_parser("upgrade", help="apply schema migrations")
    upgrade.add_argument("--config", type=Path, default=Path("incident-bot.toml"))
    from bot.backup import add_commands

    add_commands(db_sub, Path("incident-bot.toml"))
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "check-config":
        return check_config(args.config)
    if args.command == "db":
        if args.db_command == "upgrade":
            return db_upgrade(args.config)
        from bot.backup import run_command

        return run_command(args, lambda path: _load_or_report(path if path.exists() else None))
    if args.command == "run":
        return run(args.config)
    from bot.sandbox_run import sandbox

    return sandbox(args)


# -- check-config and db -------------------------------------------------------------------
def _report(problems: list[str]) -> None:
    print(f"configuration problems ({len(problems)}):", file=sys.stderr)
    for problem in problems:
        print(f"  - {problem}", file=sys.stderr)


def _load_or_report(path: Path | None) -> Settings | None:
    from bot.core.render import Renderer

    try:
        if path is not None and not path.exists():
            raise ConfigError(
                [
                    ConfigProblem(
                        key=str(path),
                        problem="file not found; copy incident-bot.example.toml to start",
                    )
                ]
            )
        settings = load_settings(path)
        # A missing template file, or one that does not compile, is a configuration error too.
        Renderer(settings.config.zone, settings.template_overrides()).compile_all()
        _ = settings.database  # so is a bad INCIDENT_BOT_DATABASE_URL
        return settings
    except ConfigError as error:
        _report([str(p) for p in error.problems])
        return None


def check_config(path: Path) -> int:
    from bot.core.permissions import resolve_roles, role_uses
    from bot.mitigate.checks import chain_problems
    from bot.services import rotation_source
    from bot.triage.rotation import validate
    from bot.watch.config import referenced_names as watch_names
    from storage.types import utcnow

    settings = _load_or_report(path)
    if settings is None:
        return 2
    problems: list[str] = []
    members: set[str] | None = None
    if settings.secrets.discord_token is None:
        problems.append(
            "INCIDENT_BOT_DISCORD_TOKEN: not set (expected the bot token from the Discord developer portal)"
        )
    else:
        members, roles, found = asyncio.run(_guild_members_and_roles(settings))
        problems += found
        if roles is not None:
            problems += resolve_roles(role_uses(settings.config), roles).problems
    watched = watch_names(settings.config.watch)
    problems += asyncio.run(chain_problems(settings.config.mitigate, os.environ, watched))
    problems += _database_problems(settings)
    rotation = rotation_source(settings).current()
    known = (lambda key: key in members) if members is not None else (lambda key: True)
    problems += [f"rotation: {p}" for p in validate(rotation, utcnow(), known)]
    if problems:
        _report(problems)
        return 2
    checked = (
        "members and roles checked against the guild"
        if members is not None
        else "members and roles not checked"
    )
    print(f"configuration OK: {path} ({len(rotation.shifts)} rotation shifts, {checked})")
    return 0


def _database_problems(settings: Settings) -> list[str]:
    """The database URL (PostgreSQL) or file, reachable and with its migrations current."""
    from storage.db import schema_problems

    try:
        target = settings.database
    except ConfigError as error:
        return [f"{p.key}: {p.problem}" for p in error.problems]
    return schema_problems(target)


async def _guild_members_and_roles(
    settings: Settings,
) -> tuple[set[str] | None, list[tuple[int, str]] | None, list[str]]:
    """Members' usernames, display names and ids, (id, name) of every role, and the bot's
    permission gaps, over REST."""
    import discord

    from bot.adapters.discord_check import permission_gaps
    from bot.client import configure_discord

    configure_discord(settings)
    intents = discord.Intents.default()
    intents.members = True
    client = discord.Client(intents=intents)
    token = settings.secrets.discord_token
    assert token is not None
    try:
        await client.login(token.get_secret_value())
        guild_id = settings.config.discord.guild_id
        if guild_id is None:
            guilds = [g async for g in client.fetch_guilds(limit=1)]
            if not guilds:
                return _failed(
                    "discord.guild_id: not set, and the bot is in no guild (invite it first)"
                )
            guild_id = guilds[0].id
        guild = await client.fetch_guild(guild_id)
        names: set[str] = set()
        async for member in guild.fetch_members(limit=None):
            names |= {member.name.lower(), member.display_name.lower(), str(member.id)}
        gaps = await permission_gaps(client, guild, settings.config)
        return names, [(role.id, role.name) for role in guild.roles], gaps
    except discord.LoginFailure:
        return _failed(
            "INCIDENT_BOT_DISCORD_TOKEN: Discord refused the token (expected a valid bot token)"
        )
    except discord.NotFound:
        return _failed(
            f"discord.guild_id: no guild {settings.config.discord.guild_id} for this bot"
        )
    except discord.Forbidden as error:
        return _failed(
            f"discord: the bot may not read the guild's members ({error.text}); enable the Server Members intent"
        )
    except (discord.HTTPException, OSError) as error:
        return _failed(
            f"discord.api_base: {settings.config.discord.api_base} could not be reached ({error})"
        )
    finally:
        await client.close()


def _failed(problem: str) -> tuple[None, None, list[str]]:
    return None, None, [problem]


def db_upgrade(path: Path) -> int:
    from storage.db import current_revision, upgrade

    settings = _load_or_report(path if path.exists() else None)
    if settings is None:
        return 2
    from storage.db import SchemaTooNew, describe

    try:
        target = settings.database
        upgrade(target)
    except (ConfigError, SchemaTooNew) as error:
        print(f"incident-bot db upgrade: {error}", file=sys.stderr)
        return 2
    print(f"{describe(target)}: schema at revision {current_revision(target)}")
    return 0


# -- running the bot -----------------------------------------------------------------------
def run(path: Path) -> int:
    settings = _load_or_report(path)
    if settings is None:
        return 2
    if settings.secrets.discord_token is None:
        print(
            "INCIDENT_BOT_DISCORD_TOKEN is not set; `make run` without it starts the sandbox.",
            file=sys.stderr,
        )
        return 2
    from bot.logs import setup_logging
    from storage.db import SchemaTooNew, describe, refuse_newer_schema

    setup_logging(settings.secrets.values())
    try:
        refuse_newer_schema(settings.database)  # before anything starts, with its reason
    except SchemaTooNew as error:
        print(f"incident-bot refuses to start: {error}", file=sys.stderr)
        return 2
    except Exception as error:  # unreachable now: the start itself reports it
        log.warning(
            "could not read the schema revision of %s (%s)",
            describe(settings.database),
            type(error).__name__,
        )
    return asyncio.run(_run_until_signal(settings))


async def _run_until_signal(settings: Settings) -> int:
    from bot.runtime import on_signals, run_until

    stop = asyncio.Event()
    on_signals(stop)
    error = await run_until(stop, settings)
    if error is not None:
        print(f"incident-bot stopped: {_why(error)}", file=sys.stderr)
        log.error("stopped", exc_info=error)
        return 1
    return 0


def _why(error: BaseException) -> str:
    import discord

    if isinstance(error, discord.LoginFailure):
        return "Discord refused INCIDENT_BOT_DISCORD_TOKEN (check the bot token)"
    if isinstance(error, discord.PrivilegedIntentsRequired):
        return "enable the Server Members and Message Content intents for the bot in the developer portal"
    from sqlalchemy.exc import DBAPIError

    from storage.db import SchemaTooNew

    if isinstance(error, SchemaTooNew):
        return str(error)
    if isinstance(error, DBAPIError) or _raised_in(error, "/asyncpg/"):
        return f"the database could not be reached ({type(error).__name__})"
    if isinstance(error, OSError):
        return f"Discord could not be reached ({error})"
    return f"{type(error).__name__}: {error}"


def _raised_in(error: BaseException, where: str) -> bool:
    trace = error.__traceback__
    while trace is not None:
        if where in trace.tb_frame.f_code.co_filename:
            return True
        trace = trace.tb_next
    return False


if __name__ == "__main__":
    sys.exit(main())
