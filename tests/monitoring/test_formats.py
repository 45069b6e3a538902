"""Our files and the managed analyzer's are the same formats: read theirs, write theirs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from monitoring.analysis import load_baseline
from monitoring.baseline import BaselineResult
from monitoring.capture import (
    ground_truth_labels,
    input_rows,
    output_predictions,
    read_capture,
    read_ground_truth,
)
from monitoring.checks import read_violations
from monitoring.kll import sample_from_json


def key_tree(value: Any) -> Any:
    """The shape of a JSON value: keys recursively, list items merged, scalars by kind."""
    if isinstance(value, dict):
        return {key: key_tree(item) for key, item in value.items()}
    if isinstance(value, list):
        merged: Any = None
        for item in value:
            tree = key_tree(item)
            merged = tree if merged is None else _merge(merged, tree)
        return ["list", merged]
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    return type(value).__name__


def _merge(a: Any, b: Any) -> Any:
    if isinstance(a, dict) and isinstance(b, dict):
        return {k: _merge(a[k], b[k]) if k in a and k in b else a.get(k, b.get(k)) for k in a | b}
    if isinstance(a, list) and isinstance(b, list):
        if a[1] is None or b[1] is None:
            return a if b[1] is None else b
        return ["list", _merge(a[1], b[1])]
    return a


# The documented string feature of statistics.json (the fixture has numeric features only).
STRING_FEATURE_SHAPE = {
    "name": "str",
    "inferred_type": "str",
    "string_statistics": {
        "common": {"num_present": "number", "num_missing": "number"},
        "distinct_count": "number",
        "distribution": {"categorical": {"buckets": ["list", {"value": "str", "count": "number"}]}},
    },
}
OPTIONAL_DISTRIBUTION_SETTINGS = {"categorical_comparison_threshold", "categorical_drift_method"}


def _load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text())


def test_fixture_baseline_loads(model_monitor_fixtures: Path) -> None:
    baseline = load_baseline(model_monitor_fixtures)
    assert baseline.feature_order == ["_c0", "_c1", "_c2", "_c3", "_c4", "_c5"]
    sketch = baseline.statistics["features"][0]["numerical_statistics"]["distribution"]["kll"][
        "sketch"
    ]
    sample = sample_from_json(sketch)
    assert sample.total == 100  # 100 items at level 0, as item_count says


def test_fixture_violations_parse(model_monitor_fixtures: Path) -> None:
    violations = read_violations(model_monitor_fixtures / "constraint_violations.json")
    assert [(v.feature_name, v.constraint_check_type) for v in violations] == [
        ("store_and_fwd_flag", "categorical_values_check"),
        ("fare_amount", "data_type_check"),
        ("congestion_surcharge", "completeness_check"),
    ]


def test_fixture_capture_parses(model_monitor_fixtures: Path) -> None:
    records = read_capture(model_monitor_fixtures / "capture.jsonl")
    assert len(records) == 5
    assert records[0].event_id == "74b0dd56-e7c8-368e-94b1-14a138a96000"
    assert records[0].endpoint_input is not None
    assert records[0].endpoint_output is not None
    assert input_rows(records[0].endpoint_input) == [["9", "45", "45", "42", "7", "5", "0"]]
    assert output_predictions(records[0].endpoint_output)[0].probability == pytest.approx(
        0.302709460258
    )


def test_fixture_ground_truth_parses(model_monitor_fixtures: Path) -> None:
    records = read_ground_truth(model_monitor_fixtures / "actuals.jsonl")
    assert [r.event_id for r in records][:2] == [
        "74b0dd56-e7c8-368e-94b1-14a138a96000",
        "79f96714-0136-39c8-a200-38faf8a5f96f",
    ]
    assert all(ground_truth_labels(r.data) == ["1"] for r in records)


def test_statistics_have_the_analyzer_structure(
    baseline: BaselineResult, model_monitor_fixtures: Path
) -> None:
    ours = _load(baseline.statistics)
    theirs = _load(model_monitor_fixtures / "statistics.json")
    assert key_tree({k: v for k, v in ours.items() if k != "features"}) == key_tree(
        {k: v for k, v in theirs.items() if k != "features"}
    )
    numeric_shape = key_tree(theirs["features"][0])
    numeric = [f for f in ours["features"] if "numerical_statistics" in f]
    strings = [f for f in ours["features"] if "string_statistics" in f]
    assert numeric
    assert strings
    for feature in numeric:
        assert key_tree(feature) == numeric_shape, feature["name"]
    for feature in strings:
        assert key_tree(feature) == STRING_FEATURE_SHAPE, feature["name"]


def test_constraints_have_the_analyzer_structure(
    baseline: BaselineResult, model_monitor_fixtures: Path
) -> None:
    ours = _load(baseline.constraints)
    theirs = _load(model_monitor_fixtures / "constraints.json")
    assert ours.keys() == theirs.keys()
    numeric_shape = key_tree(theirs["features"][0])
    for feature in ours["features"]:
        if feature["inferred_type"] in ("Integral", "Fractional"):
            assert key_tree(feature) == numeric_shape, feature["name"]
        else:
            assert set(feature) <= {"name", "inferred_type", "completeness", "string_constraints"}
    config, their_config = ours["monitoring_config"], theirs["monitoring_config"]
    ours_without_optional = {
        **config,
        "distribution_constraints": {
            k: v
            for k, v in config["distribution_constraints"].items()
            if k not in OPTIONAL_DISTRIBUTION_SETTINGS
        },
    }
    assert ours_without_optional == their_config  # the managed defaults, value for value


def test_categorical_features_get_their_domain(baseline: BaselineResult) -> None:
    constraints = {f["name"]: f for f in _load(baseline.constraints)["features"]}
    assert constraints["contract"]["string_constraints"]["domains"] == [
        "Month-to-month",
        "One year",
        "Two year",
    ]
    assert constraints["total_charges"]["completeness"] < 1.0  # datagen leaves ~2-3 % blank
    assert constraints["age"]["num_constraints"]["is_non_negative"] is True


def test_statistics_match_the_data(baseline: BaselineResult) -> None:
    import numpy as np

    from tests.monitoring.conftest import BASELINE_ROWS
    from tests.monitoring.helpers import features_table

    table = features_table(BASELINE_ROWS, seed=7)
    stats = {f["name"]: f for f in _load(baseline.statistics)["features"]}
    charges = table.column("total_charges").drop_null().to_numpy()
    numeric = stats["total_charges"]["numerical_statistics"]
    assert numeric["common"]["num_present"] == charges.size
    assert numeric["common"]["num_missing"] == BASELINE_ROWS - charges.size
    assert numeric["mean"] == pytest.approx(charges.mean())
    assert numeric["std_dev"] == pytest.approx(charges.std())
    assert numeric["min"] == charges.min()
    assert numeric["max"] == charges.max()
    buckets = numeric["distribution"]["kll"]["buckets"]
    exact = np.histogram(charges, bins=10, range=(charges.min(), charges.max()))[0]
    estimated = np.asarray([b["count"] for b in buckets])
    assert estimated.sum() == pytest.approx(charges.size, abs=2)
    assert np.max(np.abs(estimated - exact)) < 0.02 * charges.size  # KLL rank error at k=2048
    contract = stats["contract"]["string_statistics"]
    assert contract["distinct_count"] == 3
    assert (
        sum(b["count"] for b in contract["distribution"]["categorical"]["buckets"]) == BASELINE_ROWS
    )


def test_identifier_columns_get_an_approximate_distinct_count_and_no_domain(tmp_path: Path) -> None:
    import pyarrow as pa

    from monitoring.baseline import write_baseline
    from tests.monitoring.helpers import write_csv

    ids = [f"C{i:08d}" for i in range(25_000)]
    result = write_baseline(
        write_csv(pa.table({"customer_id": ids}), tmp_path / "ids.csv"), tmp_path / "b"
    )
    (feature,) = _load(result.statistics)["features"]
    assert feature["string_statistics"]["distinct_count"] == pytest.approx(25_000, rel=0.05)
    (constraint,) = _load(result.constraints)["features"]
    assert "string_constraints" not in constraint
