"""Model quality for multiclass and regression models, and ground truth from a table of labels."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from monitoring.analysis import analyze
from monitoring.capture import read_capture, read_ground_truth
from monitoring.errors import MonitoringInputError
from monitoring.ground_truth import ground_truth_from_table, write_ground_truth
from monitoring.jsonio import write_json
from monitoring.model_quality import evaluate_model_quality, load_constraints
from tests.monitoring.helpers import capture_record, ground_truth_record, write_jsonl

CLASSES = ("high", "low", "medium")


def _multiclass_output(label: str, *, json_output: bool) -> tuple[str, str]:
    probabilities = {name: (0.8 if name == label else 0.1) for name in CLASSES}
    if json_output:
        document = {"predictions": [{"label": label, "probabilities": probabilities}]}
        return json.dumps(document), "application/json"
    return ",".join([label, *(str(p) for p in probabilities.values())]), "text/csv"


def _write_multiclass(root: Path, pairs: list[tuple[str, str]]) -> None:
    captures, labels = [], []
    for i, (predicted, actual) in enumerate(pairs):
        output, content_type = _multiclass_output(predicted, json_output=i % 2 == 0)
        captures.append(
            capture_record(f"e{i}", "1,2", output_data=output, output_type=content_type)
        )
        labels.append(ground_truth_record(f"e{i}", actual))
    write_jsonl(root / "c.jsonl", captures)
    write_jsonl(root / "g.jsonl", labels)


def test_multiclass_quality_uses_the_managed_section_and_names(tmp_path: Path) -> None:
    pairs = [("low", "low")] * 6 + [("high", "high")] * 3 + [("medium", "low")]
    _write_multiclass(tmp_path, pairs)
    result = evaluate_model_quality(
        read_capture(tmp_path / "c.jsonl"),
        read_ground_truth(tmp_path / "g.jsonl"),
        tmp_path / "out",
        problem_type="multiclass",
    )
    assert result.metrics["accuracy"] == pytest.approx(0.9)
    assert result.confusion_matrix["low"] == {"high": 0, "low": 6, "medium": 1}
    written = json.loads((tmp_path / "out" / "statistics.json").read_text())
    section = written["multiclass_classification_metrics"]
    assert {"accuracy", "weighted_f1", "weighted_precision", "weighted_recall"} <= set(section)


def test_a_multiclass_model_that_got_worse_violates_its_evaluation(tmp_path: Path) -> None:
    evaluation = write_json(
        tmp_path / "evaluation.json",
        {
            "multiclass_classification_metrics": {
                "accuracy": {"value": 0.95, "standard_deviation": 0.01},
                "weighted_f1": {"value": 0.95, "standard_deviation": 0.01},
            }
        },
    )
    constraints = load_constraints(evaluation)["multiclass_classification_constraints"]
    assert constraints["accuracy"] == {
        "threshold": pytest.approx(0.91),
        "comparison_operator": "LessThanThreshold",
    }
    _write_multiclass(tmp_path, [("low", "high")] * 5 + [("low", "low")] * 5)
    result = evaluate_model_quality(
        read_capture(tmp_path / "c.jsonl"),
        read_ground_truth(tmp_path / "g.jsonl"),
        tmp_path / "out",
        constraints=load_constraints(evaluation),
        problem_type="multiclass",
    )
    assert {v.metric_name for v in result.violations} == {"accuracy", "weighted_f1"}


def _write_regression(root: Path, pairs: list[tuple[float, float]], *, json_output: bool) -> None:
    captures, labels = [], []
    for i, (predicted, actual) in enumerate(pairs):
        if json_output:
            output = json.dumps({"predictions": [{"value": predicted}]})
            record = capture_record(
                f"e{i}", "1,2", output_data=output, output_type="application/json"
            )
        else:
            record = capture_record(f"e{i}", "1,2", output_data=f"{predicted}")
        captures.append(record)
        labels.append(ground_truth_record(f"e{i}", str(actual)))
    write_jsonl(root / "c.jsonl", captures)
    write_jsonl(root / "g.jsonl", labels)


@pytest.mark.parametrize("json_output", [True, False])
def test_regression_quality_is_mae_mse_rmse_r2(tmp_path: Path, json_output: bool) -> None:
    _write_regression(tmp_path, [(1.0, 2.0), (3.0, 3.0), (5.0, 4.0)], json_output=json_output)
    result = evaluate_model_quality(
        read_capture(tmp_path / "c.jsonl"),
        read_ground_truth(tmp_path / "g.jsonl"),
        tmp_path / "out",
        problem_type="regression",
    )
    assert result.metrics["mae"] == pytest.approx(2 / 3)
    assert result.metrics["mse"] == pytest.approx(2 / 3)
    assert result.metrics["rmse"] == pytest.approx((2 / 3) ** 0.5)
    assert result.metrics["r2"] == pytest.approx(0.0)
    assert result.confusion_matrix == {}
    assert "regression_metrics" in json.loads((tmp_path / "out" / "statistics.json").read_text())


def test_a_regression_error_above_its_baseline_is_a_greater_than_violation(tmp_path: Path) -> None:
    evaluation = write_json(
        tmp_path / "evaluation.json",
        {"regression_metrics": {"rmse": {"value": 0.5, "standard_deviation": 0.05}}},
    )
    constraints = load_constraints(evaluation)
    assert constraints["regression_constraints"]["rmse"] == {
        "threshold": pytest.approx(0.7),
        "comparison_operator": "GreaterThanThreshold",
    }
    _write_regression(tmp_path, [(1.0, 3.0), (3.0, 1.0)], json_output=True)
    result = evaluate_model_quality(
        read_capture(tmp_path / "c.jsonl"),
        read_ground_truth(tmp_path / "g.jsonl"),
        tmp_path / "out",
        constraints=constraints,
        problem_type="regression",
    )
    assert [(v.metric_name, v.constraint_check_type) for v in result.violations] == [
        ("rmse", "GreaterThanThreshold")
    ]


def test_a_baseline_of_another_problem_type_is_refused(tmp_path: Path) -> None:
    evaluation = write_json(
        tmp_path / "evaluation.json",
        {"regression_metrics": {"rmse": {"value": 0.5, "standard_deviation": 0.05}}},
    )
    _write_multiclass(tmp_path, [("low", "low")])
    with pytest.raises(MonitoringInputError, match="baseline is for a regression model"):
        evaluate_model_quality(
            read_capture(tmp_path / "c.jsonl"),
            read_ground_truth(tmp_path / "g.jsonl"),
            tmp_path / "out",
            constraints=load_constraints(evaluation),
            problem_type="multiclass",
        )


def _captures_with_ids(root: Path) -> Path:
    records = []
    for i, row in enumerate(["1,2", "3,4", "5,6"]):
        record = capture_record(f"e{i}", row, output_data="0.9,Yes")
        record["eventMetadata"]["inferenceId"] = f"cust-{i}"
        records.append(record)
    write_jsonl(root / "capture" / "c.jsonl", records)
    return root / "capture"


def test_labels_by_id_become_ground_truth_for_those_inferences(tmp_path: Path) -> None:
    labels = tmp_path / "labels.csv"
    labels.write_text("customer_id,churn\ncust-0,Yes\ncust-2,No\ncust-9,Yes\n")
    table = ground_truth_from_table(
        read_capture(_captures_with_ids(tmp_path)),
        labels,
        label_column="churn",
        id_column="customer_id",
    )
    assert (table.joined_on, table.labels, table.unmatched) == ("customer_id", 3, 1)
    written = write_ground_truth(table.truths, tmp_path / "gt.jsonl")
    records = {r.event_id: r.data.data for r in read_ground_truth(written)}
    assert records == {"cust-0": "Yes", "cust-2": "No"}


def test_an_inference_id_column_wins_and_label_is_the_fallback_name(tmp_path: Path) -> None:
    labels = tmp_path / "labels.csv"
    labels.write_text("inferenceId,label\ncust-1,No\n")
    table = ground_truth_from_table(
        read_capture(_captures_with_ids(tmp_path)), labels, label_column="churn"
    )
    assert (table.joined_on, [t.labels for t in table.truths]) == ("inferenceId", [("No",)])


def test_labels_without_ids_are_matched_by_row_content(tmp_path: Path) -> None:
    labels = tmp_path / "labels.csv"
    labels.write_text("a,b,churn\n3,4,Yes\n5,6.0,No\n")
    table = ground_truth_from_table(
        read_capture(_captures_with_ids(tmp_path)), labels, label_column="churn"
    )
    assert table.joined_on == "row content"
    assert {t.event_id: t.labels for t in table.truths} == {"cust-1": ("Yes",), "cust-2": ("No",)}


def test_a_labels_table_without_a_label_column_is_an_input_error(tmp_path: Path) -> None:
    labels = tmp_path / "labels.csv"
    labels.write_text("customer_id,outcome\ncust-0,Yes\n")
    with pytest.raises(MonitoringInputError, match="no label column"):
        ground_truth_from_table([], labels, label_column="churn", id_column="customer_id")


def test_a_dataset_checked_with_its_id_and_target_reports_neither(
    baseline_dir: Path, tmp_path: Path
) -> None:
    from mlops.dataset.generator import write_csv

    raw = tmp_path / "raw.csv"
    write_csv(raw, rows=500, seed=12)  # with customer_id and churn, as a team's table has them
    result = analyze(
        baseline_dir, tmp_path / "out", data=raw, exclude_columns=("customer_id", "churn")
    )
    assert {v.feature_name for v in result.violations} & {"customer_id", "churn"} == set()
