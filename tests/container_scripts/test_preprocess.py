"""training/preprocess.py under the processing contract (docs/contracts.md §1-3)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from mlops.dataset.example import COLUMNS
from mlops.dataset.generator import CONTRACTS
from mlops.local_runtime import JobFailed, run_processing_job
from tests.container_scripts.conftest import ROWS, Chain, preprocess_spec


def _s3_text(chain: Chain, output: str, name: str) -> str:
    bucket, _, key = chain.preprocess.outputs[output][len("s3://") :].partition("/")
    body = chain.s3.get_object(Bucket=bucket, Key=f"{key}/{name}")["Body"].read()
    return str(body.decode())


def _spec(chain: Chain) -> dict:
    return json.loads(_s3_text(chain, "spec", "feature_spec.json"))


def _rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def test_splits_are_label_first_then_encoded_columns_without_header(chain: Chain) -> None:
    width = 1 + len(_spec(chain)["encoded_columns"])
    for split in ("train", "validation", "test"):
        rows = _rows(_s3_text(chain, split, f"{split}.csv"))
        assert {len(row) for row in rows} == {width}, split
        assert {row[0] for row in rows} == {"0", "1"}, split


def test_splits_partition_all_rows_stratified_by_label(chain: Chain) -> None:
    sizes, rates = {}, {}
    for split in ("train", "validation", "test"):
        rows = _rows(_s3_text(chain, split, f"{split}.csv"))
        sizes[split] = len(rows)
        rates[split] = sum(row[0] == "1" for row in rows) / len(rows)
    assert sum(sizes.values()) == ROWS
    assert sizes["validation"] == pytest.approx(0.15 * ROWS, abs=2)
    assert sizes["test"] == pytest.approx(0.15 * ROWS, abs=2)
    assert max(rates.values()) - min(rates.values()) < 0.01


def test_blank_numeric_cells_stay_blank_in_the_encoded_splits(chain: Chain) -> None:
    with chain.raw_csv.open() as handle:
        blanks_in = sum(row["total_charges"] == "" for row in csv.DictReader(handle))
    column = 1 + _spec(chain)["encoded_columns"].index("total_charges")
    blanks_out = sum(
        row[column] == ""
        for split in ("train", "validation", "test")
        for row in _rows(_s3_text(chain, split, f"{split}.csv"))
    )
    assert blanks_in > 0
    assert blanks_out == blanks_in


def test_baseline_is_raw_training_features_with_header_in_spec_order(chain: Chain) -> None:
    spec = _spec(chain)
    rows = _rows(_s3_text(chain, "baseline", "baseline.csv"))
    header, body = rows[0], rows[1:]
    assert header == [feature["name"] for feature in spec["features"]]
    assert "churn" not in header
    assert "customer_id" not in header
    assert len(body) == len(_rows(_s3_text(chain, "train", "train.csv")))
    assert {row[header.index("contract")] for row in body} == set(CONTRACTS)


def test_feature_spec_records_types_vocabularies_and_encoded_order(chain: Chain) -> None:
    spec = _spec(chain)
    features = {feature["name"]: feature for feature in spec["features"]}
    assert spec["spec_version"] == 2
    assert (spec["target"], spec["problem_type"]) == ("churn", "binary")
    assert (spec["positive_label"], spec["negative_label"], spec["classes"]) == (
        "Yes",
        "No",
        ["No", "Yes"],
    )
    assert spec["warnings"] == []
    assert list(features) == [c for c in COLUMNS if c not in ("customer_id", "churn")]
    assert features["tenure_months"]["type"] == "numeric"
    assert isinstance(features["tenure_months"]["median"], float)
    assert features["contract"] == {
        "name": "contract",
        "type": "categorical",
        "categories": sorted(CONTRACTS),
    }
    expected: list[str] = []
    for feature in spec["features"]:
        if feature["type"] == "numeric":
            expected.append(feature["name"])
        else:
            expected += [f"{feature['name']}={c}" for c in feature["categories"]]
    assert spec["encoded_columns"] == expected
    assert spec["prediction_threshold"] == 0.5


def test_same_input_and_seed_give_identical_outputs(chain: Chain, tmp_path: Path) -> None:
    result = run_processing_job(
        preprocess_spec("again", chain.raw_csv.parent, tmp_path, lambda out: tmp_path / out)
    )
    local = (Path(result.outputs["train"]) / "train.csv").read_text()
    assert local == _s3_text(chain, "train", "train.csv")


def _write_rows(path: Path, rows: list[list[str]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows(rows)


def _in_two_files(rows: list[list[str]], directory: Path, split: int) -> None:
    """``rows`` (header first) as ``a.csv`` and ``b.csv``, the second with its columns reversed."""
    header, body = rows[0], rows[1:]
    _write_rows(directory / "a.csv", [header, *body[:split]])
    _write_rows(directory / "b.csv", [row[::-1] for row in [header, *body[split:]]])


def test_input_in_several_files_gives_the_outputs_of_one_file(chain: Chain, tmp_path: Path) -> None:
    with chain.raw_csv.open(newline="") as handle:
        rows = list(csv.reader(handle))
    _in_two_files(rows, tmp_path / "input", split=ROWS // 3)
    result = run_processing_job(
        preprocess_spec("two-files", tmp_path / "input", tmp_path, lambda out: tmp_path / out)
    )
    for output, name in [
        ("train", "train.csv"),
        ("validation", "validation.csv"),
        ("test", "test.csv"),
        ("baseline", "baseline.csv"),
        ("spec", "feature_spec.json"),
    ]:
        local = (Path(result.outputs[output]) / name).read_text(encoding="utf-8")
        assert local == _s3_text(chain, output, name), name


def test_a_bad_cell_in_a_later_file_names_that_file_and_its_row(
    chain: Chain, tmp_path: Path
) -> None:
    with chain.raw_csv.open(newline="") as handle:
        rows = list(csv.reader(handle))[:401]
    _with_cell(300, "monthly_charges", "lots")(rows)
    _in_two_files(rows, tmp_path / "input", split=200)
    spec = preprocess_spec("bad-later-file", tmp_path / "input", tmp_path, lambda o: tmp_path / o)
    with pytest.raises(JobFailed) as failure:
        run_processing_job(spec)
    assert "'monthly_charges', file b.csv, row 100: value 'lots'" in (
        failure.value.exit_message or ""
    )


def test_values_with_commas_quotes_and_non_ascii_text_survive_encoding_and_baseline(
    chain: Chain, tmp_path: Path
) -> None:
    odd = ["Nord, Süd", 'say "hi"', "東京"]
    with chain.raw_csv.open(newline="") as handle:
        rows = list(csv.reader(handle))[:401]
    region = rows[0].index("region")
    for number, row in enumerate(rows[1:]):
        row[region] = odd[number % len(odd)]
    _write_rows(tmp_path / "input" / "odd.csv", rows)
    result = run_processing_job(
        preprocess_spec("odd-values", tmp_path / "input", tmp_path, lambda out: tmp_path / out)
    )
    spec = json.loads((Path(result.outputs["spec"]) / "feature_spec.json").read_text())
    assert {f["name"]: f for f in spec["features"]}["region"]["categories"] == sorted(odd)
    baseline = _rows((Path(result.outputs["baseline"]) / "baseline.csv").read_text("utf-8"))
    assert {row[baseline[0].index("region")] for row in baseline[1:]} == set(odd)
    train = _rows((Path(result.outputs["train"]) / "train.csv").read_text("utf-8"))
    first = spec["encoded_columns"].index(f"region={sorted(odd)[0]}")
    for row, raw in zip(train, baseline[1:], strict=True):
        one_hot = row[1 + first : 1 + first + len(odd)]
        assert one_hot == [
            "1" if v == raw[baseline[0].index("region")] else "0" for v in sorted(odd)
        ]


def _with_cell(row: int, column: str, value: str) -> Callable[[list[list[str]]], None]:
    def edit(rows: list[list[str]]) -> None:
        rows[row][rows[0].index(column)] = value

    return edit


def _without_column(column: str) -> Callable[[list[list[str]]], None]:
    def edit(rows: list[list[str]]) -> None:
        index = rows[0].index(column)
        for row in rows:
            del row[index]

    return edit


def _header_only(rows: list[list[str]]) -> None:
    del rows[1:]


BAD_INPUTS = [
    pytest.param(
        _with_cell(37, "monthly_charges", "lots"),
        [],
        ["'monthly_charges'", "row 37", "'lots'", "not a finite number"],
        id="text-in-inferred-numeric-column",
    ),
    pytest.param(
        _with_cell(5, "support_calls", "three"),
        ["--numeric", "support_calls"],
        ["'support_calls'", "row 5", "'three'", "not a finite number"],
        id="text-in-declared-numeric-column",
    ),
    pytest.param(
        _with_cell(12, "age", "inf"),
        [],
        ["'age'", "row 12", "'inf'"],
        id="inf-in-numeric-column",
    ),
    pytest.param(
        _with_cell(250, "churn", "Maybe"),
        [],
        ["'churn'", "row 250", "'Maybe'", "not a known label", "occurs 1 time"],
        id="unknown-target-label",
    ),
    pytest.param(
        _with_cell(3, "churn", ""),
        [],
        ["'churn'", "row 3", "the target is blank"],
        id="blank-target",
    ),
    pytest.param(
        lambda rows: rows[7].append("extra"),
        [],
        ["bad.csv", "line 8 has 17 fields, the header has 16", "quote it"],
        id="row-with-an-extra-field",
    ),
    pytest.param(
        lambda rows: rows[0].__setitem__(rows[0].index("region"), "age"),
        [],
        ["duplicate column name 'age' (columns 2 and 15)"],
        id="duplicate-column-name",
    ),
    pytest.param(
        _with_cell(12, "churn", "Maybe"),
        ["--problem-type", "regression"],
        ["'churn'", "not a finite number", "regression target must be numeric"],
        id="text-target-for-regression",
    ),
    pytest.param(
        _without_column("tenure_months"),
        ["--numeric", "age,tenure_months"],
        ["'tenure_months'", "(numeric) is missing"],
        id="missing-declared-column",
    ),
    pytest.param(
        _without_column("churn"),
        [],
        ["'churn'", "(target) is missing"],
        id="missing-target-column",
    ),
    pytest.param(
        _without_column("customer_id"),
        [],
        ["'customer_id'", "(drop-columns) is missing"],
        id="missing-drop-column",
    ),
    pytest.param(_header_only, [], ["no data rows"], id="header-only"),
]


@pytest.mark.parametrize(("edit", "schema_args", "expected"), BAD_INPUTS)
def test_bad_input_fails_with_a_reason_naming_the_problem(
    chain: Chain,
    tmp_path: Path,
    edit: Callable[[list[list[str]]], None],
    schema_args: list[str],
    expected: list[str],
) -> None:
    with chain.raw_csv.open() as handle:
        rows = list(csv.reader(handle))[:400]
    edit(rows)
    bad = tmp_path / "input" / "bad.csv"
    bad.parent.mkdir()
    with bad.open("w", newline="") as handle:
        csv.writer(handle).writerows(rows)
    destination = tmp_path / "published"
    spec = preprocess_spec("bad", bad.parent, tmp_path / "work", lambda o: destination / o)
    with pytest.raises(JobFailed) as failure:
        run_processing_job(replace(spec, arguments=[*spec.arguments, *schema_args]))
    assert failure.value.reason == "AlgorithmError: See job logs for more information"
    message = failure.value.exit_message or ""
    for fragment in expected:
        assert fragment in message
    assert not destination.exists()
