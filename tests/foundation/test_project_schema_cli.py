"""`mlops init` and `data describe`: a project of one's own data, set once, overridden per command."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mlops.cli.main import app
from mlops.core.errors import UserError
from mlops.core.settings import load_settings


def _table(path: Path, header: str, rows: list[str]) -> Path:
    path.write_text(header + "\n" + "\n".join(rows) + "\n")
    return path


@pytest.fixture
def grades(tmp_path: Path) -> Path:
    rows = [f"s{i},{i % 9},{'abc'[i % 3]},{('low', 'mid', 'high')[i % 3]}" for i in range(60)]
    return _table(tmp_path / "grades.csv", "student,hours,group,grade", rows)


def _invoke(*arguments: str) -> str:
    result = CliRunner().invoke(app, list(arguments))
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    assert result.exit_code == 0, result.output
    return result.output


def test_init_writes_the_project_and_its_inferred_schema(grades: Path, tmp_path: Path) -> None:
    config = tmp_path / "project.json"
    output = _invoke(
        *("--config", str(config), "init", "--project-name", "grades"),
        *("--data", str(grades), "--target", "grade", "--id-column", "student"),
    )
    assert "problem type multiclass (inferred: the target has 3 distinct text values" in output
    assert (
        "names: pipeline grades-pipeline, model group grades-models, endpoint grades-endpoint"
        in (output)
    )
    context = json.loads(config.read_text())["context"]["mlops"]
    assert context == {
        "project_name": "grades",
        "dataset": {"target": "grade", "problem_type": "multiclass", "id_column": "student"},
    }
    settings = load_settings(cdk_json=config)
    assert settings.names.drift_alarm == "grades-data-drift"
    assert settings.resolved_gate().metric == "weighted_f1"


def test_init_keeps_the_rest_of_an_existing_cdk_json(grades: Path, tmp_path: Path) -> None:
    config = tmp_path / "cdk.json"
    config.write_text(
        json.dumps({"app": "python app.py", "context": {"mlops": {"project_name": "churn-mlops"}}})
    )
    _invoke(
        *("--config", str(config), "init", "--project-name", "grades"),
        *("--data", str(grades), "--target", "grade", "--id-column", "student"),
    )
    document = json.loads(config.read_text())
    assert document["app"] == "python app.py"
    assert document["context"]["mlops"]["project_name"] == "grades"


def test_init_will_not_replace_another_project_without_force(grades: Path, tmp_path: Path) -> None:
    config = tmp_path / "project.json"
    config.write_text(json.dumps({"context": {"mlops": {"project_name": "fraud"}}}))
    arguments = ["--config", str(config), "init", "--project-name", "grades"]
    arguments += ["--data", str(grades), "--target", "grade"]
    with pytest.raises(UserError, match="already configures project 'fraud'; pass --force"):
        _invoke(*arguments)
    _invoke(*arguments, "--force")
    assert json.loads(config.read_text())["context"]["mlops"]["project_name"] == "grades"


def test_init_refuses_a_project_name_no_resource_can_carry(grades: Path, tmp_path: Path) -> None:
    arguments = ["--config", str(tmp_path / "p.json"), "init", "--project-name", "Grades_2026"]
    with pytest.raises(UserError, match="setting project_name = 'Grades_2026': must be"):
        _invoke(*arguments, "--data", str(grades), "--target", "grade")


def test_describe_reads_another_dataset_through_the_flags_alone(grades: Path) -> None:
    # The configured schema is the churn example's: a different --target starts from scratch.
    output = _invoke("data", "describe", str(grades), "--target", "grade", "--id-column", "student")
    assert "problem type:  multiclass" in output
    assert "classes (3):   'high' 33.3%, 'low' 33.3%, 'mid' 33.3%" in output
    assert "numeric:       hours" in output
    assert "categorical:   group" in output


def test_describe_names_a_numeric_target_a_regression(tmp_path: Path) -> None:
    data = _table(tmp_path / "d.csv", "x,y", [f"{i},{i * 1.5 + 0.25}" for i in range(50)])
    output = _invoke("data", "describe", str(data), "--target", "y")
    assert "problem type:  regression" in output
    assert "note: problem type regression (inferred: the target is numeric with 50" in output


def test_describe_refuses_a_problem_type_the_target_cannot_be(grades: Path) -> None:
    with pytest.raises(UserError, match="regression needs a numeric target"):
        _invoke(
            "data", "describe", str(grades), "--target", "grade", "--problem-type", "regression"
        )
