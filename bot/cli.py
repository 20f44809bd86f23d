"""``incident-bot``: run, sandbox, check-config, db upgrade|backup|verify|restore."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import sys
import tempfile
import tomllib
from pathlib import Path
from typing import Any

import tomli_w

from bot.sandbox_chain import register_sandbox_signers, sandbox_mitigate
from bot.settings import (
    ConfigError,
    ConfigProblem,
    Secrets,
    Settings,
    load_settings,
    merge,
    parse_config,
)

log = logging.getLogger("incident-bot")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="incident-bot", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run the bot against Discord (or any URLs the config names)")
    run.add_argument("--config", type=Path, default=Path("incident-bot.toml"))

    sandbox = sub.add_parser(
        "sandbox", help="start the local world (Discord emulator and more) and the bot in it"
    )
    sandbox.add_argument("--world-only", action="store_true", help="start the world alone")
    sandbox.add_argument(
        "--config-out", type=Path, help="with --world-only: write the bot's configuration here"
    )
    sandbox.add_argument("--host", default="127.0.0.1")
    sandbox.add_argument("--port", type=int, default=8765)
    sandbox.add_argument(
        "--data-dir",
        type=Path,
        help="where the world and the bot keep files (default: a temporary folder)",
    )
    sandbox.add_argument(
        "--config", type=Path, help="a TOML file merged over the bot's sandbox configuration"
    )
    sandbox.add_argument(
        "--chain-shape",
        choices=("a", "b"),
        default="a",
        help="the multisig of the test chain: a (signers each send pause(); the timelock "
        "counts them) or b (a Safe v1.4.1 owns the timelock)",
    )

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
    return sandbox(args)


# -- check-config and db -------------------------------------------------------------------
def _report(problems: list[str]) -> None:
    print(f"configuration problems ({len(problems)}):", file=sys.stderr)
    for problem in problems:
        print(f"  - {problem}", file=sys.stderr)


def _load_or_report(path: Path | None) -> Settings | None:
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
        settings.template_overrides()  # a missing template file is a configuration error too
        return settings
    except ConfigError as error:
        _report([str(p) for p in error.problems])
        return None


def check_config(path: Path) -> int:
    from bot.core.permissions import resolve_roles, role_uses
    from bot.mitigate.checks import chain_problems
    from bot.services import rotation_source
    from bot.triage.rotation import validate
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
    problems += asyncio.run(chain_problems(settings.config.mitigate, os.environ))
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
    upgrade(settings.database_path)
    print(
        f"{settings.database_path}: schema at revision {current_revision(settings.database_path)}"
    )
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

    setup_logging(settings.secrets.values())
    return asyncio.run(_run_until_signal(settings))


async def _run_until_signal(settings: Settings, ready: asyncio.Event | None = None) -> int:
    from bot.runtime import BotRuntime

    runtime = BotRuntime(settings)
    stop = asyncio.Event()
    _on_signals(stop)
    await runtime.start()
    waiter = asyncio.create_task(stop.wait())
    done, _ = await asyncio.wait({waiter, runtime.finished}, return_when=asyncio.FIRST_COMPLETED)
    waiter.cancel()
    await runtime.stop()
    error = runtime.finished.exception() if runtime.finished in done else None
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
    if isinstance(error, OSError):
        return f"Discord could not be reached ({error})"
    return f"{type(error).__name__}: {error}"


def _on_signals(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)


# -- the sandbox ---------------------------------------------------------------------------
def sandbox_config(
    world: Any, data_dir: Path, host: str, webhook_port: int, overlay: dict[str, Any]
) -> dict[str, Any]:
    """The bot's configuration for a world: its URLs, a database and ops checkout in data_dir."""
    bot_dir = data_dir / "bot"
    base: dict[str, Any] = {
        "data_dir": str(bot_dir),
        "discord": {
            "guild_id": int(world.guild_id),
            "api_base": world.api_base,
            "gateway_url": world.gateway_url,
            "guild_ready_timeout": 0.5,
        },
        "storage": {"database": str(bot_dir / "incident-bot.sqlite3")},
        "ops_repo": {"url": str(world.ops_repo_path), "checkout": str(bot_dir / "ops")},
        "webhook": {"host": host, "port": webhook_port},
    }
    described = world.describe()
    if x := described.get("x"):
        base["x"] = {"api_base": x["api_base"], "handle": x["handle"]}
    if github := described.get("github"):
        base["github"] = {k: github[k] for k in ("api_base", "owner", "repo")}
    if chain := described.get("chain"):
        base["mitigate"] = sandbox_mitigate(chain)
    return merge(base, overlay)


