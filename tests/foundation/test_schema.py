"""Schema resolution: problem type, labels, roles and types from the schema and the data itself."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mlops.core.errors import UserError
from mlops.core.settings import DatasetSchema
from mlops.dataset.schema import resolve_csv, resolve_schema


def _frame(**columns: list[str]) -> pd.DataFrame:
    return pd.DataFrame(columns, dtype=str)


def test_numeric_columns_are_inferred_from_values_blanks_included() -> None:
    frame = _frame(id=["1", "2", "3"], x=["1.5", "", "3"], c=["a", "b", "a"], y=["Yes", "No", "No"])
    resolved = resolve_schema(DatasetSchema(target="y", id_column="id"), frame)
    assert resolved.numeric == ("x",)
    assert resolved.categorical == ("c",)
    assert resolved.features == ("x", "c")


def test_numeric_looking_codes_can_be_declared_categorical() -> None:
    frame = _frame(zip=["10115", "20095"], y=["1", "0"])
    schema = DatasetSchema(target="y", positive_label="1", categorical=("zip",))
    assert resolve_schema(schema, frame).categorical == ("zip",)


def test_text_in_a_numeric_looking_column_makes_it_categorical() -> None:
    frame = _frame(v=["1", "2", "n/a"], y=["True", "False", "True"])
    schema = DatasetSchema(target="y", positive_label="True")
    assert resolve_schema(schema, frame).categorical == ("v",)


def test_missing_schema_column_is_a_user_error_naming_the_flags() -> None:
    frame = _frame(a=["1", "2"], y=["Yes", "No"])
    with pytest.raises(UserError, match=r"\['customer_id'\] are named in the dataset schema.*--id"):
        resolve_schema(DatasetSchema(target="y", id_column="customer_id"), frame)


def test_positive_label_absent_from_target_is_a_user_error() -> None:
    frame = _frame(a=["1", "2"], y=["churned", "stayed"])
    with pytest.raises(UserError, match=r"positive label 'Yes' does not occur.*churned, stayed"):
        resolve_schema(DatasetSchema(target="y", positive_label="Yes"), frame)


def test_unreadable_csv_is_a_user_error(tmp_path: Path) -> None:
    path = tmp_path / "empty.csv"
    path.write_text("")
    with pytest.raises(UserError, match="not a readable CSV"):
        resolve_csv(DatasetSchema(target="y"), path)


def test_a_repeated_column_name_is_refused_naming_it(tmp_path: Path) -> None:
    # pandas alone would rename the second one "age.1" and train on it.
    path = tmp_path / "twice.csv"
    path.write_text("age,income,age,y\n30,1,31,Yes\n40,2,41,No\n")
    with pytest.raises(UserError, match=r"duplicate column name 'age' \(columns 1 and 3\)"):
        resolve_csv(DatasetSchema(target="y"), path)


def test_one_typo_in_a_numeric_column_keeps_it_numeric() -> None:
    values = [str(v) for v in range(40)] + ["forty"]
    frame = _frame(v=values, y=["Yes", "No"] * 20 + ["Yes"])
    assert resolve_schema(DatasetSchema(target="y"), frame).numeric == ("v",)


@pytest.mark.parametrize(
    ("labels", "problem_type", "why"),
    [
        (["0", "1"] * 10, "binary", "2 distinct values"),
        (["a", "b", "c"] * 10, "multiclass", "3 distinct text values"),
        ([str(v % 5) for v in range(30)], "multiclass", "5 distinct integer values"),
        ([str(v) for v in range(30)], "regression", "integer with 30 distinct values"),
        ([f"{v / 3:.3f}" for v in range(30)], "regression", "numeric with 30 distinct values"),
    ],
)
def test_the_problem_type_is_inferred_from_the_target_and_says_why(
    labels: list[str], problem_type: str, why: str
) -> None:
    frame = _frame(x=[str(i) for i in range(len(labels))], y=labels)
    resolved = resolve_schema(DatasetSchema(target="y"), frame)
    assert resolved.problem_type == problem_type
    (note, *_) = resolved.inference_notes()
    assert note.startswith(f"problem type {problem_type} (inferred: ")
    assert why in note


@pytest.mark.parametrize(
    ("labels", "positive"),
    [
        (["0", "1", "1"], "1"),
        (["-1", "1", "-1"], "1"),
        (["No", "Yes", "No"], "Yes"),
        (["FALSE", "TRUE", "TRUE"], "TRUE"),
        (["benign", "malignant", "benign"], "malignant"),  # the rarer one
    ],
)
def test_the_positive_label_is_inferred_for_binary(labels: list[str], positive: str) -> None:
    frame = _frame(x=["1", "2", "3"], y=labels)
    resolved = resolve_schema(DatasetSchema(target="y"), frame)
    assert resolved.positive_label == positive
    assert any(
        note.startswith(f"positive label {positive!r}") for note in resolved.inference_notes()
    )


def test_configured_values_are_not_reported_as_inferred() -> None:
    frame = _frame(x=["1", "2"], y=["a", "b"])
    schema = DatasetSchema(target="y", problem_type="binary", positive_label="b")
    assert resolve_schema(schema, frame).inference_notes() == []


def test_binary_on_many_values_needs_a_positive_label_for_one_against_the_rest() -> None:
    frame = _frame(x=[str(i) for i in range(9)], y=["0", "1", "2"] * 3)
    with pytest.raises(UserError, match="binary needs 2 target values, or a --positive-label"):
        resolve_schema(DatasetSchema(target="y", problem_type="binary"), frame)
    schema = DatasetSchema(target="y", problem_type="binary", positive_label="0")
    assert resolve_schema(schema, frame).positive_label == "0"


def test_a_rare_extra_value_of_a_binary_target_is_reported_as_a_typo() -> None:
    frame = _frame(x=[str(i) for i in range(200)], y=["Yes", "No"] * 99 + ["No", "Yse"])
    schema = DatasetSchema(target="y", problem_type="binary", positive_label="Yes")
    with pytest.raises(UserError, match=r"data row 200: value 'Yse' is not a known label"):
        resolve_schema(schema, frame)


def test_a_text_target_cannot_be_a_regression() -> None:
    frame = _frame(x=["1", "2", "3"], y=["1.5", "high", "2"])
    with pytest.raises(UserError, match=r"regression needs a numeric target.*'high'"):
        resolve_schema(DatasetSchema(target="y", problem_type="regression"), frame)


def test_a_blank_target_cell_is_a_user_error_naming_the_row() -> None:
    frame = _frame(x=["1", "2", "3"], y=["a", "", "b"])
    with pytest.raises(UserError, match=r"blank in 1 row.*data row 2"):
        resolve_schema(DatasetSchema(target="y"), frame)


def test_a_feature_without_any_value_is_reported() -> None:
    frame = _frame(x=["1", "2"], empty=["", ""], y=["a", "b"])
    assert resolve_schema(DatasetSchema(target="y"), frame).blank_features == ("empty",)


def test_classes_follow_numeric_order_for_numbers() -> None:
    frame = _frame(x=["1"] * 4, y=["10", "9", "10", "2"])
    resolved = resolve_schema(DatasetSchema(target="y", problem_type="multiclass"), frame)
    assert [label for label, _ in resolved.profile.classes] == ["2", "9", "10"]


def test_inference_agrees_with_the_preprocess_script(tmp_path: Path) -> None:
    from mlops.dataset.example import example_schema
    from mlops.dataset.generator import write_csv
    from training import preprocess

    path = tmp_path / "churn.csv"
    write_csv(path, rows=400, seed=2)
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    frame.loc[3, "age"] = "unknown"  # a typo: still numeric on both sides
    frame["all_blank"] = ""
    resolved = resolve_schema(example_schema(), frame)
    container_types = preprocess.infer_types(frame, list(resolved.features), None, None)
    assert {n for n, t in container_types.items() if t == "numeric"} == set(resolved.numeric)
    assert {n for n, t in container_types.items() if t == "categorical"} == set(
        resolved.categorical
    )


@pytest.mark.parametrize(
    "labels",
    [
        ["0", "1"] * 5,
        ["No", "Yes", "Yes"],
        ["benign", "malignant", "benign"],
        ["a", "b", "c"] * 3,
        [str(v % 7) for v in range(21)],
        [str(v) for v in range(40)],
        [f"{v / 7:.4f}" for v in range(40)],
    ],
)
def test_problem_type_and_positive_label_agree_with_the_preprocess_script(
    labels: list[str],
) -> None:
    from training import preprocess

    counts = pd.Series(labels).value_counts()
    resolved = resolve_schema(DatasetSchema(target="y"), _frame(x=["1"] * len(labels), y=labels))
    numbers = pd.to_numeric(pd.Series(labels), errors="coerce").to_numpy(dtype=np.float64)
    all_numeric = bool(np.isfinite(numbers).all())
    container = preprocess.infer_problem_type(counts, numbers if all_numeric else None)
    assert container == resolved.problem_type
    if container == "binary":
        assert preprocess.infer_positive_label(counts, all_numeric) == resolved.positive_label
    if container == "multiclass":
        order = preprocess.class_order(list(counts.index), all_numeric)
        assert order == [label for label, _ in resolved.profile.classes]


def test_a_rerun_on_the_same_file_answers_from_the_cache_without_pandas(tmp_path: Path) -> None:
    import subprocess
    import sys

    from mlops.dataset.resolved_cache import resolve_csv_cached

    path = tmp_path / "data.csv"
    path.write_text("x,c,y\n1,a,Yes\n2,b,No\n3,a,No\n")
    cache = tmp_path / "cache"
    first = resolve_csv_cached(DatasetSchema(target="y"), path, cache)
    assert first == resolve_csv(DatasetSchema(target="y"), path)
    again = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from pathlib import Path; "
            "from mlops.core.settings import DatasetSchema; "
            "from mlops.dataset.resolved_cache import resolve_csv_cached; "
            f"r = resolve_csv_cached(DatasetSchema(target='y'), Path({str(path)!r}), "
            f"Path({str(cache)!r})); "
            "print(r.problem_type, r.positive_label, r.numeric, 'pandas' in sys.modules)",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert again.stdout.split() == ["binary", "Yes", "('x',)", "False"]


def test_an_edited_file_is_resolved_again(tmp_path: Path) -> None:
    from mlops.dataset.resolved_cache import resolve_csv_cached

    path = tmp_path / "data.csv"
    cache = tmp_path / "cache"
    path.write_text("x,y\n1,Yes\n2,No\n")
    assert resolve_csv_cached(DatasetSchema(target="y"), path, cache).problem_type == "binary"
    path.write_text("x,y\n1,red\n2,green\n3,blue\n")
    resolved = resolve_csv_cached(DatasetSchema(target="y"), path, cache)
    assert resolved.problem_type == "multiclass"
    assert resolved == resolve_csv(DatasetSchema(target="y"), path)
