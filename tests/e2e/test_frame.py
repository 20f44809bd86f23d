"""The bot's frame: login and command sync, the one error handler, secrets, and the CLI."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sqlite3
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import aiohttp
import pytest

from bot.cli import check_config
from bot.sandbox_run import free_port, sandbox_config, sandbox_secrets, write_config
from bot.settings import merge
from sandbox.control_client import Control
from sandbox.world import World
from tests.e2e.conftest import HOST, BotHandle, bounded
from tests.e2e.helpers import ALWAYS_ON_CALL, incident_channel_id, sql, stored_text, text_of


async def test_the_bot_logs_in_and_syncs_one_command_tree_to_the_guild(bot, control):
    synced = await control.request("GET", "commands")
    names = {command["name"] for command in synced}
    assert {"incident", "oncall"} <= names
    incident = next(c for c in synced if c["name"] == "incident")
    subcommands = {option["name"] for option in incident["options"]}
    assert {
        "declare",
        "ack",
        "commander",
        "severity",
        "status",
        "resolve",
        "list",
        "playbook",
        "postmortem",
    } <= subcommands


async def test_an_unexpected_error_shows_an_error_id_that_is_also_in_the_log(bot, control, caplog):
    # The database loses a table under the bot (a disk or operator accident).
    await sql(bot, "DROP TABLE timeline_events")
    await sql(bot, "DROP TABLE incidents" + (" CASCADE" if bot.database is not None else ""))
    general = await control.channel_id("general")
    with caplog.at_level(logging.ERROR):
        answer = await control.command(await control.user_id("alice"), general, "incident", "list")
    text = answer["responses"][-1]["content"]
    assert answer["responses"][-1]["ephemeral"]
    assert "error id `" in text
    error_id = text.split("error id `")[1].split("`")[0]
    assert any(error_id in record.getMessage() for record in caplog.records)
    assert "no such table" not in text  # internals stay in the log


@pytest.fixture
def logs_from_the_start(caplog):
    """Every record at DEBUG from before the bot starts (list it before ``bot``)."""
    caplog.set_level(logging.DEBUG)
    return caplog


async def test_no_secret_reaches_the_database_discord_or_the_log(logs_from_the_start, bot, control):
    caplog = logs_from_the_start
    general = await control.channel_id("general")
    answer = await control.command(
        await control.user_id("erin"),
        general,
        "incident",
        "declare",
        title="Secrets check",
        severity="P2",
    )
    await incident_channel_id(control, "-secrets-check")
    secrets = bot.settings.secrets.values()
    token = bot.settings.secrets.discord_token
    assert token is not None and token.get_secret_value() in secrets, "the bot token is scanned"
    assert bot.settings.secrets.webhook_hmac_secrets and bot.settings.secrets.webhook_bearer_tokens
    database = stored_text(bot)
    assert database
    everything_posted = repr(answer)
    for ch in (await control.world(refresh=True))["channels"]:
        if ch["type"] == 0:
            everything_posted += repr(await control.messages(ch["id"]))
    # Start-up too (login, gateway, command sync): records of the setup phase and this one,
    # with their exception text, as a handler would write them.
    records = caplog.get_records("setup") + caplog.get_records("call")
    assert any("ready in guild" in r.getMessage() for r in records), "start-up is in the scan"
    formatter = logging.Formatter("%(name)s %(message)s")
    logged = "\n".join(formatter.format(record) for record in records)
    for secret in secrets:
        assert secret not in database
        assert secret not in everything_posted
        assert secret not in logged


def _wait_for_line(process: subprocess.Popen, needle: str, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    seen = []
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if line:
            seen.append(line)
            if needle in line:
                return line
        elif process.poll() is not None:
            break
    raise AssertionError(f"no {needle!r} within {timeout} s; output:\n{''.join(seen)}")


def _start(*args: str, cwd: Path) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith("INCIDENT_BOT_")}
    return subprocess.Popen(
        [sys.executable, "-m", "bot.cli", *args],
        cwd=cwd,
        env=env,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def _start_world_only(tmp_path: Path, port: int, overlay: str) -> tuple[subprocess.Popen, Path]:
    """``incident-bot sandbox --world-only`` with ``overlay`` merged over the bot's config."""
    config = tmp_path / "bot.toml"
    (tmp_path / "overlay.toml").write_text(overlay)
    world = _start(
        "sandbox",
        "--world-only",
        "--config-out",
        str(config),
        "--config",
        str(tmp_path / "overlay.toml"),
        "--port",
        str(port),
        "--data-dir",
        str(tmp_path / "data"),
        cwd=tmp_path,
    )
    return world, config


