"""Run the drills: every ``chaos/drill_*.py`` module, or those named on the command line.

Each module has ``async def run(root: Path) -> Findings`` (chaos/stack.py): what it
tried, what it found, the invariants it saw broken. A table is printed and each
drill's result is written to ``chaos/results/<name>.json``; the exit code is 1 when
a drill failed (a drill that could not run, e.g. without root for its mount, says so
and is counted as not run, never as passed).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import logging
import pkgutil
import sys
import tempfile
import time
import traceback
from pathlib import Path

import chaos
from chaos.stack import Findings

RESULTS = Path(__file__).parent / "results"


def _drills(names: list[str]) -> list[str]:
    found = [
        m.name.removeprefix("drill_")
        for m in sorted(pkgutil.iter_modules(chaos.__path__), key=lambda m: m.name)
        if m.name.startswith("drill_")
    ]
    unknown = [n for n in names if n not in found]
    if unknown:
        raise SystemExit(f"unknown drill(s) {unknown}; known: {found}")
    return names or found


async def _one(name: str, keep: bool) -> tuple[Findings, float]:
    module = importlib.import_module(f"chaos.drill_{name}")
    started = time.monotonic()
    root = Path(tempfile.mkdtemp(prefix=f"chaos-{name}-"))
    try:
        findings = await module.run(root)
    except Exception as error:  # a drill that breaks is a failed drill, named
        findings = Findings(name)
        findings.check(False, "the drill ran to its end", f"{type(error).__name__}: {error}")
        traceback.print_exc()
    if findings.broken or keep:
        print(f"  [{name}] files kept in {root}", flush=True)
    else:
        import shutil

        shutil.rmtree(root, ignore_errors=True)
    return findings, time.monotonic() - started


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m chaos", description=__doc__)
    parser.add_argument("names", nargs="*", help="drills to run (default: all)")
    parser.add_argument("--keep", action="store_true", help="keep each drill's files")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    RESULTS.mkdir(exist_ok=True)
    rows = []
    started = time.monotonic()
    for name in _drills(args.names):
        print(f"== {name}", flush=True)
        findings, seconds = asyncio.run(_one(name, args.keep))
        result = findings.result() | {
            "seconds": round(seconds, 1),
            "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        (RESULTS / f"{name}.json").write_text(json.dumps(result, indent=2, default=str))
        rows.append((name, findings.status, seconds, findings))
    print("\n| drill | result | s | what broke, or what it found |\n|---|---|---|---|")
    for name, status, seconds, findings in rows:
        said = "; ".join(findings.broken) or findings.not_run or (findings.found or [""])[-1]
        print(f"| {name} | {status} | {seconds:.0f} | {said} |")
    print(f"\n{len(rows)} drill(s) in {time.monotonic() - started:.0f} s -> chaos/results/")
    return 1 if any(status == "FAILED" for _, status, _, _ in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
