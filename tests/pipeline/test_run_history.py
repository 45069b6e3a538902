"""Run history: one folder per local execution, `pipeline runs` lists and compares them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from mlops.cli.main import app
from mlops.core.errors import UserError
from mlops.local_runtime.executor.history import (
    LATEST,
    RunFolderError,
    compare,
    find_run,
    list_runs,
    new_run_dir,
    point_latest,
)


def _summary(execution_id: str, started: str, **changes: Any) -> dict[str, Any]:
    document: dict[str, Any] = {
        "status": "Succeeded",
        "execution_id": execution_id,
        "started": started,
        "failed_step": None,
        "input": "s3://b/input/x/",
        "dataset": {"target": "churn", "problem_type": "binary", "positive_label": "Yes"},
        "parameters": {"MaxDepth": 5, "Eta": 0.1},
        "overrides": {},
        "gate": {
            "metric": "auc",
            "comparison": ">=",
            "threshold": 0.75,
            "value": 0.9,
            "passed": True,
        },
        "steps": [{"name": "Train", "type": "Training", "status": "Succeeded", "seconds": 2.0}],
        "metrics": {"auc": 0.9, "f1": 0.6},
        "model_package_arn": f"arn:aws:sagemaker:us-east-1:1:model-package/g/{execution_id[-1]}",
    }
    document.update(changes)
    return document


@pytest.fixture
def root(tmp_path: Path) -> Path:
    runs: list[tuple[str, str, dict[str, Any]]] = [
        ("aaa111", "2026-11-29T10:00:00+00:00", {}),
        (
            "bbb222",
            "2026-11-29T11:00:00+00:00",
            {
                "parameters": {"MaxDepth": 8, "Eta": 0.1},
                "overrides": {"MaxDepth": "8"},
                "metrics": {"auc": 0.93, "f1": 0.65},
                "gate": {
                    "metric": "auc",
                    "comparison": ">=",
                    "threshold": 0.75,
                    "value": 0.93,
                    "passed": True,
                },
            },
        ),
        (
            "ccc333",
            "2026-11-29T12:00:00+00:00",
            {
                "status": "Failed",
                "failed_step": "MetricBelowThreshold",
                "gate": {
                    "metric": "auc",
                    "comparison": ">=",
                    "threshold": 0.99,
                    "value": 0.9,
                    "passed": False,
                },
                "model_package_arn": None,
            },
        ),
    ]
    for execution_id, started, changes in runs:
        folder = tmp_path / f"{started[:10].replace('-', '')}-{execution_id}"
        folder.mkdir()
        (folder / "summary.json").write_text(json.dumps(_summary(execution_id, started, **changes)))
    (tmp_path / "not-a-run").mkdir()
    return tmp_path


def test_each_run_gets_its_own_folder_named_by_time_and_execution(tmp_path: Path) -> None:
    first = new_run_dir(tmp_path, "aaa111")
    second = new_run_dir(tmp_path, "bbb222")
    assert first != second
    assert first.name.endswith("-aaa111")
    point_latest(tmp_path, second)
    assert (tmp_path / LATEST).resolve() == second.resolve()


def test_runs_are_listed_oldest_first_skipping_other_folders(root: Path) -> None:
    assert [run.execution_id for run in list_runs(root)] == ["aaa111", "bbb222", "ccc333"]


def test_a_run_is_found_by_execution_id_prefix_folder_or_latest(root: Path) -> None:
    assert find_run(root, "bbb").execution_id == "bbb222"
    assert find_run(root, LATEST).execution_id == "ccc333"
    with pytest.raises(RunFolderError, match="no run 'zzz'"):
        find_run(root, "zzz")


def test_comparing_two_runs_shows_what_differs_with_deltas(root: Path) -> None:
    lines = {(d.section, d.name): d for d in compare(find_run(root, "aaa"), find_run(root, "bbb"))}
    assert lines[("parameter", "MaxDepth")].differs
    assert not lines[("parameter", "Eta")].differs
    assert lines[("metric", "auc")].delta == pytest.approx(0.03)


def test_the_runs_command_lists_parameters_gate_and_status(root: Path) -> None:
    result = CliRunner().invoke(app, ["pipeline", "runs", "--root", str(root)])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    row = next(line for line in lines if "bbb222" in line)
    assert "MaxDepth=8" in row
    assert "auc 0.9300 >= 0.75 ✓" in row
    failed = next(line for line in lines if "ccc333" in line)
    assert "Failed at MetricBelowThreshold" in failed
    assert "✗" in failed


def test_the_runs_command_compares_two_runs(root: Path) -> None:
    result = CliRunner().invoke(
        app, ["pipeline", "runs", "--root", str(root), "--compare", "aaa", "bbb"]
    )
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    depth = next(line for line in lines if "MaxDepth" in line)
    assert [cell.strip() for cell in depth.split("│")[3:6]] == ["5", "8", "+3"]
    auc = next(
        line for line in lines if [c.strip() for c in line.split("│")[1:3]] == ["metric", "auc"]
    )
    assert [cell.strip() for cell in auc.split("│")[3:6]] == ["0.9", "0.93", "+0.03"]


def test_comparing_an_unknown_run_is_a_user_error(root: Path) -> None:
    result = CliRunner().invoke(
        app, ["pipeline", "runs", "--root", str(root), "--compare", "aaa", "nope"]
    )
    assert isinstance(result.exception, UserError)
