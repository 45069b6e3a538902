"""Schema resolution: roles and types from the configured schema and the data itself."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from mlops.core.errors import UserError
from mlops.core.settings import DatasetSchema
from mlops.dataset.schema import resolve_csv, resolve_schema


def _frame(**columns: list[str]) -> pd.DataFrame:
    return pd.DataFrame(columns, dtype=str)


def test_numeric_columns_are_inferred_from_values_blanks_included() -> None:
    frame = _frame(
        id=["1", "2", "3"], x=["1.5", None, "3"], c=["a", "b", "a"], y=["Yes", "No", "No"]
    )
    resolved = resolve_schema(DatasetSchema(target="y", drop_columns=("id",)), frame)
    assert resolved.numeric == ("x",)
    assert resolved.categorical == ("c",)
    assert resolved.features == ("x", "c")


def test_numeric_looking_codes_can_be_declared_categorical() -> None:
    frame = _frame(zip=["10115", "20095"], y=["1", "0"])
    schema = DatasetSchema(target="y", positive_label="1", drop_columns=(), categorical=("zip",))
    assert resolve_schema(schema, frame).categorical == ("zip",)


def test_text_in_a_numeric_looking_column_makes_it_categorical() -> None:
    frame = _frame(v=["1", "2", "n/a"], y=["True", "False", "True"])
    schema = DatasetSchema(target="y", positive_label="True", drop_columns=())
    assert resolve_schema(schema, frame).categorical == ("v",)


def test_missing_schema_column_is_a_user_error() -> None:
    frame = _frame(a=["1"], y=["Yes"])
    with pytest.raises(UserError, match=r"\['customer_id'\] are named in the dataset schema"):
        resolve_schema(DatasetSchema(target="y"), frame)


def test_positive_label_absent_from_target_is_a_user_error() -> None:
    frame = _frame(a=["1", "2"], y=["churned", "stayed"])
    with pytest.raises(UserError, match=r"positive label 'Yes' does not occur.*churned, stayed"):
        resolve_schema(DatasetSchema(target="y", drop_columns=()), frame)


def test_unreadable_csv_is_a_user_error(tmp_path: Path) -> None:
    path = tmp_path / "empty.csv"
    path.write_text("")
    with pytest.raises(UserError, match="not a readable CSV"):
        resolve_csv(DatasetSchema(), path)


def test_one_typo_in_a_numeric_column_keeps_it_numeric() -> None:
    values = [str(v) for v in range(40)] + ["forty"]
    frame = _frame(v=values, y=["Yes"] * len(values))
    schema = DatasetSchema(target="y", drop_columns=())
    assert resolve_schema(schema, frame).numeric == ("v",)


def test_inference_agrees_with_the_preprocess_script(tmp_path: Path) -> None:
    from mlops.dataset.generator import write_csv
    from training import preprocess

    path = tmp_path / "churn.csv"
    write_csv(path, rows=400, seed=2)
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    frame.loc[3, "age"] = "unknown"  # a typo: still numeric on both sides
    frame["all_blank"] = ""
    schema = DatasetSchema()
    resolved = resolve_schema(schema, frame)
    container_types = preprocess.infer_types(frame, list(resolved.features), None, None)
    assert {n for n, t in container_types.items() if t == "numeric"} == set(resolved.numeric)
    assert {n for n, t in container_types.items() if t == "categorical"} == set(
        resolved.categorical
    )
