"""Done when (issue 17): the viewer in headless Chromium, with the real bot running: a person
declares an incident in the page's command box, sees its channel (with its severity and state)
and its kickoff, approves the X post, follows the bot's link to the X view and sees the post
there. Screenshots are kept under test-artifacts/ (their paths printed)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import *  # noqa: F403  (the real bot in a world)
from tests.e2e.helpers import ALWAYS_ON_CALL

from .test_viewer_browser import CHROMIUM, Page, open_page

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
QUIET = {"escalate_after": "1h", "respond_within": "2h"}

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed")


@pytest.fixture
def overlay() -> dict[str, Any]:
    return {
        **ALWAYS_ON_CALL,
        "procedure": {"severities": {name: dict(QUIET) for name in ("P0", "P1", "P2")}},
    }


async def _click(page: Page, selector: str, text: str | None = None) -> None:
    """Click the first element matching ``selector`` (whose text contains ``text``)."""
    found = await page.until(
        f"(() => {{ const el = [...document.querySelectorAll({json.dumps(selector)})]"
        f".find((e) => {json.dumps(text)} === null || e.textContent.includes({json.dumps(text)}));"
        " if (el) el.click(); return !!el; })()"
    )
    assert found


async def _keep(page: Page, name: str) -> None:
    path = await page.screenshot(ARTIFACTS / name)
    print(f"screenshot: {path}")


async def test_an_incident_declared_in_the_page_shows_its_channel_kickoff_and_x_post(
    bot, control, world, tmp_path: Path
):
    general = await control.channel_id("general")
    async with open_page(world.base_url, general, tmp_path / "chromium") as page:
        await page.until("typeof S !== 'undefined' && !!S.world && S.commands.length > 0")
        assert await page.evaluate("S.users[S.actor].name") == "alice"
        await page.evaluate(
            "document.getElementById('text').value = "
            "'/incident declare title:Withdrawals failing severity:P0';"
            "document.getElementById('compose').requestSubmit(); true"
        )
        # The new channel is listed with its severity and state, and opens on a click.
        await _click(page, "#channels .chan", "withdrawals-failing")
        badges = await page.until(
            "(() => { const c = [...document.querySelectorAll('#channels .chan')]"
            ".find((e) => e.textContent.includes('withdrawals-failing'));"
            " return c && c.querySelector('.badges') && c.querySelector('.badges').textContent; })()"
        )
        assert badges == "P0open"
        await page.until(
            "document.getElementById('messages').textContent.includes('P0 · Withdrawals failing')"
        )
        kickoff = await page.evaluate("document.getElementById('messages').textContent")
        assert "Commander:" in kickoff and "@Alice Moreau" in kickoff
        await _keep(page, "viewer-incident-channel.png")

        # The commander approves the post to X in the page; the bot's link opens the X view.
        await _click(page, "#messages [data-press]", "Approve")
        await page.until("!!document.querySelector('#messages a[href^=\"#x/\"]')")
        await _click(page, "#messages a[href^='#x/']")
        await page.until("location.hash.startsWith('#x/') && !!document.querySelector('.xpost')")
        focused = await page.until(
            "document.querySelector('#view .xpost.focus') && "
            "document.querySelector('#view .xpost.focus').textContent"
        )
        [post] = await control.x_posts()
        assert post["text"].split("(")[0].strip() in focused and post["id"] in focused
        assert await page.evaluate("location.hash") == f"#x/{post['id']}"
        await _keep(page, "viewer-x-view.png")