def _stop(process: subprocess.Popen, sig: int = signal.SIGTERM) -> int:
    if process.poll() is None:
        os.killpg(process.pid, sig)
    try:
        return process.wait(timeout=15)
    finally:
        process.stdout.close()


async def test_sandbox_prints_its_url_with_the_bot_connected_and_answers_the_world_call(tmp_path):
    port = free_port("127.0.0.1")
    process = _start("sandbox", "--port", str(port), "--data-dir", str(tmp_path), cwd=tmp_path)
    try:
        line = _wait_for_line(process, "sandbox: open", timeout=30)
        assert f"http://127.0.0.1:{port}/" in line
        async with (
            aiohttp.ClientSession() as http,
            http.get(f"http://127.0.0.1:{port}/_sandbox/world") as response,
        ):
            world = await response.json()
        assert set(world) >= {
            "guild_id",
            "bot_user_id",
            "users",
            "roles",
            "channels",
            "webhook",
            "chain",
            "ops_repo",
            "started_at",
        }
        assert len([u for u in world["users"] if "multisig-signer" in u["roles"]]) == 3
        gateway = await _json(f"http://127.0.0.1:{port}/_sandbox/gateway")
        assert gateway, "the bot holds a gateway session"
    finally:
        assert _stop(process) == 0


async def test_a_bot_killed_mid_escalation_pages_once_after_it_is_started_again(tmp_path):
    port = free_port("127.0.0.1")
    world, config = _start_world_only(
        tmp_path,
        port,
        '[[rotation.shifts]]\nstart = "2020-01-01T00:00+00:00"\nend = "2099-01-01T00:00+00:00"\n'
        'primary = "@alice"\nsecondary = "@bob"\n'
        '[procedure.severities.P1]\nescalate_after = "1h"\n',
    )
    bot = None
    try:
        _wait_for_line(world, "sandbox world at", timeout=30)
        assert oct(config.with_name("bot.secrets.env").stat().st_mode & 0o777) == "0o600"
        # Every secret stays in the 0600 secrets file: none of its values is in the config.
        secrets = dict(
            line.split("=", 1)
            for line in config.with_name("bot.secrets.env").read_text().splitlines()
            if "=" in line
        )
        assert "INCIDENT_BOT_DISCORD_TOKEN" in secrets
        text = config.read_text()
        assert not [name for name, value in secrets.items() if value.strip() in text]
        assert "INCIDENT_BOT_" not in text
        bot = _start("run", "--config", str(config), cwd=tmp_path)
        async with Control(f"http://127.0.0.1:{port}") as control:
            await control.wait_for(
                lambda: _json(f"http://127.0.0.1:{port}/_sandbox/gateway"),
                timeout=20,
                what="the bot to connect",
            )
            await control.wait_for(
                lambda: control.request("GET", "commands"), timeout=20, what="command sync"
            )
            general = await control.channel_id("general")
            await control.command(
                await control.user_id("erin"),
                general,
                "incident",
                "declare",
                title="Killed bot",
                severity="P1",
            )
            channel = await incident_channel_id(control, "-killed-bot")
            _stop(bot, signal.SIGKILL)
            # The escalation falls due while the bot is dead: its timer made overdue in the
            # file (an hour away otherwise), no waiting for it.
            database = tomllib.loads(config.read_text())["storage"]["database"]
            with sqlite3.connect(database) as db:
                overdue = db.execute(
                    "UPDATE timers SET due_at = '2000-01-01 00:00:00.000000' "
                    "WHERE state = 'pending' AND kind = 'escalate'"
                ).rowcount
            assert overdue == 1
            bot = _start("run", "--config", str(config), cwd=tmp_path)
            bob = await control.user_id("bob")
            await control.wait_for_message(
                channel,
                lambda m: f"<@{bob}>" in m["content"],
                timeout=30,
                what="the page after restart",
            )
            await asyncio.sleep(1.5)
            pages = [m for m in await control.messages(channel) if f"<@{bob}>" in m["content"]]
            assert len(pages) == 1
    finally:
        if bot is not None:
            _stop(bot)
        _stop(world)