def sandbox_secrets(world: Any) -> dict[str, str]:
    return {
        "INCIDENT_BOT_DISCORD_TOKEN": world.bot_token,
        "INCIDENT_BOT_WEBHOOK_BEARER_TOKENS": world.webhook_bearer_token,
        "INCIDENT_BOT_WEBHOOK_HMAC_SECRETS": world.webhook_hmac_secret,
        **getattr(world, "extra_secrets", {}),
    }


def secrets_model(secrets: dict[str, str]) -> Secrets:
    fields: dict[str, Any] = {
        key.removeprefix("INCIDENT_BOT_").lower(): value for key, value in secrets.items()
    }
    return Secrets(**fields)


def sandbox(args: argparse.Namespace) -> int:
    overlay: dict[str, Any] = {}
    if args.config is not None:
        try:
            overlay = tomllib.loads(args.config.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as error:
            print(f"{args.config}: {error}", file=sys.stderr)
            return 2
    if args.world_only and args.config_out is None:
        print(
            "--world-only needs --config-out PATH (where to write the bot's configuration)",
            file=sys.stderr,
        )
        return 2
    return asyncio.run(_sandbox(args, overlay))


async def _sandbox(args: argparse.Namespace, overlay: dict[str, Any]) -> int:
    from bot.logs import setup_logging
    from sandbox.world import World, WorldOptions

    with contextlib.ExitStack() as stack:
        data_dir = args.data_dir or Path(
            stack.enter_context(tempfile.TemporaryDirectory(prefix="incident-sandbox-"))
        )
        data_dir.mkdir(parents=True, exist_ok=True)
        webhook_port = overlay.get("webhook", {}).get("port") or free_port(args.host)
        world = World(
            WorldOptions(
                data_dir=data_dir / "world",
                host=args.host,
                port=args.port,
                webhook_base_url=f"http://{args.host}:{webhook_port}",
                chain=True,  # when node tooling is installed; the world says so otherwise
                chain_shape=args.chain_shape,
            )
        )
        await world.start()
        config_dict = sandbox_config(world, data_dir, args.host, webhook_port, overlay)
        secrets = sandbox_secrets(world)
        setup_logging(list(secrets.values()))
        stop = asyncio.Event()
        _on_signals(stop)
        try:
            if args.world_only:
                write_config(args.config_out, config_dict, secrets)
                print(
                    f"sandbox world at {world.base_url}  (bot configuration: {args.config_out})",
                    flush=True,
                )
                await stop.wait()
                return 0
            try:
                config = parse_config(config_dict)
            except ConfigError as error:
                for problem in error.problems:
                    print(f"  - {problem}", file=sys.stderr)
                return 2
            settings = Settings(config=config, secrets=secrets_model(secrets), config_path=None)
            from bot.runtime import BotRuntime

            runtime = BotRuntime(settings)
            await runtime.start()
            await runtime.wait_ready(timeout=30)
            await register_sandbox_signers(world)
            print(
                f"sandbox: open {world.base_url}/ (bot connected; alerts: http://{args.host}:{webhook_port})",
                flush=True,
            )
            waiter = asyncio.create_task(stop.wait())
            await asyncio.wait({waiter, runtime.finished}, return_when=asyncio.FIRST_COMPLETED)
            waiter.cancel()
            await runtime.stop()
            return 0
        finally:
            await world.stop()


def write_config(path: Path, config: dict[str, Any], secrets: dict[str, str]) -> None:
    """The TOML file, and its secrets beside it in a 0600 dotenv file it names."""
    path.parent.mkdir(parents=True, exist_ok=True)
    secrets_path = path.with_name(path.stem + ".secrets.env")
    fd = os.open(secrets_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.writelines(f"{key}={value}\n" for key, value in secrets.items())
    path.write_text(tomli_w.dumps({**config, "secrets_file": secrets_path.name}), encoding="utf-8")


def free_port(host: str) -> int:
    import socket

    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


if __name__ == "__main__":
    sys.exit(main())
