"""Multiclass, end to end, on scikit-learn's wine table (178 rows, 3 cultivars)."""

from __future__ import annotations

import pandas as pd
import pytest

from tests.real_data.lifecycle import Lifecycle, run_lifecycle

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def lifecycle(local_aws_url: str, tmp_path_factory: pytest.TempPathFactory) -> Lifecycle:
    from sklearn.datasets import load_wine

    table: pd.DataFrame = load_wine(as_frame=True).frame
    return run_lifecycle("wine-test", table, tmp_path_factory.mktemp("wine"))


def test_init_infers_multiclass_and_gates_on_weighted_f1(lifecycle: Lifecycle) -> None:
    assert "problem type multiclass (inferred: the target has 3 distinct integer" in (
        lifecycle.init_output
    )
    assert "gate: test weighted_f1 >= 0.7" in lifecycle.init_output
    assert "names: pipeline wine-test-pipeline, model group wine-test-models" in (
        lifecycle.init_output
    )


def test_the_pipeline_reports_multiclass_metrics_and_passes_the_gate(lifecycle: Lifecycle) -> None:
    run = lifecycle.run
    assert run["status"] == "Succeeded", run["failure_reason"]
    assert set(run["metrics"]) == {
        "accuracy",
        "weighted_f1",
        "weighted_precision",
        "weighted_recall",
    }
    assert run["metrics"]["weighted_f1"] > 0.85
    assert run["gate"]["metric"] == "weighted_f1"
    report = (lifecycle.run_dir / "report.html").read_text()
    assert 'id="per-class"' in report
    assert "<th>0</th><th>1</th><th>2</th>" in report


def test_the_endpoint_answers_the_class_and_every_class_probability(lifecycle: Lifecycle) -> None:
    (answer,) = lifecycle.raw_answer["predictions"]
    assert set(answer) == {"label", "probabilities"}
    assert list(answer["probabilities"]) == ["0", "1", "2"]
    assert sum(answer["probabilities"].values()) == pytest.approx(1, abs=1e-5)
    assert answer["label"] == max(answer["probabilities"], key=answer["probabilities"].get)


def test_model_quality_is_multiclass(lifecycle: Lifecycle) -> None:
    metrics = lifecycle.quality["multiclass_classification_metrics"]
    assert metrics["accuracy"]["value"] > 0.8
    assert set(metrics["confusion_matrix"]) == {"0", "1", "2"}
    assert lifecycle.quality_violations == {"violations": []}