async def _json(url: str):
    async with aiohttp.ClientSession() as http, http.get(url) as response:
        if response.status != 200:
            return None
        return await response.json()


@pytest.fixture(autouse=True)
def _no_token_in_env(monkeypatch):
    monkeypatch.delenv("INCIDENT_BOT_DISCORD_TOKEN", raising=False)


async def test_check_config_checks_the_token_and_the_rotation_members_against_the_guild(tmp_path):
    port = free_port("127.0.0.1")
    world, config = _start_world_only(
        tmp_path,
        port,
        '[[rotation.shifts]]\nstart = "2020-01-01T00:00+00:00"\nend = "2099-01-01T00:00+00:00"\n'
        'primary = "@alice"\nsecondary = "@mallory"\n',
    )
    try:
        _wait_for_line(world, "sandbox world at", timeout=30)
        check = [sys.executable, "-m", "bot.cli", "check-config", "--config", str(config)]
        result = await asyncio.to_thread(
            subprocess.run, check, capture_output=True, text=True, timeout=60
        )
        assert result.returncode == 2
        assert "@mallory is not a member of the guild" in result.stderr
        secrets = config.with_name("bot.secrets.env")
        secrets.write_text(
            secrets.read_text().replace(
                "INCIDENT_BOT_DISCORD_TOKEN=", "INCIDENT_BOT_DISCORD_TOKEN=wrong"
            )
        )
        result = await asyncio.to_thread(
            subprocess.run, check, capture_output=True, text=True, timeout=60
        )
        assert result.returncode == 2
        assert "INCIDENT_BOT_DISCORD_TOKEN: Discord refused the token" in result.stderr
        assert "Traceback" not in result.stderr
    finally:
        _stop(world)


# -- roles: keywords are never roles, configured roles are ids from the start ---------------
def _new_role(world: World, name: str) -> str:
    """A role created in the guild while the bot runs (the gateway tells the bot, as Discord's)."""
    state = world.discord.state
    role = state.add_role(name)
    state.dispatch("GUILD_ROLE_CREATE", {"guild_id": world.guild_id, "role": role.payload()})
    return str(role.id)


def _rename_role(world: World, role_id: str, name: str) -> None:
    state = world.discord.state
    role = state.role(role_id)
    role.name = name
    state.dispatch("GUILD_ROLE_UPDATE", {"guild_id": world.guild_id, "role": role.payload()})


def _give_role(world: World, user_id: str, role_id: str) -> None:
    state = world.discord.state
    state.set_member_roles(user_id, [*state.member(user_id).roles, int(role_id)])


async def _bot_sees(control: Control, bot: BotHandle, user_id: str, role_name: str) -> None:
    def seen() -> bool:
        member = bot.services.discord.guild.get_member(int(user_id))
        return member is not None and role_name in {r.name for r in member.roles}

    await control.wait_for(seen, what=f"the bot's cache to show {role_name!r} on {user_id}")


async def _declare(control: Control, title: str) -> str:
    general = await control.channel_id("general")
    erin = await control.user_id("erin")
    await control.command(erin, general, "incident", "declare", title=title, severity="P2")
    return await incident_channel_id(control, "-" + title.lower().replace(" ", "-"))


async def test_a_guild_role_named_commander_grants_nothing_and_a_missing_role_is_logged(
    world, control, tmp_path, caplog
):
    # A role named like a keyword exists before the bot starts, and Frank holds it.
    state = world.discord.state
    frank = str(state.find_user("frank").id)
    commander_role = state.add_role("commander")
    state.set_member_roles(frank, [commander_role.id])
    overlay = merge(
        ALWAYS_ON_CALL,
        {"permissions": {"acknowledge": ["commander", "paged", "incident-admin", "on-call"]}},
    )
    bot = BotHandle(world, tmp_path / "bot-data", overlay)
    caplog.set_level(logging.WARNING)
    await bot.start()
    try:
        assert any(
            "permissions.acknowledge: no role named `on-call` in the guild" in r.getMessage()
            for r in caplog.records
        )
        channel = await _declare(control, "Keyword role")
        ack = await control.command(frank, channel, "incident", "ack")
        assert "Only the incident commander" in text_of(ack)
        handover = await control.command(frank, channel, "incident", "commander", member=frank)
        assert "Only the incident commander" in text_of(handover)
        incident = await bot.services.incidents.in_channel(channel)
        assert incident.commander_id != frank
        assert incident.acknowledged_at is None
    finally:
        await bounded(bot.stop(), "stopping the bot")


