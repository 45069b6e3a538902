"""Run every benchmark in one process: `python -m benchmarks [name ...]`.

Each benchmark module has a ``main(argv)`` that prints its own table; this runner only
selects and sequences them so `make bench` reports all figures from one run.
"""

from __future__ import annotations

import importlib
import sys
import time

BENCHMARKS = (
    "serving",
    "monitoring",
    "pipeline",
    "load",
    "shutdown",
    "local_state",
    "problem_types",
    "batch",
    "explanations",
    "suite",  # last: it runs the whole of `make test` but the install (~7 min)
)


def main(argv: list[str]) -> int:
    names = [name for name in argv if not name.startswith("-")] or list(BENCHMARKS)
    unknown = sorted(set(names) - set(BENCHMARKS))
    if unknown:
        print(
            f"unknown benchmark(s) {unknown}; choose from {', '.join(BENCHMARKS)}", file=sys.stderr
        )
        return 2
    for name in names:
        print(f"\n=== benchmarks.{name} ===", flush=True)
        started = time.perf_counter()
        module = importlib.import_module(f"benchmarks.{name}")
        module.main([])
        print(f"(benchmarks.{name} took {time.perf_counter() - started:.1f} s)", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
