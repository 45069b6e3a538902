"""Binary, end to end, on scikit-learn's breast cancer table made the way real tables come:
text labels, a text column, and 5 % of the measurement cells blank."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.real_data.lifecycle import ID_COLUMN, Lifecycle, run_lifecycle

pytestmark = pytest.mark.slow


def _table() -> pd.DataFrame:
    from sklearn.datasets import load_breast_cancer

    frame = load_breast_cancer(as_frame=True).frame
    rng = np.random.default_rng(5)
    measurements = [c for c in frame.columns if c != "target"]
    blanks = rng.random((len(frame), len(measurements))) < 0.05
    frame[measurements] = frame[measurements].mask(blanks)
    frame.insert(3, "size", pd.cut(frame["worst area"], 3, labels=["small", "medium", "large"]))
    frame["target"] = np.where(frame["target"] == 0, "malignant", "benign")
    return frame


@pytest.fixture(scope="module")
def lifecycle(local_aws_url: str, tmp_path_factory: pytest.TempPathFactory) -> Lifecycle:
    return run_lifecycle("cancer-test", _table(), tmp_path_factory.mktemp("breast-cancer"))


def test_init_infers_binary_and_the_rarer_label_as_positive(lifecycle: Lifecycle) -> None:
    assert (
        "problem type binary (inferred: the target has 2 distinct values" in lifecycle.init_output
    )
    assert "positive label 'malignant' (inferred: the less frequent" in lifecycle.init_output
    dataset = json.loads(lifecycle.config.read_text())["context"]["mlops"]["dataset"]
    assert dataset == {
        "target": "target",
        "problem_type": "binary",
        "positive_label": "malignant",
        "id_column": ID_COLUMN,
    }


def test_the_pipeline_passes_the_gate_and_registers_in_the_projects_group(
    lifecycle: Lifecycle,
) -> None:
    run = lifecycle.run
    assert run["status"] == "Succeeded", run["failure_reason"]
    assert run["metrics"]["auc"] > 0.95
    assert run["metrics"]["f1"] > 0.85
    assert "model-package/cancer-test-models/" in run["model_package_arn"]
    assert "binary on target · auc" in lifecycle.models_list
    assert "Approved" in lifecycle.models_list


def test_the_text_column_is_one_hot_encoded_and_blanks_stay_missing(lifecycle: Lifecycle) -> None:
    spec = json.loads(Path(lifecycle.run["feature_spec"]).read_text())
    features = {feature["name"]: feature for feature in spec["features"]}
    assert features["size"]["categories"] == ["large", "medium", "small"]
    assert ID_COLUMN not in features
    assert spec["classes"] == ["benign", "malignant"]


def test_the_endpoint_answers_a_probability_and_a_label(lifecycle: Lifecycle) -> None:
    (answer,) = lifecycle.raw_answer["predictions"]
    assert set(answer) == {"probability", "label"}
    assert 0 <= answer["probability"] <= 1
    assert answer["label"] in {"malignant", "benign"}


def test_invoke_drops_id_and_target_and_names_each_row_by_its_id(lifecycle: Lifecycle) -> None:
    assert "left out the schema's column(s) row_id, target" in lifecycle.invoke_output
    # Every row's id names its captured inference (the one boto3 call above sent none).
    assert lifecycle.captured_ids - {""} == set(lifecycle.traffic[ID_COLUMN])


def test_model_quality_is_measured_on_the_labelled_capture(lifecycle: Lifecycle) -> None:
    metrics = lifecycle.quality["binary_classification_metrics"]
    assert metrics["auc"]["value"] > 0.9
    assert sum(sum(row.values()) for row in metrics["confusion_matrix"].values()) == len(
        lifecycle.traffic
    )


def test_raw_rows_are_checked_without_their_id_and_target(lifecycle: Lifecycle) -> None:
    checks = {v["constraint_check_type"] for v in lifecycle.data_violations["violations"]}
    assert "extra_column_check" not in checks
    assert "missing_column_check" not in checks
