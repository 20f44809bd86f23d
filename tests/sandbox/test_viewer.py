"""The viewer page (sandbox/static/index.html, its stylesheet and scripts): served by the world,
self-contained, and its Discord markup renderer (run under node when it is installed) escapes
first and resolves names."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from sandbox.world import STATIC_DIR, World

from .conftest import Control

PAGE = STATIC_DIR / "index.html"
REFERENCE = re.compile(
    r"<(script|img|link|iframe|audio|video)\b[^>]*\b(src|href)\s*=\s*[\"']([^\"']*)[\"']", re.I
)


def _files() -> list[str]:
    """The files the page loads, in its order: only its own, next to it (``static/...``)."""
    html = PAGE.read_text(encoding="utf-8")
    return [ref for _, _, ref in REFERENCE.findall(html) if not ref.startswith("data:")]


def _scripts() -> list[Path]:
    return [STATIC_DIR / ref.removeprefix("static/") for ref in _files() if ref.endswith(".js")]


def _script() -> str:
    scripts = _scripts()
    assert scripts, "the page loads its scripts"
    return "\n".join(path.read_text(encoding="utf-8") for path in scripts)


async def test_the_viewer_is_served_at_the_root(control: Control, world: World):
    async with control.session.get(world.base_url + "/") as response:
        assert response.status == 200
        assert response.content_type == "text/html"
        assert "Act as" in await response.text()


async def test_the_world_serves_every_file_the_page_loads(control: Control, world: World):
    kinds = {".css": "text/css", ".js": "javascript"}
    for ref in _files():
        async with control.session.get(f"{world.base_url}/{ref}") as response:
            assert response.status == 200, ref
            assert kinds[Path(ref).suffix] in response.content_type, (ref, response.content_type)
            assert await response.text() == (STATIC_DIR / ref.removeprefix("static/")).read_text(
                encoding="utf-8"
            )


def test_the_viewer_loads_only_its_own_files_and_only_calls_the_control_api():
    html = PAGE.read_text(encoding="utf-8")
    files = _files()
    assert files and all(re.fullmatch(r"static/[\w-]+\.(css|js)", ref) for ref in files), files
    assert all((STATIC_DIR / ref.removeprefix("static/")).is_file() for ref in files), files
    assert "<script>" not in html and "<style>" not in html  # nothing inline: one place each
    texts = [html] + [(STATIC_DIR / r.removeprefix("static/")).read_text("utf-8") for r in files]
    every = "\n".join(texts)
    assert "@import" not in every and "url(" not in every
    assert not re.search(r"\bimport\s*\(|\bimportScripts\b|XMLHttpRequest|WebSocket", every)
    paths = re.findall(r"""api\("(?:GET|POST|PUT|DELETE)", [`"]([^`"]+)""", every)
    assert paths and all(p.startswith("/_sandbox/") for p in paths), paths
    assert every.count("fetch(") == 1  # the api() helper


NODE = shutil.which("node")
HARNESS = r"""
const fs = require("fs"), vm = require("vm");
const ctx = { console, Intl, Date, BigInt };
vm.createContext(ctx);
vm.runInContext(fs.readFileSync(process.argv[2], "utf8") + ";globalThis.T = { markdown, embedHtml, S };", ctx);
const { markdown, embedHtml, S } = ctx.T;
const world = {
  bot_user_id: "10", guild_id: "1",
  users: [{ id: "11", name: "bob", display_name: "Bob Okafor", roles: ["oncall"] }],
  roles: [{ id: "21", name: "oncall" }],
  channels: [{ id: "31", name: "ops-alerts", type: 0, parent_id: null, position: 0 }],
};
Object.assign(S, { world, actor: "11",
  users: { 11: world.users[0] }, roles: { 21: world.roles[0] }, channels: { 31: world.channels[0] } });
const inputs = JSON.parse(fs.readFileSync(0, "utf8"));
console.log(JSON.stringify({
  md: inputs.md.map((t) => markdown(t)),
  embed: embedHtml(inputs.embed),
}));
"""


@pytest.mark.skipif(NODE is None, reason="node is not installed")
def test_the_markup_renderer(tmp_path: Path):
    script = tmp_path / "viewer.js"
    script.write_text(_script(), encoding="utf-8")
    subprocess.run([NODE, "--check", str(script)], check=True)
    harness = tmp_path / "harness.js"
    harness.write_text(HARNESS, encoding="utf-8")
    md = [
        "<@11> is commander for **Withdrawals failing**; ack with `/incident ack`.",
        "<@&21> <#31> <#99> <@12>",
        "<script>alert(1)</script> & [x](javascript:alert(1))",
        "> quoted *it*\n- [ ] one\n- [x] two\n1. first",
        "[#12](https://example.com/issues/12) and https://example.com/a.",
        "```\n<b>code</b>\n```",
        "due <t:1795790132:R>, at <t:1795790132:f>",
    ]
    embed = {
        "title": "P1 · <Down>",
        "description": "**Status:** declared",
        "color": 15105570,
        "fields": [{"name": "Commander", "value": "<@11>", "inline": True}],
        "footer": {"text": "Incident #1"},
    }
    done = subprocess.run(
        [NODE, str(harness), str(script)],
        input=json.dumps({"md": md, "embed": embed}),
        capture_output=True,
        text=True,
        check=True,
    )
    out = json.loads(done.stdout)
    r = out["md"]
    assert '<span class="mention me" title="Bob Okafor (@bob)">@Bob Okafor</span>' in r[0]
    assert "<strong>Withdrawals failing</strong>" in r[0] and "<code>/incident ack</code>" in r[0]
    assert "@oncall" in r[1] and 'data-channel="31"' in r[1] and "#ops-alerts" in r[1]
    assert "#unknown" in r[1] and "@unknown-user" in r[1]
    assert "<script>" not in r[2] and "&lt;script&gt;" in r[2] and "href" not in r[2]
    assert "<blockquote>" in r[3] and "<em>it</em>" in r[3]
    assert r[3].count('class="task') == 2 and 'class="task done"' in r[3] and ">1.<" in r[3]
    assert 'href="https://example.com/issues/12"' in r[4] and ">#12</a>" in r[4]
    assert 'href="https://example.com/a"' in r[4]  # the full stop is not part of the link
    assert "<pre><code>&lt;b&gt;code&lt;/b&gt;</code></pre>" in r[5]
    assert 'data-style="R"' in r[6] and ("ago" in r[6] or "in " in r[6]) and "<t:" not in r[6]
    e = out["embed"]
    assert "P1 · &lt;Down&gt;" in e and "<strong>Status:</strong>" in e and "@Bob Okafor" in e
    assert "Incident #1" in e and "#e67e22" in e


GFM_HARNESS = r"""
const fs = require("fs"), vm = require("vm");
const ctx = { console, Intl, Date, BigInt };
vm.createContext(ctx);
vm.runInContext(fs.readFileSync(process.argv[2], "utf8") + ";globalThis.T = { gfm, S };", ctx);
const { gfm, S } = ctx.T;
Object.assign(S, { world: { users: [], roles: [], channels: [] } });
console.log(JSON.stringify(gfm(fs.readFileSync(0, "utf8"))));
"""


@pytest.mark.skipif(NODE is None, reason="node is not installed")
def test_the_ops_repository_markdown_renders_tables_and_hides_comments(tmp_path: Path):
    script = tmp_path / "viewer.js"
    script.write_text(_script(), encoding="utf-8")
    harness = tmp_path / "gfm.js"
    harness.write_text(GFM_HARNESS, encoding="utf-8")
    text = (
        "<!-- incident-bot:1:2 -->\n# Plan tracker\n\n| Action | Owner |\n|---|---|\n"
        "| Rotate <keys> | **Bob** |\n\nAfter the table."
    )
    done = subprocess.run(
        [NODE, str(harness), str(script)], input=text, capture_output=True, text=True, check=True
    )
    html = json.loads(done.stdout)
    assert "incident-bot:1:2" not in html and 'class="h1"' in html
    assert "<th>Action</th><th>Owner</th>" in html
    assert "<td>Rotate &lt;keys&gt;</td><td><strong>Bob</strong></td>" in html
    assert "After the table." in html and "<script" not in html
