"""Discord's limits on message components and modals, refused with 50035 and its tree.

Messages (classic components): at most 5 action rows; a row holds 1–5 buttons or one
select; a button's label at most 80, a custom id 1–100 and unique in the message; a
link button has a url and no custom id, any other button a custom id and no url; a
select 1–25 options (label, value, description ≤ 100), placeholder ≤ 150,
min/max values 0–25. Modals: title 1–45, custom id 1–100, 1–5 rows (or labels) of one
text input each: label ≤ 45, custom id 1–100, placeholder ≤ 100, value ≤ 4000,
min/max length 0–4000.
"""

from __future__ import annotations

from typing import Any

from . import errors
from .command_checks import Refused, between

ACTION_ROW, BUTTON, TEXT_INPUT, LABEL = 1, 2, 4, 18
SELECTS = {3, 5, 6, 7, 8}
LINK = 5
MAX_ROWS = 5
MAX_BUTTONS = 5


def _at_most(path: list[str], text: Any, limit: int) -> None:
    if text is not None and len(str(text)) > limit:
        raise Refused(path, errors.max_length(limit))


def _in_range(path: list[str], component: dict[str, Any], keys: tuple[str, str], high: int) -> None:
    for key in keys:
        value = component.get(key)
        if value is not None and not 0 <= int(value) <= high:
            raise Refused(
                [*path, key],
                errors.field_error("NUMBER_TYPE_MAX", f"int value should be between 0 and {high}"),
            )


def _custom_id(path: list[str], component: dict[str, Any], seen: set[str]) -> None:
    custom_id = component.get("custom_id")
    between([*path, "custom_id"], custom_id, 1, 100)
    if custom_id in seen:
        raise Refused(
            [*path, "custom_id"],
            errors.field_error(
                "COMPONENT_CUSTOM_ID_DUPLICATED", "Component custom id cannot be duplicated"
            ),
        )
    seen.add(str(custom_id))


def _button(path: list[str], button: dict[str, Any], seen: set[str]) -> None:
    _at_most([*path, "label"], button.get("label"), 80)
    if int(button.get("style") or 0) == LINK:
        if not button.get("url") or button.get("custom_id"):
            raise Refused(
                [*path, "url"],
                errors.field_error(
                    "BUTTON_COMPONENT_URL_REQUIRED", "A link button needs a url and no custom id"
                ),
            )
        return
    if button.get("url"):
        raise Refused(
            [*path, "url"],
            errors.field_error("BUTTON_COMPONENT_INVALID_URL", "Only a link button may have a url"),
        )
    _custom_id(path, button, seen)


def _select(path: list[str], select: dict[str, Any], seen: set[str]) -> None:
    _custom_id(path, select, seen)
    _at_most([*path, "placeholder"], select.get("placeholder"), 150)
    _in_range(path, select, ("min_values", "max_values"), 25)
    if int(select.get("type") or 0) == 3:
        options = select.get("options") or []
        if not 1 <= len(options) <= 25:
            raise Refused(
                [*path, "options"],
                errors.field_error("BASE_TYPE_BAD_LENGTH", "Must be between 1 and 25 in length."),
            )
        for index, option in enumerate(options):
            for key in ("label", "value"):
                between([*path, "options", str(index), key], option.get(key), 1, 100)
            _at_most([*path, "options", str(index), "description"], option.get("description"), 100)


