"""Text the bot did not write (alert titles, annotations, labels), made safe to post.

An alert's summary is written by whoever configured the alert rule, or by anyone
who can make a service log a line that ends up in one. Posted verbatim it could
ping ``@everyone``, mention a role, hide a link behind ``[harmless text](…)``,
turn the bot's message into a heading, or reverse the text around it with a bidi
override. :func:`from_outside` is the one door for such text: applied where it
enters the bot, everything downstream (the kickoff, ``#ops-alerts``, X drafts,
the incident's own messages) holds clean text.
"""

from __future__ import annotations

import re

ZWSP = "\u200b"  # a zero-width space: breaks a mention without showing anything
# Bidi embeddings, overrides and isolates, and the marks; they reorder what follows them.
BIDI = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
MASKED_LINK = re.compile(
    r"\[(?P<text>[^\[\]]*)\]\(\s*<?(?P<url>[^\s()<>]+)>?(?:\s+\"[^\"]*\")?\s*\)"
)
URL = re.compile(r"https?://[^\s<>\[\]]+")
MARKDOWN = re.compile(r"[\\*_~|`\[\]]")
LINE_START = re.compile(r"^(\s*)(?:([#>\-+])|(\d+)\.)", re.MULTILINE)
MENTION = re.compile(r"@(?=everyone|here|[!&]?\d)|<(?=#\d)")
# Control characters (category Cc: C0, DEL, C1) go, but for the newline; tabs and
# carriage returns become spaces, line and paragraph separators newlines.
_PRINTABLE: dict[int, str | None] = {
    **{c: None for c in (*range(0x00, 0x20), *range(0x7F, 0xA0))},
    **{ord(c): None for c in BIDI},
    ord("\n"): "\n",
    ord("\t"): " ",
    ord("\r"): " ",
    0x2028: "\n",
    0x2029: "\n",
}
SAFE_URL = re.compile(r"https?://[^\s<>\"'`|\\\[\]()]+", re.ASCII)


def from_outside(text: str | None, limit: int | None = None) -> str | None:
    """``text`` as plain, inert Markdown: None when nothing is left, at most ``limit`` long.

    - control characters (NUL included, newlines kept) and bidi marks are dropped;
    - a masked link ``[text](url)`` becomes ``text (url)``: the reader sees where it goes;
    - Markdown (``* _ ~ | ` [ ] \\``, and ``#``, ``>``, ``-``, ``1.`` opening a line) is
      escaped, URLs left whole so they still work;
    - mentions (``@everyone``, ``@here``, ``<@id>``, ``<@!id>``, ``<@&id>``, ``<#id>``)
      are broken with a zero-width space, so they neither ping nor render.
    """
    if text is None:
        return None
    raw = _printable(str(text)).strip()
    if not raw:
        return None
    cleaned = _escape(raw)
    if limit is not None and len(cleaned) > limit:
        # The longest start of the text whose escaped form and an ellipsis fit: an
        # escape is never cut in half (a lone backslash would escape the ellipsis).
        low, high = 0, len(raw)
        while low < high:
            middle = (low + high + 1) // 2
            if len(_escape(raw[:middle].rstrip())) + 1 <= limit:
                low = middle
            else:
                high = middle - 1
        cleaned = _escape(raw[:low].rstrip()) + "…"
    return cleaned


def in_code(text: str, limit: int = 40) -> str:
    """``text`` safe inside Markdown backticks: one short line, no backtick to close the
    code span early, no control or bidi character. Inside a code span nothing renders
    (no Markdown, no mention), so the value is shown as it was sent."""
    cleaned = " ".join(_printable(text).replace("`", "'").split())
    return cleaned if len(cleaned) <= limit else cleaned[: limit - 1] + "…"


def safe_url(url: str | None) -> str | None:
    """``url`` when it is a plain http(s) URL that cannot break out of ``<…>``; else None."""
    if not url:
        return None
    candidate = url.strip()
    match = SAFE_URL.fullmatch(candidate)
    return candidate if match and len(candidate) <= 2000 else None


def _printable(text: str) -> str:
    return text.translate(_PRINTABLE)


def _escape(text: str) -> str:
    unmasked = MASKED_LINK.sub(_unmask, text)
    while unmasked != text:  # nested masks, inside out
        text, unmasked = unmasked, MASKED_LINK.sub(_unmask, unmasked)
    parts: list[str] = []
    last = 0
    for match in URL.finditer(text):
        parts.append(_escape_markdown(text[last : match.start()]))
        parts.append(match.group(0))
        last = match.end()
    parts.append(_escape_markdown(text[last:]))
    escaped = LINE_START.sub(_line_start, "".join(parts))
    return MENTION.sub(lambda m: m.group(0) + ZWSP, escaped)


def _line_start(match: re.Match[str]) -> str:
    """A heading, quote or list marker opening a line, shown as the character it is."""
    indent, marker, number = match.groups()
    return f"{indent}\\{marker}" if marker else f"{indent}{number}\\."


def _unmask(match: re.Match[str]) -> str:
    label, url = match.group("text").strip(), match.group("url")
    return f"{label} ({url})" if label and label != url else url


def _escape_markdown(text: str) -> str:
    return MARKDOWN.sub(lambda m: "\\" + m.group(0), text)
