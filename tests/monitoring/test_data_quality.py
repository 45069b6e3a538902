"""Clean traffic raises nothing; each kind of shift raises the right check on the right feature."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from monitoring.analysis import AnalysisResult, analyze
from monitoring.errors import MonitoringInputError
from monitoring.jsonio import read_json, write_json
from tests.monitoring.helpers import write_csv


def _run(baseline_dir: Path, table: pa.Table, tmp_path: Path, **kwargs: object) -> AnalysisResult:
    data = write_csv(table, tmp_path / "current.csv")
    return analyze(baseline_dir, tmp_path / "out", data=data, **kwargs)  # type: ignore[arg-type]


def _found(result: AnalysisResult) -> set[tuple[str, str]]:
    return {(v.feature_name, v.constraint_check_type) for v in result.violations}


def _replace(table: pa.Table, name: str, values: pa.Array | list[object]) -> pa.Table:
    index = table.schema.get_field_index(name)
    return table.set_column(index, name, pa.array(values) if isinstance(values, list) else values)


def test_clean_traffic_has_no_violations(
    baseline_dir: Path, traffic: pa.Table, tmp_path: Path
) -> None:
    result = _run(baseline_dir, traffic, tmp_path)
    assert result.violations == []
    assert read_json(result.violations_file, what="violations") == {"violations": []}
    assert result.record_count == traffic.num_rows


def test_mean_shift_is_baseline_drift(
    baseline_dir: Path, traffic: pa.Table, tmp_path: Path
) -> None:
    shifted = _replace(traffic, "monthly_charges", pc.add(traffic.column("monthly_charges"), 25.0))
    result = _run(baseline_dir, shifted, tmp_path)
    assert _found(result) == {("monthly_charges", "baseline_drift_check")}
    (violation,) = result.violations
    assert "exceeds threshold: 0.1" in violation.description


def test_new_category_is_a_categorical_values_violation(
    baseline_dir: Path, traffic: pa.Table, tmp_path: Path
) -> None:
    regions = traffic.column("region").to_pylist()
    regions[::40] = ["antarctica"] * len(regions[::40])  # 2.5 %: too few to move the distribution
    result = _run(baseline_dir, _replace(traffic, "region", regions), tmp_path)
    assert _found(result) == {("region", "categorical_values_check")}
    assert "'antarctica'" in result.violations[0].description


def test_missing_values_are_a_completeness_violation(
    baseline_dir: Path, traffic: pa.Table, tmp_path: Path
) -> None:
    ages = traffic.column("age").to_pylist()
    ages[::10] = [None] * len(ages[::10])  # the baseline's age column was complete
    result = _run(baseline_dir, _replace(traffic, "age", ages), tmp_path)
    assert _found(result) == {("age", "completeness_check")}
    assert result.violations[0].description.startswith("Value: 0.9 does not meet the constraint")


def test_numeric_column_turned_to_text_is_a_data_type_violation(
    baseline_dir: Path, traffic: pa.Table, tmp_path: Path
) -> None:
    texts = [f"{value} months" for value in traffic.column("tenure_months").to_pylist()]
    result = _run(baseline_dir, _replace(traffic, "tenure_months", texts), tmp_path)
    assert _found(result) == {("tenure_months", "data_type_check")}
    assert result.current_statistics["features"][1]["inferred_type"] == "String"


def test_missing_column_is_reported(baseline_dir: Path, traffic: pa.Table, tmp_path: Path) -> None:
    result = _run(baseline_dir, traffic.drop_columns(["support_calls"]), tmp_path)
    assert _found(result) == {("support_calls", "missing_column_check")}


def test_extra_column_is_reported(baseline_dir: Path, traffic: pa.Table, tmp_path: Path) -> None:
    extra = traffic.append_column("loyalty_points", pa.array(np.arange(traffic.num_rows)))
    result = _run(baseline_dir, extra, tmp_path)
    assert _found(result) == {("loyalty_points", "extra_column_check")}


def test_simple_comparison_flags_what_robust_tolerates(
    baseline_dir: Path, traffic: pa.Table, tmp_path: Path
) -> None:
    small = traffic.slice(0, 60)  # 60 rows: sampling noise alone gives L-inf distances ~0.1-0.2
    robust = _run(baseline_dir, small, tmp_path / "robust")
    assert not any(v.constraint_check_type == "baseline_drift_check" for v in robust.violations)

    constraints = read_json(baseline_dir / "constraints.json", what="constraints")
    constraints["monitoring_config"]["distribution_constraints"]["comparison_method"] = "Simple"
    simple_baseline = tmp_path / "simple-baseline"
    write_json(simple_baseline / "constraints.json", constraints)
    (simple_baseline / "statistics.json").write_text((baseline_dir / "statistics.json").read_text())
    simple = _run(simple_baseline, small, tmp_path / "simple")
    assert any(v.constraint_check_type == "baseline_drift_check" for v in simple.violations)


def test_drift_metric_is_emitted_for_every_feature(
    baseline_dir: Path, traffic: pa.Table, tmp_path: Path
) -> None:
    result = _run(baseline_dir, traffic, tmp_path)
    names = {m.name for m in result.metrics}
    for feature in traffic.column_names:
        assert f"feature_baseline_drift_{feature}" in names
        assert f"feature_non_null_{feature}" in names
    assert "feature_data_age" in names
    assert result.metric_values["feature_non_null_age"] == 1.0


def test_a_managed_analyzer_baseline_works_here(
    model_monitor_fixtures: Path, tmp_path: Path
) -> None:
    rng = np.random.default_rng(3)
    statistics = read_json(model_monitor_fixtures / "statistics.json", what="statistics")
    columns = {}
    for feature in statistics["features"]:
        data = feature["numerical_statistics"]["distribution"]["kll"]["sketch"]["data"][0]
        columns[feature["name"]] = rng.choice(np.asarray(data), size=400)
    same = write_csv(pa.table(columns), tmp_path / "same.csv", header=False)
    shifted = write_csv(
        pa.table({k: v + 10.0 for k, v in columns.items()}), tmp_path / "shifted.csv", header=False
    )
    assert analyze(model_monitor_fixtures, tmp_path / "a", data=same, header=False).violations == []
    drifted = analyze(model_monitor_fixtures, tmp_path / "b", data=shifted, header=False)
    assert {v.feature_name for v in drifted.violations} == set(columns)
    assert {v.constraint_check_type for v in drifted.violations} == {"baseline_drift_check"}


def test_empty_data_is_an_input_error(baseline_dir: Path, tmp_path: Path) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_text("age,tenure_months\n")
    with pytest.raises(MonitoringInputError, match="no records"):
        analyze(baseline_dir, tmp_path / "out", data=empty)


def test_unreadable_baseline_is_an_input_error(traffic: pa.Table, tmp_path: Path) -> None:
    broken = tmp_path / "baseline"
    broken.mkdir()
    (broken / "statistics.json").write_text("{not json")
    (broken / "constraints.json").write_text("{}")
    data = write_csv(traffic, tmp_path / "current.csv")
    with pytest.raises(MonitoringInputError, match="not valid JSON"):
        analyze(broken, tmp_path / "out", data=data)


def test_numbers_in_a_categorical_column_are_outside_its_domain(
    baseline_dir: Path, traffic: pa.Table, tmp_path: Path
) -> None:
    coded = pa.array([i % 3 for i in range(traffic.num_rows)])  # contract sent as numeric codes
    result = _run(baseline_dir, _replace(traffic, "contract", coded), tmp_path)
    assert ("contract", "categorical_values_check") in _found(result)
    assert {name for name, _ in _found(result)} == {"contract"}
