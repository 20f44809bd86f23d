"""Run the benchmarks: every ``bench/bench_*.py`` module, or those named on the command line.

Each module has ``async def run(quick: bool) -> dict`` returning its measurements
and a ``targets`` list of ``{"name", "value", "limit", "ok"}``. Results are
printed and written to ``bench/results/<name>.json``; the exit code is 1 when a
target is missed, so a regression is visible, but nothing here is a test.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import logging
import pkgutil
import platform
import sys
import time
from pathlib import Path

import bench

RESULTS = Path(__file__).parent / "results"


def _modules(names: list[str]) -> list[str]:
    found = sorted(
        m.name.removeprefix("bench_")
        for m in pkgutil.iter_modules(bench.__path__)
        if m.name.startswith("bench_")
    )
    if not names:
        return found
    unknown = [n for n in names if n not in found]
    if unknown:
        raise SystemExit(f"unknown benchmark(s) {unknown}; known: {found}")
    return names


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("names", nargs="*", help="benchmarks to run (default: all)")
    parser.add_argument("--quick", action="store_true", help="fewer iterations, for a smoke run")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    RESULTS.mkdir(exist_ok=True)
    rows: list[tuple[str, dict]] = []
    began = time.monotonic()
    for name in _modules(args.names):
        module = importlib.import_module(f"bench.bench_{name}")
        started = time.time()
        result = asyncio.run(module.run(args.quick))
        result.update(
            benchmark=name,
            started_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
            seconds=round(time.time() - started, 1),
            machine={
                "python": platform.python_version(),
                "cpus": _cpus(),
                "platform": platform.platform(),
            },
        )
        (RESULTS / f"{name}.json").write_text(json.dumps(result, indent=2, default=str))
        print(f"\n== {name} ({result['seconds']} s) -> bench/results/{name}.json")
        for target in result.get("targets", []):
            mark = "ok  " if target["ok"] else "MISS"
            rows.append((name, target))
            print(f"  [{mark}] {target['name']}: {target['value']} (target {target['limit']})")
        for key, value in result.get("report", {}).items():
            print(f"  {key}: {value}")
    return 1 if _table(rows, time.monotonic() - began) else 0


def _table(rows: list[tuple[str, dict]], seconds: float) -> int:
    """Every target of the run in one Markdown table, as the README shows it; how many
    were missed."""
    print("\n| bench | figure | value | target | |\n|---|---|---|---|---|")
    for name, target in rows:
        mark = "ok" if target["ok"] else "**MISS**"
        print(f"| {name} | {target['name']} | {target['value']} | {target['limit']} | {mark} |")
    missed = sum(not target["ok"] for _, target in rows)
    print(f"\n{len(rows)} targets, {missed} missed, in {seconds:.0f} s")
    return missed


def _cpus() -> int:
    import os

    return (
        len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    )


if __name__ == "__main__":
    sys.exit(main())
