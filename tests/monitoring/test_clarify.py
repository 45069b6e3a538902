"""Bias and explainability in Clarify's formats, checked key by key against AWS's own files
(tests/fixtures/clarify/SOURCE.md), and the behaviour of the two drift monitors."""

from __future__ import annotations

import json
import math
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from monitoring import bias as bias_monitor
from monitoring import explainability as explain_monitor
from monitoring.capture import CaptureRecord, GroundTruthRecord, Payload
from monitoring.model_quality import write_model_quality_baseline
from tests.serving.modelkit import BuiltModel, build_model, raw_rows
from training import clarify

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "clarify"


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> BuiltModel:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return build_model(tmp_path_factory.mktemp("clarify-model"), rows=600)


@pytest.fixture(scope="module")
def model(built: BuiltModel) -> clarify.EncodedModel:
    from monitoring.monitors import load_model

    return load_model(built.archive)


def _captures(rows: list[list[str]], labels: list[str], answers: list[str]) -> tuple[list, list]:
    """One capture record per row (CSV) and its ground truth, merged on the eventId."""
    captures, truths = [], []
    for index, (row, label, answer) in enumerate(zip(rows, labels, answers, strict=True)):
        event = f"evt-{index}"
        captures.append(
            CaptureRecord(
                event_id=event,
                inference_id=None,
                inference_time="2026-11-26T10:15:00Z",
                endpoint_input=Payload("text/csv", ",".join(row), "CSV"),
                endpoint_output=Payload("text/csv", answer, "CSV"),
                source="test",
                line=index + 1,
            )
        )
        truths.append(GroundTruthRecord(event, Payload("text/csv", label, "CSV")))
    return captures, truths


def _keys(document: Any) -> Any:
    """The key structure of a JSON document (lists by their first item)."""
    if isinstance(document, dict):
        return {key: _keys(value) for key, value in document.items()}
    if isinstance(document, list):
        return [_keys(document[0])] if document and isinstance(document[0], dict) else []
    return None


# --- explanations ----------------------------------------------------------------------------


def test_shap_values_per_feature_add_up_to_the_model_margin(
    built: BuiltModel, model: clarify.EncodedModel
) -> None:
    import xgboost as xgb

    matrix = built.encode(built.raw.head(200))
    values, expected = clarify.shap_values(model, matrix)
    margin = built.booster.predict(
        xgb.DMatrix(matrix, feature_names=model.encoded_columns), output_margin=True
    )
    assert values.shape == (200, 1, len(model.features))  # one value per raw feature
    np.testing.assert_allclose(values[:, 0, :].sum(axis=1) + expected[0], margin, atol=1e-4)


@pytest.fixture(scope="module", params=["binary", "multiclass"])
def any_problem(request: pytest.FixtureRequest, built: BuiltModel) -> BuiltModel:
    if request.param == "binary":
        return built
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return build_model(
            Path(request.getfixturevalue("tmp_path_factory").mktemp("clarify-mc")),
            problem_type="multiclass",
        )


def test_shap_of_a_large_sample_is_xgboosts_own_treeshap_bit_for_bit(
    any_problem: BuiltModel,
) -> None:
    import xgboost as xgb

    from monitoring.monitors import load_model

    model = load_model(any_problem.archive)
    problem_type = str(any_problem.spec["problem_type"])
    rows = raw_rows(clarify.SHARED_BRANCHES_MIN_ROWS + 500, seed=5, problem_type=problem_type)  # type: ignore[arg-type]
    matrix = any_problem.encode(rows)
    assert np.isnan(matrix).any()  # blanks: XGBoost's default branch
    # the per-round path, not XGBoost's one call, is what is checked here
    assert clarify._split_nodes_by_round(model.booster, matrix.shape[1]) is not None
    for cells in (matrix, matrix.astype(np.float64)):
        expected = model.booster.predict(
            xgb.DMatrix(cells, feature_names=model.encoded_columns), pred_contribs=True
        )
        got = clarify.tree_contributions(model, cells)
        assert got.shape == expected.shape
        assert got.dtype == expected.dtype
        assert np.array_equal(got.view(np.uint32), expected.view(np.uint32))


