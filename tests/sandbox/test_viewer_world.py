"""The viewer's reads beyond Discord (issue 17 additions to the control API): incidents as the
guild shows them, the ops repository's files, the chain, the demo's narration, and the pages
the bot links to, which open the viewer's views."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from sandbox.chain import ChainPart, Deployment
from sandbox.world import World, WorldOptions
from tests.mitigate.conftest import anvil, chain  # noqa: F401  (one anvil a session)

from .conftest import Control
from .test_viewer_browser import CHROMIUM, open_page


async def _location(control: Control, path: str) -> tuple[int, str]:
    async with control.session.get(control.world.base_url + path, allow_redirects=False) as r:
        return r.status, r.headers.get("Location", "")


async def test_the_pages_the_bot_links_to_open_the_viewers_views(control: Control):
    assert await _location(control, "/x/atrium_status/status/7533") == (302, "/#x/7533")
    assert await _location(control, "/x/i/web/status/7533") == (302, "/#x/7533")
    assert await _location(control, "/github/atrium/atrium/issues/4") == (
        302,
        "/#github/issues/4",
    )
    assert await _location(control, "/github/atrium/atrium/tree/hotfix/2026-12-02") == (
        302,
        "/#github/refs/hotfix/2026-12-02",
    )


async def _incident_channel(control: Control, name: str, topic: str, state: str) -> str:
    status, channel = await control.rest(
        "POST", f"/guilds/{control.world.guild_id}/channels", json={"name": name, "topic": topic}
    )
    assert status == 201, channel
    kickoff = {
        "title": f"{topic[:2]} · Vault drained",
        "description": f"**P0: critical**\n\n**State:** {state} · acknowledged by <@1>",
        "footer": {"text": "Incident #7"},
    }
    status, _ = await control.rest(
        "POST", f"/channels/{channel['id']}/messages", json={"embeds": [kickoff]}
    )
    assert status == 200
    return str(channel["id"])


async def test_incidents_are_read_from_the_topic_and_the_kickoff(control: Control):
    assert await control.get("/_sandbox/incidents") == []
    channel = await _incident_channel(
        control, "incident-vault", "P0 · Vault drained [incident:7]", "acknowledged"
    )
    status, _ = await control.rest(
        "POST", f"/guilds/{control.world.guild_id}/channels", json={"name": "plain", "topic": "x"}
    )
    assert status == 201
    assert await control.get("/_sandbox/incidents") == [
        {
            "channel_id": channel,
            "incident": 7,
            "severity": "P0",
            "state": "acknowledged",
            "archived": False,
        }
    ]
    status, archive = await control.rest(
        "POST",
        f"/guilds/{control.world.guild_id}/channels",
        json={"name": "Incident archive", "type": 4},
    )
    assert status == 201
    status, _ = await control.rest(
        "PATCH", f"/channels/{channel}", json={"parent_id": archive["id"]}
    )
    assert status == 200
    [archived] = await control.get("/_sandbox/incidents")
    assert archived["state"] == "archived" and archived["archived"] is True
    # A severity change shows in the kickoff's title before (or without) the topic.
    [kickoff] = await control.get(f"/_sandbox/channels/{channel}/messages")
    status, _ = await control.rest(
        "PATCH",
        f"/channels/{channel}/messages/{kickoff['id']}",
        json={"embeds": [{**kickoff["embeds"][0], "title": "P1 · Vault drained"}]},
    )
    assert status == 200
    [changed] = await control.get("/_sandbox/incidents")
    assert changed["severity"] == "P1"


async def test_the_ops_repository_files_and_commits(control: Control):
    body = await control.get("/_sandbox/ops-repo/files")
    paths = [f["path"] for f in body["files"]]
    assert paths == ["runbooks/on-call-rotation.md"]
    assert body["files"][0]["text"].startswith("# On-call rotation")
    assert len(body["commits"]) == 1 and body["commits"][0]["subject"]
    status, error = await control.request("GET", "/_sandbox/ops-repo/files?ref=nope")
    assert status == 404 and "cannot be read" in error["error"]


async def test_the_demo_narration_feed(control: Control):
    assert await control.get("/_sandbox/demo") == {"steps": [], "done": False}
    status, entry = await control.post("/_sandbox/demo", {"text": "An alert fires", "step": 1})
    assert status == 201 and entry["text"] == "An alert fires"
    await control.post("/_sandbox/demo", {"text": "Done", "done": True})
    feed = await control.get("/_sandbox/demo")
    assert [s["text"] for s in feed["steps"]] == ["An alert fires", "Done"] and feed["done"]
    for bad in ({}, {"text": "  "}, {"text": 3}):
        status, error = await control.post("/_sandbox/demo", bad)
        assert status == 400 and error == {"error": "text must be a non-empty string"}


async def test_the_chain_reads_say_when_the_world_has_no_chain(control: Control):
    for method, path in (("GET", "state"), ("GET", "blocks"), ("POST", "mine")):
        status, error = await control.request(method, f"/_sandbox/chain/{path}")
        assert status == 409 and "no chain" in error["error"]


@pytest.fixture
async def chain_control(tmp_path: Path, chain: Deployment) -> AsyncIterator[Control]:  # noqa: F811
    world = World(WorldOptions(data_dir=tmp_path / "world", port=0))
    world.add_part(ChainPart(deployment=chain))
    await world.start()
    try:
        async with aiohttp.ClientSession() as session:
            yield Control(world, session)
    finally:
        await world.stop()


async def test_mine_advance_and_a_signers_transaction_on_the_chain(chain_control: Control):
    control = chain_control
    before = await control.get("/_sandbox/chain/state")
    assert before["paused"] is False and before["threshold"] == 2
    status, mined = await control.post("/_sandbox/chain/mine", {"blocks": 2})
    assert status == 200 and mined["block"] == before["block"] + 2
    status, advanced = await control.post("/_sandbox/chain/advance", {"seconds": 86_400})
    assert status == 200 and advanced["block"] == mined["block"] + 1
    assert advanced["time"] > before["time"]
    for bad in ({}, {"seconds": 0}, {"seconds": "60"}, {"seconds": True}):
        status, error = await control.post("/_sandbox/chain/advance", bad)
        assert status == 400 and "seconds" in error["error"]

    world = await control.get("/_sandbox/world")
    bob = next(s for s in world["chain"]["signers"] if s.get("user_id"))
    status, sent = await control.post(
        "/_sandbox/chain/transactions",
        {"user_id": bob["user_id"], "to": "PRAETOR_TIMELOCK", "function": "pause()"},
    )
    assert status == 201 and sent["status"] == "ok"
    [block] = await control.get("/_sandbox/chain/blocks?limit=1")
    [tx] = block["transactions"]
    assert tx["hash"] == sent["hash"] and tx["function"] == "pause()"
    assert tx["to_name"] == "PRAETOR_TIMELOCK" and tx["from_name"] == "bob"
    assert (await control.get("/_sandbox/chain/state"))["confirmations"] == 1
    status, error = await control.post(
        "/_sandbox/chain/transactions",
        {"user_id": "1", "to": "PRAETOR_TIMELOCK", "function": "pause()"},
    )
    assert status == 400 and "signer" in error["error"]


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed")
async def test_the_chain_and_ops_views_in_the_browser(chain_control: Control, tmp_path: Path):
    world = chain_control.world
    async with open_page(world.base_url, "chain", tmp_path / "chromium") as page:
        first = await page.until(
            "(() => { const v = document.getElementById('view');"
            " const m = v && /block (\\d+)/.exec(v.textContent);"
            " return m && Number(m[1]); })()"
        )
        assert "running" in await page.evaluate("document.querySelector('.chainbar').textContent")
        await page.evaluate("document.getElementById('mineBtn').click(); true")
        await page.until(
            f"document.getElementById('view').textContent.includes('block {first + 1}')"
        )
        await page.evaluate(
            "document.getElementById('advanceBy').value = '7200';"
            "document.getElementById('advanceBtn').click(); true"
        )
        await page.until(
            f"document.getElementById('view').textContent.includes('block {first + 2}')"
        )
        toast = await page.until("document.getElementById('toasts').textContent")
        assert "Advanced chain time by 7200 s" in toast
        await page.screenshot(tmp_path / "chain.png")

        await page.evaluate("location.hash = '#ops'; true")
        rendered = await page.until(
            "document.querySelector('#view .doc table.gfm') &&"
            " document.querySelector('#view .doc').textContent"
        )
        assert "On-call rotation" in rendered and "@alice" in rendered
        assert await page.evaluate("document.body.classList.contains('viewing')")
        # Back to a channel: the channel's parts come back.
        await page.evaluate("document.querySelector('#channels .chan').click(); true")
        await page.until("!document.body.classList.contains('viewing') && !!S.current")
