"""``incident-bot sandbox``: the local world (Discord emulator, chain, X, GitHub) and the bot in it."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
import tempfile
import tomllib
from pathlib import Path
from typing import Any

import tomli_w

from bot.sandbox_chain import register_sandbox_signers, sandbox_mitigate, sandbox_watch
from bot.settings import ConfigError, Secrets, Settings, merge, parse_config


def add_command(sub: Any) -> None:
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
    sandbox.add_argument(
        "--demo",
        action="store_true",
        help="play a whole P0 on its own (alert to archive), narrated here and in the viewer; "
        "the world stays up afterwards",
    )
    sandbox.add_argument(
        "--demo-speed",
        type=float,
        default=1.0,
        help="with --demo: the pace, a factor (2 = pauses half as long; 0 = no pauses)",
    )


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
        # Links to posts open the viewer's X view (the world redirects /x/<handle>/status/<id>).
        base["x"] = {
            "api_base": x["api_base"],
            "handle": x["handle"],
            "web_base": f"{world.base_url}/x",
        }
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
    if args.demo and (args.world_only or args.chain_shape != "a"):
        print("--demo runs the bot in the world, on the chain of shape a", file=sys.stderr)
        return 2
    if args.demo_speed < 0:
        print("--demo-speed must not be negative", file=sys.stderr)
        return 2
    if args.demo:
        from sandbox.demo import DEMO_OVERLAY

        overlay = merge(DEMO_OVERLAY, overlay)
    if args.world_only and args.config_out is None:
        print(
            "--world-only needs --config-out PATH (where to write the bot's configuration)",
            file=sys.stderr,
        )
        return 2
    return asyncio.run(_sandbox(args, overlay))


async def _sandbox(args: argparse.Namespace, overlay: dict[str, Any]) -> int:
    from bot.logs import setup_logging
    from bot.runtime import on_signals
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
        if (chain := world.describe().get("chain")) and "watch" not in overlay:
            config_dict["watch"] = sandbox_watch(chain, world.base_url)
        secrets = sandbox_secrets(world)
        setup_logging(list(secrets.values()))
        stop = asyncio.Event()
        on_signals(stop)
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
            demo = (
                asyncio.create_task(_demo(world.base_url, args.demo_speed)) if args.demo else None
            )
            await asyncio.wait({waiter, runtime.finished}, return_when=asyncio.FIRST_COMPLETED)
            waiter.cancel()
            if demo is not None:
                demo.cancel()
            await runtime.stop()
            return 0
        finally:
            await world.stop()


async def _demo(base_url: str, speed: float) -> None:
    from sandbox.demo import play

    try:
        await play(base_url, speed, lambda line: print(line, flush=True))
    except asyncio.CancelledError:
        raise
    except Exception as error:  # the demo stops; the world and the bot stay up
        print(f"demo: stopped: {error}", flush=True)


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