def test_a_categorical_feature_gets_the_sum_of_its_one_hot_contributions(
    built: BuiltModel, model: clarify.EncodedModel
) -> None:
    import xgboost as xgb

    matrix = built.encode(built.raw.head(50))
    raw = built.booster.predict(
        xgb.DMatrix(matrix, feature_names=model.encoded_columns), pred_contribs=True
    )
    columns = [i for i, name in enumerate(model.encoded_columns) if name.startswith("contract=")]
    values, _ = clarify.shap_values(model, matrix)
    at = model.features.index("contract")
    np.testing.assert_allclose(values[:, 0, at], raw[:, columns].sum(axis=1), atol=1e-5)


def test_explainability_analysis_has_clarify_keys(
    built: BuiltModel, model: clarify.EncodedModel
) -> None:
    values, expected = clarify.shap_values(model, built.encode(built.raw.head(100)))
    ours = clarify.explanations_document(model, values, expected)
    real = fixture("examples-fraud-explainability-analysis.json")
    label = ours["explanations"]["kernel_shap"]["label0"]
    assert set(ours) == set(real)
    assert set(label) == set(real["explanations"]["kernel_shap"]["label0"])
    assert list(label["global_shap_values"]) == model.features
    assert all(v >= 0 for v in label["global_shap_values"].values())  # mean |SHAP|
    several = fixture("sdk-model-card-explainability-analysis.json")["explanations"]["kernel_shap"]
    assert {"global_shap_values", "expected_value"} <= set(several["label1"])


def test_ndcg_is_the_developer_guides_worked_example() -> None:
    # "Monitor Feature Attribution Drift": SAT 0.70, GPA 0.50, class rank 0.05 in training;
    # 0.10, 0.20, 0.70 live — "the NDCG value is 0.69".
    baseline = {"SAT score": 0.70, "GPA": 0.50, "Class rank": 0.05}
    live = {"SAT score": 0.10, "GPA": 0.20, "Class rank": 0.70}
    assert round(clarify.attribution_ndcg(baseline, live), 2) == 0.69
    assert clarify.attribution_ndcg(baseline, baseline) == 1.0


def test_attribution_drift_is_flagged_when_the_ranking_turns_over(
    built: BuiltModel, model: clarify.EncodedModel, tmp_path: Path
) -> None:
    values, expected = clarify.shap_values(model, built.encode(built.raw))
    baseline = clarify.explanations_document(model, values, expected)
    rows = built.raw.head(150).copy()
    captures, _ = _captures(rows.to_numpy().tolist(), ["No"] * 150, ["0.5,No"] * 150)
    clean = explain_monitor.evaluate_explainability(
        captures, tmp_path / "clean", model=model, baseline=baseline
    )
    top = max(
        baseline["explanations"]["kernel_shap"]["label0"]["global_shap_values"].items(),
        key=lambda item: item[1],
    )[0]
    reordered = baseline["explanations"]["kernel_shap"]["label0"]["global_shap_values"]
    turned = {name: 1.0 / (1.0 + value) for name, value in reordered.items()}
    turned_baseline = {
        "version": "1.0",
        "explanations": {"kernel_shap": {"label0": {"global_shap_values": turned}}},
    }
    drifted = explain_monitor.evaluate_explainability(
        captures, tmp_path / "drifted", model=model, baseline=turned_baseline
    )
    assert clean.ndcg["label0"] > 0.95
    assert not clean.violations
    assert drifted.ndcg["label0"] < explain_monitor.NDCG_THRESHOLD
    written = json.loads(drifted.violations_file.read_text())
    real = fixture("docs-attribution-drift-constraint-violations.json")
    assert _keys(written) == _keys(real)
    assert written["violations"][0]["constraint_check_type"] == "feature_attribution_drift_check"
    assert top in model.features


def test_attribution_metrics_carry_the_monitors_dimensions(
    built: BuiltModel, model: clarify.EncodedModel
) -> None:
    values, expected = clarify.shap_values(model, built.encode(built.raw.head(40)))
    metrics = explain_monitor.attribution_metrics(
        clarify.explanations_document(model, values, expected)
    )
    names = {m.name for m in metrics}
    assert {f"feature_{name}" for name in model.features} <= names
    dimensions = {dict(m.dimensions)["ValueType"] for m in metrics}
    assert dimensions == {"GlobalShapValues", "ExpectedValue"}
    assert {m.namespace for m in metrics} == {"aws/sagemaker/Endpoints/explainability-metrics"}