def _rows(path: list[str], components: Any) -> None:
    if not isinstance(components, list):
        raise Refused(path, errors.field_error("LIST_TYPE_CONVERT", "Must be a list"))
    if len(components) > MAX_ROWS:
        raise Refused(path, errors.max_length(MAX_ROWS))
    seen: set[str] = set()
    for index, row in enumerate(components):
        here = [*path, str(index)]
        if int(row.get("type") or 0) != ACTION_ROW:
            raise Refused(
                [*here, "type"],
                errors.field_error(
                    "UNION_TYPE_CHOICES", "Top-level components must be action rows"
                ),
            )
        children = row.get("components") or []
        kinds = [int(c.get("type") or 0) for c in children]
        if not children:
            between([*here, "components"], "", 1, MAX_BUTTONS)
        if any(k in SELECTS for k in kinds) and len(children) > 1:
            raise Refused(
                [*here, "components"],
                errors.field_error(
                    "COMPONENT_LAYOUT_WIDTH_EXCEEDED",
                    "A select takes a whole action row",
                ),
            )
        if len(children) > MAX_BUTTONS:
            raise Refused([*here, "components"], errors.max_length(MAX_BUTTONS))
        for number, (child, kind) in enumerate(zip(children, kinds, strict=True)):
            where = [*here, "components", str(number)]
            if kind == BUTTON:
                _button(where, child, seen)
            elif kind in SELECTS:
                _select(where, child, seen)
            else:
                raise Refused(
                    [*where, "type"],
                    errors.field_error(
                        "UNION_TYPE_CHOICES", "Not a component a message row may hold"
                    ),
                )


def check_message_components(components: Any, flags: int = 0) -> None:
    """Classic components of a message (Components V2, flag 1 << 15, are not checked)."""
    if not components or flags & (1 << 15):
        return
    try:
        _rows(["components"], components)
    except Refused as refused:
        raise errors.invalid_form_body(errors.nest(refused.path, refused.leaf)) from None


def _text_input(path: list[str], field: dict[str, Any], seen: set[str]) -> None:
    if int(field.get("type") or 0) != TEXT_INPUT:
        raise Refused(
            [*path, "type"],
            errors.field_error("UNION_TYPE_CHOICES", "A modal holds text inputs"),
        )
    _custom_id(path, field, seen)
    _at_most([*path, "label"], field.get("label"), 45)
    _at_most([*path, "placeholder"], field.get("placeholder"), 100)
    _at_most([*path, "value"], field.get("value"), 4000)
    _in_range(path, field, ("min_length", "max_length"), 4000)


def check_modal(data: dict[str, Any]) -> None:
    """A modal callback's ``data`` (errors under ``data``, as Discord nests them)."""
    try:
        between(["data", "title"], data.get("title"), 1, 45)
        between(["data", "custom_id"], data.get("custom_id"), 1, 100)
        rows = data.get("components") or []
        if not 1 <= len(rows) <= MAX_ROWS:
            raise Refused(
                ["data", "components"],
                errors.field_error("BASE_TYPE_BAD_LENGTH", "Must be between 1 and 5 in length."),
            )
        seen: set[str] = set()
        for index, row in enumerate(rows):
            here = ["data", "components", str(index)]
            kind = int(row.get("type") or 0)
            if kind == LABEL:
                _at_most([*here, "label"], row.get("label"), 45)
                _text_input([*here, "component"], row.get("component") or {}, seen)
                continue
            children = row.get("components") or []
            if kind != ACTION_ROW or len(children) != 1:
                raise Refused(
                    [*here, "components"],
                    errors.field_error(
                        "BASE_TYPE_BAD_LENGTH", "A modal row holds exactly one text input"
                    ),
                )
            _text_input([*here, "components", "0"], children[0], seen)
    except Refused as refused:
        raise errors.invalid_form_body(errors.nest(refused.path, refused.leaf)) from None


def stored(components: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Components as Discord stores and answers them: every component numbered (``id``,
    1, 2, … in order, skipping ids given), and no ``emoji.id`` on a unicode emoji."""
    taken: set[int] = set()

    def given(items: list[dict[str, Any]]) -> None:
        for item in items:
            if isinstance(item.get("id"), int):
                taken.add(item["id"])
            given(item.get("components") or [])

    given(components)
    counter = iter(n for n in range(1, 1 << 31) if n not in taken)

    def shape(item: dict[str, Any]) -> dict[str, Any]:
        body = dict(item)
        if not isinstance(body.get("id"), int):
            body["id"] = next(counter)
        emoji = body.get("emoji")
        if isinstance(emoji, dict):
            body["emoji"] = {k: v for k, v in emoji.items() if v is not None}
        if "components" in body:
            body["components"] = [shape(c) for c in body["components"] or []]
        return body

    return [shape(c) for c in components]
