"""`make test` itself: how long each part takes, against the 10-minute budget and its own floor.

`python -m benchmarks.suite [--workers N]`

Runs the parts of `make test` one after another as the Makefile does (ruff check, ruff format
--check, lint-imports, actionlint, mypy, then pytest on ``--workers`` workers with
``--dist loadscope``), from the installed ``.venv``, without `make install` (a benchmark of the
tests, not of the network). Reports each part's wall time, the total against the 600 s budget,
and for pytest its **floor**: the sum of every test's own time (setup, call, teardown, from
pytest's JUnit report) spread perfectly over the workers. ``wall / floor`` is what worker
start-up, imports, collection and uneven scheduling cost on top of the tests' own work; the
slowest files and tests say where that work is.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ElementTree
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BUDGET_SECONDS = 600.0
SHOWN = 10


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.suite")
    parser.add_argument("--workers", type=int, default=2, help="pytest-xdist workers (make: 2)")
    args = parser.parse_args(argv)
    tools = Path(sys.executable).parent
    with tempfile.TemporaryDirectory(prefix="bench-suite-") as scratch:
        report = Path(scratch) / "junit.xml"
        parts: list[tuple[str, list[str | Path]]] = [
            ("ruff check", [tools / "ruff", "check", "."]),
            ("ruff format --check", [tools / "ruff", "format", "--check", "."]),
            ("lint-imports", [tools / "lint-imports"]),
            ("actionlint", [tools / "actionlint", "-no-color"]),
            ("mypy", [tools / "mypy"]),
            (
                f"pytest -n {args.workers}",
                [
                    sys.executable,
                    "-m",
                    "pytest",
                    "-q",
                    "-n",
                    str(args.workers),
                    "--dist",
                    "loadscope",
                    f"--junitxml={report}",
                    "-o",
                    "junit_duration_report=total",
                ],
            ),
        ]
        walls: list[tuple[str, float]] = []
        for name, command in parts:
            started = time.perf_counter()
            done = subprocess.run(
                [str(part) for part in command],
                cwd=REPO,
                capture_output=True,
                text=True,
                check=False,
            )
            walls.append((name, time.perf_counter() - started))
            if done.returncode != 0:
                tail = (done.stdout + done.stderr).strip().splitlines()[-5:]
                print(f"{name} failed (exit {done.returncode}):", *tail, sep="\n  ")
                return 1
        tests = _test_times(report)
    _print(walls, tests, args.workers)
    return 0


def _test_times(report: Path) -> dict[tuple[str, str], float]:
    """(file, test) → seconds (setup + call + teardown) from pytest's JUnit XML."""
    times: dict[tuple[str, str], float] = {}
    for case in ElementTree.parse(report).getroot().iter("testcase"):
        module = case.get("classname", "").split(".")
        # classname is the dotted module (plus a class); the file is the module's path.
        path = "/".join(part for part in module if not part[:1].isupper()) + ".py"
        times[(path, case.get("name", ""))] = float(case.get("time", "0"))
    return times


def _print(
    walls: list[tuple[str, float]], tests: dict[tuple[str, str], float], workers: int
) -> None:
    total = sum(seconds for _, seconds in walls)
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    print(f"cpus: {os.cpu_count()}  load average after the run: {load}")
    print(f"{'part of make test':<28}{'wall s':>9}")
    for name, seconds in walls:
        print(f"{name:<28}{seconds:>9.1f}")
    print(f"{'total':<28}{total:>9.1f}   = {total / BUDGET_SECONDS:.2f}x the 600 s budget")
    own = sum(tests.values())
    floor = own / workers
    pytest_wall = walls[-1][1]
    print(
        f"\npytest: {len(tests):,} tests, their own time {own:.1f} s; floor (spread over "
        f"{workers} workers) {floor:.1f} s; wall {pytest_wall:.1f} s = {pytest_wall / floor:.2f}x "
        "the floor"
    )
    by_file: dict[str, float] = defaultdict(float)
    for (path, _), seconds in tests.items():
        by_file[path] += seconds
    print("\nslowest files (own time, s):")
    for path, seconds in sorted(by_file.items(), key=lambda item: -item[1])[:SHOWN]:
        print(f"  {seconds:7.1f}  {path}")
    print("slowest tests (own time, s):")
    for (path, name), seconds in sorted(tests.items(), key=lambda item: -item[1])[:SHOWN]:
        print(f"  {seconds:7.1f}  {path}::{name}")


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