# --- bias --------------------------------------------------------------------------------------


def _bias_rows(seed: int, rows: int, senior_share: float, senior_churn: float | None) -> Any:
    frame = raw_rows(rows, seed)
    rng = np.random.default_rng(seed)
    senior = rng.random(rows) < senior_share
    frame["senior_citizen"] = np.where(senior, "1", "0")
    if senior_churn is not None:
        churned = senior & (rng.random(rows) < senior_churn)
        frame["churn"] = np.where(churned, "Yes", frame["churn"])
    return frame


def test_bias_analysis_has_the_keys_and_metrics_of_a_real_clarify_job(
    built: BuiltModel, model: clarify.EncodedModel
) -> None:
    matrix = built.encode(built.raw)
    labels = np.where(np.random.default_rng(0).random(len(built.raw)) < 0.3, 1.0, 0.0)
    analysis, constraints = clarify.bias_baseline(
        model,
        matrix,
        labels,
        facets=[clarify.Facet("senior_citizen", (1,))],
        rule=clarify.LabelRule(("Yes",)),
        group_variable="region",
        label="churn",
    )
    real = fixture("examples-fraud-bias-analysis.json")
    assert set(analysis) == set(real)
    for section in (clarify.PRE_TRAINING, clarify.POST_TRAINING):
        ours, theirs = analysis[section], real[section]
        assert set(ours) == set(theirs)
        group, real_group = (
            ours["facets"]["senior_citizen"][0],
            next(iter(theirs["facets"].values()))[0],
        )
        assert set(group) == set(real_group)
        assert [m["name"] for m in group["metrics"]] == [m["name"] for m in real_group["metrics"]]
        assert [m["description"] for m in group["metrics"]] == [
            m["description"] for m in real_group["metrics"]
        ]
        assert all({"name", "description", "value"} <= set(m) for m in group["metrics"])
    assert _keys(constraints) == _keys(analysis)


def test_bias_drift_flags_a_shifted_facet_and_not_clean_traffic(
    built: BuiltModel, model: clarify.EncodedModel, tmp_path: Path
) -> None:
    baseline_frame = _bias_rows(21, 3000, 0.16, None)
    matrix = built.encode(baseline_frame)
    _, constraints = clarify.bias_baseline(
        model,
        matrix,
        (baseline_frame["churn"] == "Yes").to_numpy(float),
        facets=[clarify.Facet("senior_citizen", (1,))],
        rule=clarify.LabelRule(("Yes",)),
        group_variable=None,
        label="churn",
    )
    config = clarify.bias_monitor_config(
        model,
        label="churn",
        facets=[clarify.Facet("senior_citizen", (1,))],
        rule=clarify.LabelRule(("Yes",)),
        group_variable=None,
    )
    outcomes = {}
    for name, frame in (
        ("clean", _bias_rows(22, 400, 0.16, None)),
        ("drifted", _bias_rows(23, 400, 0.5, 0.9)),
    ):
        predicted = clarify.predict_outcomes(model, built.encode(frame))
        captures, truths = _captures(
            frame[list(model.features)].to_numpy().tolist(),
            frame["churn"].tolist(),
            [f"0.5,{label}" for label in predicted],
        )
        outcomes[name] = bias_monitor.evaluate_bias(
            captures,
            truths,
            tmp_path / name,
            config=config,
            constraints=constraints,
            problem_type="binary",
            positive_label="Yes",
            negative_label="No",
        )
    assert outcomes["clean"].violations == []
    flagged = {v.metric_name for v in outcomes["drifted"].violations}
    assert {"DPL", "KS"} <= flagged
    written = json.loads(outcomes["drifted"].violations_file.read_text())
    assert _keys(written) == _keys(fixture("docs-bias-drift-constraint-violations.json"))
    assert {v["constraint_check_type"] for v in written["violations"]} == {"bias_drift_check"}


