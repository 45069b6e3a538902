"""Captured predictions joined with ground truth (by inferenceId, else eventId), against a baseline."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest

from monitoring.analysis import analyze
from monitoring.capture import read_capture, read_ground_truth
from monitoring.errors import MonitoringInputError
from monitoring.jsonio import read_json, write_json
from monitoring.model_quality import evaluate_model_quality, join, load_constraints
from tests.monitoring.helpers import (
    capture_record,
    csv_line,
    ground_truth_record,
    hour_key,
    labelled_table,
    write_jsonl,
)


def _scored(rows: int, seed: int, *, skill: float) -> tuple[pa.Table, np.ndarray, np.ndarray]:
    """Features, truth (1 = churn) and a score whose separation grows with ``skill``."""
    table = labelled_table(rows, seed)
    truth = np.asarray([v == "Yes" for v in table.column("churn").to_pylist()], dtype=int)
    rng = np.random.default_rng(seed)
    logits = skill * (2 * truth - 1) + rng.normal(0, 1.0, rows) - 0.8
    return table.drop_columns(["churn"]), truth, 1 / (1 + np.exp(-logits))


def _write(
    root: Path, table: pa.Table, truth: np.ndarray, scores: np.ndarray, *, json_output: bool
) -> None:
    captures, labels = [], []
    for i, (row, label, score) in enumerate(zip(table.to_pylist(), truth, scores, strict=True)):
        event = f"event-{i:05d}"
        predicted = "Yes" if score >= 0.5 else "not Yes"
        if json_output:
            output = json.dumps(
                {"predictions": [{"probability": float(score), "label": predicted}]}
            )
            record = capture_record(
                event,
                csv_line(list(row.values())),
                output_data=output,
                output_type="application/json",
            )
        else:
            record = capture_record(
                event, csv_line(list(row.values())), output_data=f"{score},{predicted}"
            )
        captures.append(record)
        labels.append(ground_truth_record(event, "Yes" if label else "No"))
    random.Random(0).shuffle(labels)  # ground truth arrives in its own order
    write_jsonl(root / "capture" / hour_key("churn", 10), captures)
    write_jsonl(root / "ground-truth" / "2026" / "11" / "26" / "12" / "labels.jsonl", labels)


@pytest.fixture(scope="module")
def quality_baseline(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Constraints suggested from a good model's metrics on another sample (seed 9)."""
    root = tmp_path_factory.mktemp("mq-baseline")
    table, truth, scores = _scored(1500, 9, skill=1.6)
    _write(root, table, truth, scores, json_output=True)
    result = evaluate_model_quality(
        read_capture(root / "capture"), read_ground_truth(root / "ground-truth"), root / "stats"
    )
    assert result.metrics["auc"] > 0.85
    return result.statistics  # type: ignore[return-value]


def test_good_predictions_have_no_violations(
    baseline_dir: Path, quality_baseline: Path, tmp_path: Path
) -> None:
    table, truth, scores = _scored(1500, 8, skill=1.6)
    _write(tmp_path, table, truth, scores, json_output=True)
    result = analyze(
        baseline_dir,
        tmp_path / "out",
        capture=tmp_path / "capture",
        ground_truth=tmp_path / "ground-truth",
        model_quality_baseline=quality_baseline,
    )
    assert result.model_quality is not None
    assert result.model_quality.matched == 1500
    assert result.model_quality.violations == []
    written = read_json(tmp_path / "out" / "model_quality" / "statistics.json", what="statistics")
    metrics = written["binary_classification_metrics"]
    assert set(metrics) >= {"auc", "f1", "precision", "recall", "accuracy", "confusion_matrix"}
    assert metrics["auc"]["value"] == pytest.approx(result.model_quality.metrics["auc"])


def test_degraded_predictions_violate_the_baseline(
    baseline_dir: Path, quality_baseline: Path, tmp_path: Path
) -> None:
    table, truth, scores = _scored(1500, 8, skill=0.2)
    _write(tmp_path, table, truth, scores, json_output=False)  # CSV `probability,label` output
    result = analyze(
        baseline_dir,
        tmp_path / "out",
        capture=tmp_path / "capture",
        ground_truth=tmp_path / "ground-truth",
        model_quality_baseline=quality_baseline,
    )
    assert result.model_quality is not None
    violated = {v.metric_name for v in result.model_quality.violations}
    assert {"auc", "f1", "accuracy"} <= violated
    assert all(
        v.constraint_check_type == "LessThanThreshold" for v in result.model_quality.violations
    )
    written = read_json(
        tmp_path / "out" / "model_quality" / "constraint_violations.json", what="violations"
    )
    assert {v["metric_name"] for v in written["violations"]} == violated
    assert result.metric_values["auc"] < 0.7  # published to the model-metrics namespace


