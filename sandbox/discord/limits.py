"""Discord's documented limits, checked the way Discord checks them (400 with its error body)."""

from __future__ import annotations

import re
from typing import Any

from . import component_checks
from .errors import DiscordError, field_error, invalid_form_body, max_length, nest

MAX_CONTENT = 2000
MAX_EMBEDS = 10
MAX_EMBED_TOTAL = 6000
MAX_TITLE = 256
MAX_DESCRIPTION = 4096
MAX_FIELDS = 25
MAX_FIELD_NAME = 256
MAX_FIELD_VALUE = 1024
MAX_FOOTER = 2048
MAX_AUTHOR = 256
MAX_CHANNELS_PER_GUILD = 500
MAX_CHANNELS_PER_CATEGORY = 50
MAX_PINS = 250
MAX_REACTIONS = 20
MAX_CHANNEL_NAME = 100
MAX_HISTORY_LIMIT = 100

TEXT_CHANNEL_TYPES = {0, 5}


def _embed_errors(index: int, embed: dict[str, Any]) -> tuple[dict[str, Any], int]:
    """The first limit an embed breaks (as an error tree) and the characters it counts."""
    prefix = ["embeds", str(index)]
    title = embed.get("title") or ""
    description = embed.get("description") or ""
    footer = (embed.get("footer") or {}).get("text") or ""
    author = (embed.get("author") or {}).get("name") or ""
    fields = embed.get("fields") or []
    size = len(title) + len(description) + len(footer) + len(author)
    checks = [
        (["title"], title, MAX_TITLE),
        (["description"], description, MAX_DESCRIPTION),
        (["footer", "text"], footer, MAX_FOOTER),
        (["author", "name"], author, MAX_AUTHOR),
    ]
    for path, text, limit in checks:
        if len(text) > limit:
            return nest([*prefix, *path], max_length(limit)), size
    if len(fields) > MAX_FIELDS:
        return nest([*prefix, "fields"], max_length(MAX_FIELDS)), size
    for number, field in enumerate(fields):
        name = str(field.get("name") or "")
        value = str(field.get("value") or "")
        size += len(name) + len(value)
        for key, text, limit in (("name", name, MAX_FIELD_NAME), ("value", value, MAX_FIELD_VALUE)):
            if len(text) > limit:
                return nest([*prefix, "fields", str(number), key], max_length(limit)), size
            if not text:
                leaf = field_error("BASE_TYPE_REQUIRED", "This field is required")
                return nest([*prefix, "fields", str(number), key], leaf), size
    return {}, size


def check_message(
    payload: dict[str, Any], *, has_files: bool = False, require_something: bool = True
) -> None:
    """Raise Discord's error if a message create/edit payload breaks a limit."""
    content = payload.get("content")
    if content is not None and not isinstance(content, str):
        content = str(content)
    if content and len(content) > MAX_CONTENT:
        raise invalid_form_body({"content": max_length(MAX_CONTENT)})
    embeds = payload.get("embeds") or []
    if len(embeds) > MAX_EMBEDS:
        raise invalid_form_body({"embeds": max_length(MAX_EMBEDS)})
    total = 0
    for index, embed in enumerate(embeds):
        errors, size = _embed_errors(index, embed)
        if errors:
            raise invalid_form_body(errors)
        total += size
    if total > MAX_EMBED_TOTAL:
        raise invalid_form_body(
            {
                "embeds": field_error(
                    "MAX_EMBED_SIZE_EXCEEDED",
                    f"Embed size exceeds maximum size of {MAX_EMBED_TOTAL}",
                )
            }
        )
    component_checks.check_message_components(
        payload.get("components"), int(payload.get("flags") or 0)
    )
    if require_something and not (
        content
        or embeds
        or has_files
        or payload.get("components")
        or payload.get("sticker_ids")
        or payload.get("poll")
    ):
        raise DiscordError(400, 50006, "Cannot send an empty message")


_DISALLOWED = re.compile(r"[^\w\-]", re.UNICODE)
_DASHES = re.compile(r"-{2,}")


def normalise_channel_name(name: str, channel_type: int) -> str:
    """Discord's slug for text channels (lowercase, spaces to dashes, punctuation dropped)."""
    name = str(name).strip()
    if channel_type in TEXT_CHANNEL_TYPES:
        name = name.lower()
        name = re.sub(r"\s+", "-", name)
        name = _DISALLOWED.sub("", name)
        name = _DASHES.sub("-", name).strip("-")
    return name


def check_channel_name(name: Any, channel_type: int) -> str:
    if name is None:
        raise invalid_form_body(
            {"name": field_error("BASE_TYPE_REQUIRED", "This field is required")}
        )
    normalised = normalise_channel_name(name, channel_type)
    if not 1 <= len(normalised) <= MAX_CHANNEL_NAME:
        raise invalid_form_body(
            {
                "name": field_error(
                    "BASE_TYPE_BAD_LENGTH", f"Must be between 1 and {MAX_CHANNEL_NAME} in length."
                )
            }
        )
    return normalised


def guild_channel_limit() -> DiscordError:
    return DiscordError(
        400, 30013, f"Maximum number of guild channels reached ({MAX_CHANNELS_PER_GUILD})"
    )


def category_limit() -> DiscordError:
    return invalid_form_body(
        {
            "parent_id": field_error(
                "CHANNEL_PARENT_MAX_CHANNELS",
                f"Maximum number of channels in category reached ({MAX_CHANNELS_PER_CATEGORY})",
            )
        }
    )


def pins_limit() -> DiscordError:
    return DiscordError(400, 30003, f"Maximum number of pins reached ({MAX_PINS})")


def reactions_limit() -> DiscordError:
    return DiscordError(400, 30010, f"Maximum number of reactions reached ({MAX_REACTIONS})")