def test_bias_metrics_carry_the_monitors_dimensions() -> None:
    analysis = fixture("examples-fraud-bias-analysis.json")
    metrics = bias_monitor.bias_metrics(analysis)
    dims = {tuple(name for name, _ in m.dimensions) for m in metrics}
    assert dims == {("BiasStage", "Label", "LabelValue", "Facet", "FacetValue")}
    names = {m.name for m in metrics}
    assert "bias_metric_DPPL" in names
    assert "bias_metric_CDDL" not in names
    assert {dict(m.dimensions)["BiasStage"] for m in metrics} == {"Pre-training", "Post-training"}


def test_a_numeric_facet_group_is_written_as_clarify_writes_it() -> None:
    real = fixture("sdk-data-bias-analysis.json")["pre_training_bias_metrics"]["facets"]["F1"][0]
    groups = clarify.facet_groups(
        np.asarray([0.1, 0.6, 0.9936148802477393, 0.3]), clarify.Facet("F1", (0.5,))
    )
    assert groups[0].label == real["value_or_threshold"]
    assert groups[0].sensitive.tolist() == [False, True, True, False]


def test_flip_test_equals_scikit_learns_knn_even_among_tied_rows() -> None:
    from sklearn.neighbors import KNeighborsClassifier

    rng = np.random.default_rng(3)
    answered_directly = 0
    for problem in range(40):
        # few distinct points (exact distance ties everywhere) or fine-grained ones
        levels = 3 if problem % 2 else 1000
        features = rng.integers(0, levels, (500, 4)).astype(np.float64) / 7
        sensitive = rng.random(500) < 0.2
        predicted = rng.random(500) < 0.4
        knn = KNeighborsClassifier(n_neighbors=clarify.FT_NEIGHBORS)
        knn.fit(features[~sensitive], predicted[~sensitive])
        voted = knn.predict(features[sensitive])
        model = predicted[sensitive]
        flips = int((model & ~voted).sum()) - int((~model & voted).sum())
        expected = flips / int(sensitive.sum())

        [metric] = clarify.metric_values(["FT"], sensitive, predicted, predicted, features=features)
        assert metric["value"] == expected
        direct = clarify._unambiguous_vote(
            features[~sensitive], predicted[~sensitive], features[sensitive], clarify.FT_NEIGHBORS
        )
        answered_directly += direct is not None
    assert 0 < answered_directly < 40  # both ways of answering were exercised


@pytest.mark.parametrize(
    "column",
    [
        np.asarray([0.0, -0.0, 1.0, 2.0, 1.0] * 40),
        np.asarray([0.1, 1, np.nan, 0.1] * 50, dtype=np.float32),
        np.asarray([1, 0, 1, 3] * 50),
        np.asarray([True, False] * 100),
        np.asarray(["1", " 1 ", "1.0", "", "x", "2"] * 40),
        np.asarray([1, 1.0, "1", -0.0, 0.0, None, " a ", "a"] * 30, dtype=object),
    ],
    ids=["float64", "float32", "int", "bool", "text", "mixed-object"],
)
def test_a_column_is_classified_and_grouped_as_cell_by_cell(column: np.ndarray) -> None:
    assert clarify.column_kind(column, None) == clarify.column_kind(column.tolist(), None)
    if clarify.column_kind(column, None) == clarify.CATEGORICAL:
        texts = [clarify.canonical(value) for value in column]
        groups = clarify.facet_groups(column, clarify.Facet("f"))
        assert [group.label for group in groups] == list(dict.fromkeys(texts))
        for group in groups:
            assert group.sensitive.tolist() == [text == group.label for text in texts]