async def test_roles_are_compared_by_the_ids_resolved_at_start_not_by_name(bot, world, control):
    channel = await _declare(control, "Renamed role")
    frank, alice = await control.user_id("frank"), await control.user_id("alice")
    # Someone who may manage lesser roles renames the real one and dresses up their own.
    real = str(world.discord.state.find_role("incident-admin").id)
    _rename_role(world, real, "incident-admin-old")
    fake = _new_role(world, "helpers")
    _give_role(world, frank, fake)
    _rename_role(world, fake, "incident-admin")
    await _bot_sees(control, bot, frank, "incident-admin")
    await _bot_sees(control, bot, alice, "incident-admin-old")

    handover = await control.command(frank, channel, "incident", "commander", member=frank)
    assert "Only the incident commander or members with the `incident-admin` role" in text_of(
        handover
    )
    severity = await control.command(frank, channel, "incident", "severity", level="P1")
    assert "Only" in text_of(severity)
    incident = await bot.services.incidents.in_channel(channel)
    assert incident.commander_id != frank and incident.severity == "P2"
    # The role resolved at start still counts under its new name.
    assert "incident-admin" in bot.services.discord.role_names(alice)
    assert bot.services.discord.role_id("incident-admin") == real


async def test_check_config_names_a_role_the_guild_lacks_or_has_twice(world, tmp_path, capsys):
    config = tmp_path / "bot.toml"

    def write(overlay):
        merged = merge(ALWAYS_ON_CALL, overlay)
        write_config(
            config,
            sandbox_config(world, tmp_path / "data", HOST, world.webhook_port, merged),
            sandbox_secrets(world),
        )

    write({})
    assert await asyncio.to_thread(check_config, config) == 0
    assert "configuration OK" in capsys.readouterr().out

    world.discord.state.add_role("comms")  # a second role of that name
    write({"permissions": {"hand_over": ["commander", "incident-admins"]}})
    assert await asyncio.to_thread(check_config, config) == 2
    said = capsys.readouterr().err
    assert "permissions.hand_over: no role named `incident-admins` in the guild" in said
    assert (
        "discord.comms_role, permissions.post_update, permissions.approve_external: "
        "2 roles are named `comms`"
    ) in said


# -- shutdown: no gateway heartbeat thread outlives the loop it schedules on ----------------
async def test_closing_the_bot_ends_every_gateway_heartbeat_thread_of_its_client(bot):
    from discord.gateway import KeepAliveHandler

    client = bot.runtime.bot
    current = client.ws._keep_alive
    assert current is not None and current.is_alive()
    # One the client lost track of, as a reconnect cancelled between the gateway's HELLO and
    # taking the new socket leaves behind: never told to stop, it would wake on a closed loop.
    orphan = KeepAliveHandler(ws=client.ws, interval=3600)
    orphan.start()
    try:
        await bot.stop()
        assert not current.is_alive()
        assert not orphan.is_alive()
    finally:
        orphan.stop()


async def test_a_heartbeat_thread_started_while_the_bot_closes_is_ended_too(bot, monkeypatch):
    from discord.gateway import KeepAliveHandler

    client = bot.runtime.bot
    ws = client.ws
    late: list[KeepAliveHandler] = []
    close = client.close

    async def close_during_a_reconnect() -> None:
        await close()
        # The gateway's HELLO for a reconnect under way arrives now: its heartbeat thread
        # starts after close() looked for heartbeat threads.
        thread = KeepAliveHandler(ws=ws, interval=3600)
        thread.start()
        late.append(thread)

    monkeypatch.setattr(client, "close", close_during_a_reconnect)
    try:
        await bot.stop()
        assert late and not late[0].is_alive()
    finally:
        for thread in late:
            thread.stop()
