"""The Communicate cog stays thin: it parses, calls the comms service, renders. It never
touches storage (models, queries, sessions) and takes no SQL or HTTP library."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FORBIDDEN = ("storage", "sqlalchemy", "aiohttp", "tweepy", "gidgethub")


def imported_modules(path: Path) -> set[str]:
    """Every module the file imports, including under ``if TYPE_CHECKING:``."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_the_communicate_cog_never_touches_storage():
    modules = imported_modules(ROOT / "cogs" / "communicate.py")
    touching = sorted(m for m in modules if m.split(".")[0] in FORBIDDEN)
    assert touching == []


def test_the_comms_phase_writes_no_query_of_its_own():
    """Queries live in storage/communicate.py; the phase only passes sessions around."""
    for path in sorted((ROOT / "bot" / "communicate").glob("*.py")):
        sql = sorted(m for m in imported_modules(path) if m.split(".")[0] == "sqlalchemy")
        assert sql in ([], ["sqlalchemy.ext.asyncio"]), f"{path.name} imports {sql}"


def test_no_comms_module_is_over_400_lines():
    for path in sorted((ROOT / "bot" / "communicate").glob("*.py")):
        assert len(path.read_text().splitlines()) <= 400, path.name