def test_monitor_configurations_have_the_documented_keys(
    built: BuiltModel, model: clarify.EncodedModel
) -> None:
    bias_config = clarify.bias_monitor_config(
        model,
        label="churn",
        facets=[clarify.Facet("senior_citizen", (1,))],
        rule=clarify.LabelRule(("Yes",)),
        group_variable="region",
    )
    documented = set(fixture("docs-bias-monitor-analysis-config.json")) | {"version"}
    job = fixture("examples-bias-analysis-config.json")
    assert set(bias_config) <= documented | {"group_variable"}
    assert set(bias_config["facet"][0]) == set(job["facet"][0])
    assert bias_config["headers"][-1] == bias_config["label"] == "churn"
    explain_config = clarify.explainability_monitor_config(
        model, built.encode(built.raw), method="mean_abs", num_samples=100
    )
    doc = fixture("docs-explainability-monitor-analysis-config.json")
    assert set(explain_config) <= set(doc) | {"version"}
    assert set(explain_config["methods"]["shap"]) == set(
        fixture("examples-explainability-analysis-config.json")["methods"]["shap"]
    )
    assert len(explain_config["methods"]["shap"]["baseline"][0]) == len(model.features)


def test_clarify_encodes_rows_as_the_artifact_contract_says(
    built: BuiltModel, model: clarify.EncodedModel
) -> None:
    frame = built.raw.head(300)
    columns = {name: frame[name].tolist() for name in model.features}
    np.testing.assert_array_equal(clarify.encode_rows(model, columns), built.encode(frame))


# --- model quality baseline ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("problem_type", "rows", "columns", "fixture_name"),
    [
        (
            "binary",
            [("0.9", "1", "1"), ("0.2", "0", "0"), ("0.7", "1", "0"), ("0.4", "0", "1")] * 20,
            ("probability", "prediction", "label"),
            "sdk-model-card-binary-model-quality.json",
        ),
        (
            "regression",
            [("1.5", "1.0"), ("2.0", "2.5"), ("3.1", "3.0"), ("0.2", "0.9")] * 20,
            ("prediction", "label"),
            "sdk-model-quality-statistics.json",
        ),
    ],
)
def test_model_quality_baseline_writes_the_analyzers_files(
    problem_type: Any,
    rows: list[tuple[str, ...]],
    columns: tuple[str, ...],
    fixture_name: str,
    tmp_path: Path,
) -> None:
    data = tmp_path / "predictions.csv"
    data.write_text(",".join(columns) + "\n" + "\n".join(",".join(r) for r in rows) + "\n")
    result = write_model_quality_baseline(
        data,
        tmp_path / "out",
        problem_type=problem_type,
        inference_attribute="prediction",
        ground_truth_attribute="label",
        probability_attribute="probability" if problem_type == "binary" else None,
    )
    statistics = json.loads(result.statistics.read_text())
    constraints = json.loads(result.constraints.read_text())
    real = fixture(fixture_name)
    section = next(key for key in real if key.endswith("_metrics"))
    assert section in statistics
    assert statistics["dataset"]["item_count"] == len(rows)
    for name, value in statistics[section].items():
        if name != "confusion_matrix":
            assert set(value) == {"value", "standard_deviation"}
            assert name in real[section]
    real_constraints = fixture("sdk-model-quality-constraints.json")
    kind = section.replace("_metrics", "_constraints")
    assert set(constraints) == {"version", kind}
    entry = next(iter(constraints[kind].values()))
    assert set(entry) == set(next(iter(real_constraints["regression_constraints"].values())))
    if problem_type == "binary":
        assert math.isclose(statistics[section]["accuracy"]["value"], 0.5)


def test_a_large_test_split_is_analysed_on_the_same_bounded_sample_every_run() -> None:
    matrix = np.arange(50_000, dtype=np.float32).reshape(25_000, 2)
    codes = np.arange(25_000, dtype=np.float64)

    first = clarify.sample_rows(matrix, codes, limit=clarify.BASELINE_MAX_ROWS)
    again = clarify.sample_rows(matrix, codes, limit=clarify.BASELINE_MAX_ROWS)
    small = clarify.sample_rows(matrix[:300], codes[:300], limit=clarify.BASELINE_MAX_ROWS)

    assert len(first[1]) == clarify.BASELINE_MAX_ROWS
    assert np.array_equal(first[1], again[1])
    assert np.array_equal(first[0], again[0])
    assert np.all(np.diff(first[1]) > 0)  # distinct rows, in the split's order
    assert np.array_equal(first[0][:, 0], first[1] * 2)  # features stay with their label
    assert np.array_equal(small[1], codes[:300])  # a split under the limit is used whole
