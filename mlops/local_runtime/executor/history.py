"""Run history: one folder per local execution, a ``latest`` link, listing and comparing.

``mlops pipeline run --local`` writes each execution into ``<root>/<run id>/`` (``<root>`` is
``build/pipeline``; the run id is the UTC start time and the execution id, so folders sort by
time) and points ``<root>/latest`` at it. A run's folder holds only that run's files: a failed
run never sits beside an older run's ``model.tar.gz``. An explicit ``--out`` that holds an
earlier run is emptied first; one that holds anything else is refused.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

DEFAULT_ROOT = Path("build/pipeline")
LATEST = "latest"
SUMMARY_FILE = "summary.json"
_RUN_MARKERS = ("summary.json", "definition.json")


class RunFolderError(ValueError):
    """A folder cannot hold a new run, or no run matches a reference."""


def new_run_dir(root: Path, execution_id: str, now: datetime | None = None) -> Path:
    """``<root>/<YYYYmmdd-HHMMSS>-<execution id>``, created empty."""
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%d-%H%M%S")
    folder = root / f"{stamp}-{execution_id}"
    folder.mkdir(parents=True, exist_ok=False)
    return folder


def prepare_out_dir(out: Path) -> Path:
    """An explicit ``--out``: created, or emptied when it holds an earlier run's files.

    Anything else in a non-empty folder is refused rather than deleted: ``--out`` may point at
    a folder that holds the user's own files.
    """
    if out.is_symlink() or (out.exists() and not out.is_dir()):
        raise RunFolderError(f"--out {out} is not a directory")
    if out.exists() and any(out.iterdir()):
        if not any((out / marker).exists() for marker in _RUN_MARKERS):
            raise RunFolderError(
                f"--out {out} is not empty and holds no earlier pipeline run; give an empty or "
                "new folder (or leave --out out: each run gets its own folder)"
            )
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)
    return out


def point_latest(root: Path, run_dir: Path) -> None:
    """Make ``<root>/latest`` a relative symlink to ``run_dir`` (replaced atomically)."""
    link = root / LATEST
    scratch = root / f".{LATEST}.{os.getpid()}"
    scratch.unlink(missing_ok=True)
    scratch.symlink_to(os.path.relpath(run_dir, root))
    os.replace(scratch, link)


@dataclass(frozen=True)
class PastRun:
    """One run folder and its summary document."""

    folder: Path
    summary: dict[str, Any]

    @property
    def name(self) -> str:
        return self.folder.name

    @property
    def execution_id(self) -> str:
        return str(self.summary.get("execution_id", ""))


def list_runs(root: Path) -> list[PastRun]:
    """Every run folder under ``root`` with a readable summary, oldest first."""
    runs: list[PastRun] = []
    if not root.is_dir():
        return runs
    for folder in sorted(root.iterdir()):
        if folder.name == LATEST or folder.is_symlink() or not folder.is_dir():
            continue
        summary = _read_summary(folder)
        if summary is not None:
            runs.append(PastRun(folder, summary))
    runs.sort(key=lambda run: (str(run.summary.get("started", "")), run.name))
    return runs


def find_run(root: Path, reference: str) -> PastRun:
    """A run by folder name, execution id (or a unique prefix of either), ``latest``, or a
    path to a run folder."""
    path = Path(reference)
    if path.is_dir() and (path / SUMMARY_FILE).is_file():
        summary = _read_summary(path)
        if summary is not None:
            return PastRun(path, summary)
    runs = list_runs(root)
    if reference == LATEST:
        if not runs:
            raise RunFolderError(f"no runs under {root}")
        return runs[-1]
    matches = [
        run
        for run in runs
        if run.name.startswith(reference) or run.execution_id.startswith(reference)
    ]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise RunFolderError(
            f"no run {reference!r} under {root} (`mlops pipeline runs` lists them)"
        )
    raise RunFolderError(
        f"{reference!r} matches {len(matches)} runs under {root}: "
        f"{', '.join(run.name for run in matches[:5])}; give more of the name"
    )


@dataclass(frozen=True)
class Difference:
    """One line of a comparison: a name and the value in each run (None = absent)."""

    section: str
    name: str
    first: Any
    second: Any

    @property
    def differs(self) -> bool:
        return self.first != self.second

    @property
    def delta(self) -> float | None:
        if isinstance(self.first, int | float) and isinstance(self.second, int | float):
            return float(self.second) - float(self.first)
        return None


def compare(first: PastRun, second: PastRun) -> list[Difference]:
    """Status, dataset, parameters, gate, metrics and step times of two runs side by side."""
    a, b = first.summary, second.summary
    lines = [
        Difference("run", "status", a.get("status"), b.get("status")),
        Difference("run", "failed step", a.get("failed_step"), b.get("failed_step")),
        Difference("run", "input", a.get("input"), b.get("input")),
        Difference("run", "model package", a.get("model_package_arn"), b.get("model_package_arn")),
    ]
    for key in ("target", "problem_type", "positive_label"):
        lines.append(Difference("dataset", key, _get(a, "dataset", key), _get(b, "dataset", key)))
    for key in _keys(a.get("parameters"), b.get("parameters")):
        lines.append(
            Difference("parameter", key, _get(a, "parameters", key), _get(b, "parameters", key))
        )
    for key in ("metric", "threshold", "value", "passed"):
        lines.append(Difference("gate", key, _get(a, "gate", key), _get(b, "gate", key)))
    for key in _keys(a.get("metrics"), b.get("metrics")):
        lines.append(Difference("metric", key, _get(a, "metrics", key), _get(b, "metrics", key)))
    seconds_a = {step["name"]: step["seconds"] for step in a.get("steps", [])}
    seconds_b = {step["name"]: step["seconds"] for step in b.get("steps", [])}
    for key in _keys(seconds_a, seconds_b):
        lines.append(Difference("seconds", key, seconds_a.get(key), seconds_b.get(key)))
    return lines


def _keys(first: Any, second: Any) -> list[str]:
    keys = list(first or {})
    keys += [key for key in (second or {}) if key not in keys]
    return keys


def _get(document: dict[str, Any], section: str, key: str) -> Any:
    value = document.get(section)
    return value.get(key) if isinstance(value, dict) else None


def _read_summary(folder: Path) -> dict[str, Any] | None:
    try:
        document = json.loads((folder / SUMMARY_FILE).read_text())
    except (OSError, ValueError):
        return None
    return document if isinstance(document, dict) else None
