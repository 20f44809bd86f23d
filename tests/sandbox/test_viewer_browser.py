"""The viewer driven in headless Chromium (skipped when it is not installed): a person types a
command in the page's box, and the bot's real command gets the options they meant."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import json
import re
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import discord
import pytest
from discord import app_commands

from sandbox.world import World

from .conftest import Control, RecordingBot

CHROMIUM = next(
    (p for p in map(shutil.which, ("chromium", "chromium-browser", "google-chrome")) if p), None
)
WAIT_S = 20.0  # a bound on waiting for the page, not a speed requirement
START_S = 90.0  # a bound on chromium's start (a cold start on a busy machine is slow)

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed")


class Page:
    """One browser tab over the DevTools protocol (plain websocket JSON, no client library)."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse, session_id: str) -> None:
        self.ws = ws
        self.session_id = session_id
        self._ids = itertools.count(1000)

    async def evaluate(self, expression: str) -> Any:
        answer = await _call(
            self.ws,
            self._ids,
            "Runtime.evaluate",
            {"expression": expression, "returnByValue": True, "awaitPromise": True},
            self.session_id,
        )
        if "exceptionDetails" in answer:
            raise AssertionError(f"{expression!r} raised {answer['exceptionDetails']}")
        return answer["result"].get("value")

    async def screenshot(self, path: Path) -> Path:
        """A PNG of the tab as it is now (kept as a test artefact)."""
        shot = await _call(
            self.ws, self._ids, "Page.captureScreenshot", {"format": "png"}, self.session_id
        )
        await asyncio.to_thread(_write, path, base64.b64decode(shot["data"]))
        return path

    async def until(self, expression: str) -> Any:
        """The value of ``expression`` once it is truthy (re-evaluated as the page polls)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + WAIT_S
        while not (value := await self._evaluate_across_reload(expression)):
            if loop.time() > deadline:
                raise AssertionError(f"the page never made {expression!r} true")
            await asyncio.sleep(0.1)
        return value

    async def _evaluate_across_reload(self, expression: str) -> Any:
        """``evaluate``, or None when the page navigated while it ran (a reload the test
        made): the poll asks the new page next."""
        try:
            return await self.evaluate(expression)
        except Navigated:
            return None


class Navigated(AssertionError):
    """The page navigated (or closed) while a call on it ran."""


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


async def _call(ws, ids, method: str, params: dict, session_id: str | None = None) -> dict:
    message_id = next(ids)
    message: dict[str, Any] = {"id": message_id, "method": method, "params": params}
    if session_id:
        message["sessionId"] = session_id
    await ws.send_str(json.dumps(message))
    async for frame in ws:
        data = json.loads(frame.data)
        if data.get("id") == message_id:
            if "error" in data:
                error = data["error"]
                navigated = "navigated or closed" in str(error.get("message", ""))
                raise (Navigated if navigated else AssertionError)(f"{method}: {error}")
            return data["result"]
    raise AssertionError(f"the browser went away during {method}")


@contextlib.asynccontextmanager
async def open_page(base_url: str, fragment: str, profile: Path) -> AsyncIterator[Page]:
    """Debian's chromium, headless, on ``base_url/#fragment`` (a fresh profile in ``profile``)."""
    process = await asyncio.create_subprocess_exec(
        str(CHROMIUM),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--remote-debugging-port=0",
        f"--user-data-dir={profile}",
        "about:blank",
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stderr is not None
        endpoint = None
        while endpoint is None:
            line = await asyncio.wait_for(process.stderr.readline(), START_S)
            assert line, "chromium exited before listening"
            found = re.search(rb"DevTools listening on (ws://\S+)", line)
            endpoint = found.group(1).decode() if found else None
        async with (
            aiohttp.ClientSession() as session,
            session.ws_connect(endpoint, max_msg_size=0) as ws,
        ):
            ids = itertools.count(1)
            target = await _call(ws, ids, "Target.createTarget", {"url": "about:blank"})
            attached = await _call(
                ws, ids, "Target.attachToTarget", {"targetId": target["targetId"], "flatten": True}
            )
            tab = Page(ws, attached["sessionId"])
            metrics = {"width": 1440, "height": 900, "deviceScaleFactor": 1, "mobile": False}
            await _call(ws, ids, "Emulation.setDeviceMetricsOverride", metrics, tab.session_id)
            await _call(
                ws, ids, "Page.navigate", {"url": f"{base_url}/#{fragment}"}, tab.session_id
            )
            yield tab
    finally:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        await process.wait()


@pytest.fixture
async def page(world: World, tmp_path: Path) -> AsyncIterator[Page]:
    ops = world.discord.state.find_channel("ops-alerts")
    async with open_page(world.base_url, str(ops.id), tmp_path / "chromium") as tab:
        yield tab


async def _declare_command(bot: RecordingBot, guild: discord.Object, seen: list) -> None:
    group = app_commands.Group(name="incident", description="Incidents", guild_ids=[guild.id])

    @group.command(description="Declare")
    @app_commands.choices(
        severity=[app_commands.Choice(name=p, value=p) for p in ("P1", "P2", "P3", "P4")]
    )
    async def declare(
        interaction: discord.Interaction, title: str, severity: app_commands.Choice[str]
    ) -> None:
        seen.append((interaction.user.name, title, severity.value))
        await interaction.response.send_message(f"declared {title} ({severity.value})")

    bot.tree.add_command(group)
    await bot.tree.sync(guild=guild)


async def _type(page: Page, text: str) -> None:
    await page.evaluate(
        f"document.getElementById('text').value = {json.dumps(text)};"
        "document.getElementById('compose').requestSubmit(); true"
    )


async def test_the_command_box_takes_unquoted_and_quoted_values(
    bot, guild, control: Control, page: Page
):
    seen: list = []
    await _declare_command(bot, guild, seen)
    # The page has loaded the world and the synced commands, and acts as alice.
    await page.until("typeof S !== 'undefined' && !!S.world && S.commands.length > 0")
    assert await page.evaluate("S.users[S.actor].name") == "alice"

    await _type(page, "/incident declare title:Deposits slow severity:P2")
    await page.until("document.getElementById('entries').textContent.includes('declared Deposits')")
    await _type(page, '/incident declare title:"Withdrawals failing" severity:P1')
    await page.until("document.getElementById('entries').textContent.includes('Withdrawals')")
    assert seen == [
        ("alice", "Deposits slow", "P2"),
        ("alice", "Withdrawals failing", "P1"),
    ]
    log = await page.evaluate("document.getElementById('entries').textContent")
    assert "declared Withdrawals failing (P1)" in log and "declared Deposits slow (P2)" in log
    assert "refused" not in log.lower()
    # The bot's message is in the channel, under "alice used /incident declare".
    await page.until(
        "document.getElementById('messages').textContent.includes('declared Deposits')"
    )
    shown = await page.evaluate("document.getElementById('messages').textContent")
    assert "Alice Moreau used /incident declare" in " ".join(
        await page.evaluate(
            "[...document.querySelectorAll('#messages .context')].map((c) => c.textContent)"
        )
    )
    assert "declared Deposits slow (P2)" in shown


async def test_a_line_that_cannot_be_read_is_refused_in_the_page(
    bot, guild, control: Control, page: Page
):
    seen: list = []
    await _declare_command(bot, guild, seen)
    await page.until("typeof S !== 'undefined' && !!S.world && S.commands.length > 0")
    await _type(page, "/incident declare Deposits slow")
    toast = await page.until(
        "[...document.querySelectorAll('#toasts .toast.err')].map((t) => t.textContent).join()"
    )
    assert "Command refused" in toast and "'Deposits slow' is not name:value" in toast
    # The line stays in the box to be corrected; nothing reached the bot.
    assert await page.evaluate("document.getElementById('text').value") == (
        "/incident declare Deposits slow"
    )
    assert seen == []


async def _input(page: Page, text: str) -> None:
    await page.evaluate(
        f"document.getElementById('text').value = {json.dumps(text)};"
        "document.getElementById('text').dispatchEvent(new Event('input')); true"
    )


_OFFERED = "[...document.querySelectorAll('#optbar button.opt')].map((b) => b.textContent)"


async def test_the_command_box_offers_choices_and_the_bots_suggestions_and_the_log_stays(
    bot, guild, control: Control, page: Page
):
    seen: list = []
    group = app_commands.Group(name="incident", description="Incidents", guild_ids=[guild.id])

    async def services(interaction: discord.Interaction, current: str) -> list:
        return [app_commands.Choice(name=f"{current}-service", value=f"{current}-svc")]

    @group.command(description="Declare")
    @app_commands.choices(severity=[app_commands.Choice(name=p, value=p) for p in ("P1", "P2")])
    @app_commands.autocomplete(service=services)
    async def declare(
        interaction: discord.Interaction, severity: app_commands.Choice[str], service: str
    ) -> None:
        seen.append((severity.value, service))
        await interaction.response.send_message(f"declared for {service} ({severity.value})")

    bot.tree.add_command(group)
    await bot.tree.sync(guild=guild)
    await page.until("typeof S !== 'undefined' && !!S.world && S.commands.length > 0")

    # A choice option offers its choices, as Discord's client lists them.
    await _input(page, "/incident declare severity:")
    assert await page.until(f"{_OFFERED}.length === 2 && {_OFFERED}") == ["P1", "P2"]
    await page.evaluate("document.querySelector('#optbar button.opt').click(); true")
    assert await page.evaluate("document.getElementById('text').value") == (
        "/incident declare severity:P1 "
    )
    # An autocomplete option asks the bot, with what is typed so far.
    await _input(page, "/incident declare severity:P1 service:bri")
    assert await page.until(f"{_OFFERED}.includes('bri-service') && {_OFFERED}") == ["bri-service"]
    await page.evaluate("document.querySelector('#optbar button.opt').click(); true")
    assert await page.evaluate("document.getElementById('text').value") == (
        "/incident declare severity:P1 service:bri-svc "
    )
    await page.evaluate("document.getElementById('compose').requestSubmit(); true")
    await page.until("document.getElementById('entries').textContent.includes('declared for')")
    assert seen == [("P1", "bri-svc")]

    # The activity panel keeps its history across a reload.
    await page.evaluate("window.beforeReload = true; location.reload(); true")
    await page.until("!window.beforeReload && typeof S !== 'undefined' && !!S.world")
    assert "declared for bri-svc (P1)" in await page.evaluate(
        "document.getElementById('entries').textContent"
    )
