"""X's weighted character count (twitter-text configuration v3), without a network call.

X counts a post in weighted characters and allows 280 of them: most Latin, Greek,
Cyrillic and punctuation code points weigh 1, everything else (CJK, most symbols)
weighs 2, an emoji weighs 2 however many code points it is made of (flags, skin
tones, ZWJ families), and a link weighs 23 whatever its length (it becomes a t.co
link). Text is NFC-normalised first. See twitter-text's ``config/v3.json``.

Links are recognised by scheme (``http://``, ``https://``) or as a bare domain with
a common top-level domain (``atrium.xyz/status``); twitter-text's full TLD list is
longer, so an exotic bare domain may count as its letters here while X counts 23.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

MAX_WEIGHTED = 280
URL_WEIGHT = 23
_SCALE, _DEFAULT_WEIGHT = 100, 200
# (first, last, weight) from twitter-text config v3; everything else weighs _DEFAULT_WEIGHT.
_LIGHT_RANGES = ((0, 4351), (8192, 8205), (8208, 8223), (8242, 8247))

_TLDS = (
    "com|org|net|io|xyz|app|dev|co|fi|finance|info|me|ai|gg|so|sh|tech|cloud|page|site|"
    "us|uk|de|fr|eu|ch|nl|es|it|jp|cn|in|br|ca|au|ru|gov|edu"
)
_URL = re.compile(
    r"(?:https?://[^\s<>\"]+"
    r"|(?<![\w@.])(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)+(?:" + _TLDS + r")(?![\w-])"
    r"(?::\d+)?(?:/[^\s<>\"]*)?)",
    re.IGNORECASE,
)
_TRAILING_PUNCTUATION = ".,:;!?)]}'\""

# One emoji: a flag, a keycap, a tagged subdivision flag, or a pictograph with an
# optional presentation selector or skin tone, joined to more by ZWJ.
_PICTOGRAPH = (
    "[\u2190-\u21ff\u2300-\u23ff\u2460-\u24ff\u25a0-\u27bf\u2900-\u297f\u2b00-\u2bff"
    "\u3030\u303d\u3297\u3299\U0001f000-\U0001faff]"
    "|[\u00a9\u00ae\u203c\u2049\u2122\u2139]\ufe0f"
)
_MODIFIER = "(?:\ufe0f|[\U0001f3fb-\U0001f3ff])?"
_EMOJI = re.compile(
    "[\U0001f1e6-\U0001f1ff]{2}"
    "|[0-9#*]\ufe0f?\u20e3"
    "|\U0001f3f4[\U000e0020-\U000e007e]+\U000e007f"
    f"|(?:{_PICTOGRAPH}){_MODIFIER}(?:\u200d(?:{_PICTOGRAPH}){_MODIFIER})*"
)


def _weight(code_point: int) -> int:
    for first, last in _LIGHT_RANGES:
        if first <= code_point <= last:
            return _SCALE
    return _DEFAULT_WEIGHT


def _url_spans(text: str) -> list[tuple[int, int]]:
    spans = []
    for match in _URL.finditer(text):
        start, end = match.span()
        while end > start and text[end - 1] in _TRAILING_PUNCTUATION:
            end -= 1
        spans.append((start, end))
    return spans


def _plain_weight(segment: str) -> int:
    total, index = 0, 0
    while index < len(segment):
        emoji = _EMOJI.match(segment, index)
        if emoji:
            total += _DEFAULT_WEIGHT
            index = emoji.end()
        else:
            total += _weight(ord(segment[index]))
            index += 1
    return total


def weighted_length(text: str) -> int:
    """The length X gives ``text`` (the number its 280 limit applies to)."""
    text = unicodedata.normalize("NFC", text)
    total, position = 0, 0
    for start, end in _url_spans(text):
        total += _plain_weight(text[position:start]) + URL_WEIGHT * _SCALE
        position = end
    total += _plain_weight(text[position:])
    return total // _SCALE


@dataclass(frozen=True)
class Measured:
    text: str
    weighted: int
    limit: int = MAX_WEIGHTED

    @property
    def fits(self) -> bool:
        return 0 < self.weighted <= self.limit

    @property
    def over(self) -> int:
        return max(0, self.weighted - self.limit)

    def problem(self) -> str | None:
        """What is wrong with it, for a person; None when X will take it."""
        if not self.text.strip():
            return "The post is empty."
        if self.over:
            return (
                f"The post is {self.weighted}/{self.limit} weighted characters "
                f"(links count {URL_WEIGHT}, emoji and CJK characters 2): "
                f"shorten it by {self.over}."
            )
        return None


def measure(text: str, limit: int = MAX_WEIGHTED) -> Measured:
    return Measured(text, weighted_length(text), limit)
