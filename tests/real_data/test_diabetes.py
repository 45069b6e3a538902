"""Regression, end to end, on scikit-learn's diabetes table (442 rows, a disease-progression
score)."""

from __future__ import annotations

import pandas as pd
import pytest

from tests.real_data.lifecycle import Lifecycle, run_lifecycle

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def lifecycle(local_aws_url: str, tmp_path_factory: pytest.TempPathFactory) -> Lifecycle:
    from sklearn.datasets import load_diabetes

    table: pd.DataFrame = load_diabetes(as_frame=True).frame
    return run_lifecycle("diabetes-test", table, tmp_path_factory.mktemp("diabetes"))


def test_init_infers_regression_from_a_many_valued_numeric_target(lifecycle: Lifecycle) -> None:
    assert "problem type regression (inferred: the target is integer with" in lifecycle.init_output
    assert "gate: test r2 >= 0.2" in lifecycle.init_output


def test_the_pipeline_reports_regression_metrics_and_passes_the_gate(lifecycle: Lifecycle) -> None:
    run = lifecycle.run
    assert run["status"] == "Succeeded", run["failure_reason"]
    assert set(run["metrics"]) == {"r2", "rmse", "mae", "mse"}
    assert run["metrics"]["r2"] >= 0.2
    assert run["metrics"]["rmse"] == pytest.approx(run["metrics"]["mse"] ** 0.5, rel=1e-4)
    assert "regression on target · r2" in lifecycle.models_list


def test_the_endpoint_answers_a_value(lifecycle: Lifecycle) -> None:
    (answer,) = lifecycle.raw_answer["predictions"]
    assert set(answer) == {"value"}
    assert 25 <= answer["value"] <= 350  # the target's range


def test_model_quality_is_regression(lifecycle: Lifecycle) -> None:
    metrics = lifecycle.quality["regression_metrics"]
    assert set(metrics) == {"mae", "mse", "rmse", "r2"}
    assert metrics["r2"]["value"] > 0.1