def test_join_pairs_by_event_id_not_by_position(tmp_path: Path) -> None:
    captures = [
        capture_record(
            f"e{i}",
            "1,2",
            output_data=json.dumps({"predictions": [{"probability": p, "label": lab}]}),
            output_type="application/json",
        )
        for i, (p, lab) in enumerate(
            [(0.9, "Yes"), (0.1, "not Yes"), (0.8, "Yes"), (0.2, "not Yes")]
        )
    ]
    captures.append(capture_record("no-label-yet", "1,2", output_data="0.7,Yes"))
    labels = [
        ground_truth_record(e, v)
        for e, v in [("e3", "No"), ("e2", "Yes"), ("e1", "No"), ("e0", "Yes"), ("gone", "Yes")]
    ]
    write_jsonl(tmp_path / "c.jsonl", captures)
    write_jsonl(tmp_path / "g.jsonl", labels)
    joined = join(
        read_capture(tmp_path / "c.jsonl"),
        read_ground_truth(tmp_path / "g.jsonl"),
        positive_label="Yes",
    )
    assert joined.y_true.tolist() == [1, 0, 1, 0]
    assert joined.y_pred.tolist() == [1, 0, 1, 0]
    assert joined.unmatched_captures == 1
    assert joined.unmatched_ground_truth == 1


def test_join_uses_the_inference_id_when_the_capture_has_one(tmp_path: Path) -> None:
    def scored(event: str, probability: float, inference_id: str | None = None) -> dict[str, Any]:
        output = json.dumps({"predictions": [{"probability": probability, "label": "Yes"}]})
        record = capture_record(event, "1,2", output_data=output, output_type="application/json")
        if inference_id is not None:
            record["eventMetadata"]["inferenceId"] = inference_id
        return record

    captures = [scored("e0", 0.9, "order-17"), scored("e1", 0.8, "order-18"), scored("e2", 0.7)]
    labels = [
        ground_truth_record("order-17", "Yes"),  # the caller's id: joins
        ground_truth_record("e1", "No"),  # the eventId of a capture that has an inferenceId: not
        ground_truth_record("e2", "No"),  # no inferenceId on this capture: joins by eventId
    ]
    write_jsonl(tmp_path / "c.jsonl", captures)
    write_jsonl(tmp_path / "g.jsonl", labels)

    joined = join(
        read_capture(tmp_path / "c.jsonl"),
        read_ground_truth(tmp_path / "g.jsonl"),
        positive_label="Yes",
    )

    assert joined.y_score.tolist() == [0.9, 0.7]
    assert joined.y_true.tolist() == [1, 0]
    assert (joined.unmatched_captures, joined.unmatched_ground_truth) == (1, 1)


def test_fixture_records_join_with_bare_probabilities(
    model_monitor_fixtures: Path, tmp_path: Path
) -> None:
    result = evaluate_model_quality(
        read_capture(model_monitor_fixtures / "capture.jsonl"),
        read_ground_truth(model_monitor_fixtures / "actuals.jsonl"),
        tmp_path,
        positive_label="1",
    )
    assert result.matched == 5  # every fixture capture has its actual
    assert result.metrics["recall"] == pytest.approx(1 / 5)  # one score ≥ 0.5, all labels 1


def test_evaluation_json_is_accepted_as_a_quality_baseline(tmp_path: Path) -> None:
    evaluation = {
        "binary_classification_metrics": {
            "auc": {"value": 0.9, "standard_deviation": "NaN"},
            "f1": {"value": 0.7, "standard_deviation": "NaN"},
        }
    }
    path = write_json(tmp_path / "evaluation.json", evaluation)
    constraints = load_constraints(path)["binary_classification_constraints"]
    assert constraints["auc"] == {
        "threshold": pytest.approx(0.88),
        "comparison_operator": "LessThanThreshold",
    }


def test_no_matching_ground_truth_is_an_input_error(tmp_path: Path) -> None:
    write_jsonl(tmp_path / "c.jsonl", [capture_record("a", "1,2")])
    write_jsonl(tmp_path / "g.jsonl", [ground_truth_record("b", "Yes")])
    with pytest.raises(MonitoringInputError, match="share no inferenceId or eventId"):
        evaluate_model_quality(
            read_capture(tmp_path / "c.jsonl"), read_ground_truth(tmp_path / "g.jsonl"), tmp_path
        )
