"""A small JSON Schema checker for the subset of Discord's OpenAPI description in
``fixtures/discord_openapi_subset.json`` (no network in tests, no extra dependency).

It knows what that description uses: ``type`` (one or a list, ``null`` included),
``properties``, ``required``, ``additionalProperties``, ``items``, ``allOf``, ``anyOf``,
``oneOf`` (read as "at least one": Discord's unions overlap), ``enum``, ``const``,
``pattern`` and ``$ref``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

FIXTURE = Path(__file__).parent / "fixtures" / "discord_openapi_subset.json"
SCHEMAS: dict[str, Any] = json.loads(FIXTURE.read_text())["schemas"]
TYPES = {
    "null": lambda v: v is None,
    "boolean": lambda v: isinstance(v, bool),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "string": lambda v: isinstance(v, str),
    "array": lambda v: isinstance(v, list),
    "object": lambda v: isinstance(v, dict),
}


def problems(value: Any, schema: dict[str, Any], path: str = "$") -> list[str]:
    """Where ``value`` breaks ``schema``: one line per break (empty: it conforms)."""
    if "$ref" in schema:
        return problems(value, SCHEMAS[schema["$ref"].rsplit("/", 1)[1]], path)
    found: list[str] = []
    kinds = schema.get("type")
    if kinds is not None:
        kinds = [kinds] if isinstance(kinds, str) else kinds
        if not any(TYPES[k](value) for k in kinds):
            return [f"{path}: {json.dumps(value)[:60]} is not {'/'.join(kinds)}"]
    if "enum" in schema and value not in schema["enum"]:
        found.append(f"{path}: {value!r} not in {schema['enum']}")
    if "const" in schema and value != schema["const"]:
        found.append(f"{path}: {value!r} is not {schema['const']!r}")
    if "pattern" in schema and isinstance(value, str) and not re.search(schema["pattern"], value):
        found.append(f"{path}: {value!r} does not match {schema['pattern']}")
    for part in schema.get("allOf", []):
        found += problems(value, part, path)
    for key in ("anyOf", "oneOf"):
        if key in schema:
            branches = [problems(value, part, path) for part in schema[key]]
            if all(branches):
                best = min(branches, key=len)
                found.append(f"{path}: matches none of {key} (closest: {'; '.join(best)})")
    if isinstance(value, dict):
        properties = schema.get("properties", {})
        for name in schema.get("required", []):
            if name not in value:
                found.append(f"{path}: {name} is required")
        extra = schema.get("additionalProperties", True)
        for name, item in value.items():
            if name in properties:
                found += problems(item, properties[name], f"{path}.{name}")
            elif isinstance(extra, dict):
                found += problems(item, extra, f"{path}.{name}")
            elif extra is False:
                found.append(f"{path}: {name} is not in the description")
    if isinstance(value, list) and "items" in schema:
        for index, item in enumerate(value):
            found += problems(item, schema["items"], f"{path}[{index}]")
    return found


def check(value: Any, name: str) -> list[str]:
    return problems(value, {"$ref": f"#/components/schemas/{name}"})
