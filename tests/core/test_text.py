"""Text from outside the bot, made inert: one function, tested on what attackers send."""

from __future__ import annotations

import re

from bot.core.text import ZWSP, from_outside, in_code, safe_url

USER, ROLE, CHANNEL = "<@123456789012345678>", "<@&123456789012345678>", "<#123456789012345678>"


def test_a_masked_link_shows_where_it_goes():
    assert from_outside("[click](http://evil.example/x) now") == "click (http://evil.example/x) now"
    assert from_outside('[a](<http://e.example> "title")') == "a (http://e.example)"
    assert from_outside("[http://e.example](http://e.example)") == "http://e.example"
    nested = from_outside("[[x](http://a.example)](http://b.example)")
    assert not re.search(r"(?<!\\)\]\(", nested)


def test_mentions_neither_ping_nor_render():
    cleaned = from_outside(f"@everyone @here {USER} <@!123456789012345678> {ROLE} {CHANNEL}")
    for mention in ("@everyone", "@here", USER, "<@!1", ROLE, CHANNEL):
        assert mention not in cleaned
    assert cleaned.replace(ZWSP, "") == (
        f"@everyone @here {USER} <@!123456789012345678> {ROLE} {CHANNEL}"
    )


def test_markdown_is_escaped_and_urls_left_whole():
    assert from_outside("**bold** _it_ `code` ||spoiler|| ~~gone~~ \\") == (
        r"\*\*bold\*\* \_it\_ \`code\` \|\|spoiler\|\| \~\~gone\~\~ \\"
    )
    assert (
        from_outside("# big\n> quote\n- item\n  2. two")
        == "\\# big\n\\> quote\n\\- item\n  2\\. two"
    )
    assert (
        from_outside("see https://a.example/x_y*z_ now_") == "see https://a.example/x_y*z_ now\\_"
    )


def test_control_and_bidi_characters_are_dropped():
    assert from_outside("abc\u202egnp.exe\u0000\u0007 \u2066x\u2069\ty") == "abcgnp.exe x y"
    assert from_outside("\u0000\u202e  ") is None
    assert from_outside("line one\nline two") == "line one\nline two"


def test_a_limit_never_cuts_an_escape_in_half():
    cleaned = from_outside("x" * 150 + "*" * 100, 200)
    assert len(cleaned) <= 200 and cleaned.endswith("\\*…")
    assert from_outside("short", 200) == "short"


def test_inside_backticks_only_the_backtick_and_controls_go():
    assert in_code("sev`1\u202e <@&1>") == "sev'1 <@&1>"
    assert len(in_code("v" * 100)) == 40


def test_only_plain_http_urls_are_kept():
    assert (
        safe_url(" https://grafana.example/d/abc?orgId=1 ")
        == "https://grafana.example/d/abc?orgId=1"
    )
    for bad in ("javascript:alert(1)", "http://a> @everyone <x", "http://a)[x](http://b", "", None):
        assert safe_url(bad) is None
