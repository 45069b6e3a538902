"""The embedded dataset: deterministic bytes, the promised shape, and a learnable signal."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pandas as pd
import pytest

from mlops.dataset.example import COLUMNS
from mlops.dataset.generator import write_csv


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("data") / "churn.csv"
    write_csv(path, rows=30_000, seed=7)
    return path


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_same_seed_gives_same_bytes(tmp_path: Path) -> None:
    write_csv(tmp_path / "a.csv", rows=2_500, seed=3)
    write_csv(tmp_path / "b.csv", rows=2_500, seed=3)
    assert _digest(tmp_path / "a.csv") == _digest(tmp_path / "b.csv")


def test_different_seed_gives_different_rows(tmp_path: Path) -> None:
    write_csv(tmp_path / "a.csv", rows=500, seed=3)
    write_csv(tmp_path / "b.csv", rows=500, seed=4)
    assert _digest(tmp_path / "a.csv") != _digest(tmp_path / "b.csv")


def test_first_rows_do_not_depend_on_total_size(tmp_path: Path) -> None:
    write_csv(tmp_path / "small.csv", rows=1_000, seed=5)
    write_csv(tmp_path / "large.csv", rows=150_000, seed=5)
    small = (tmp_path / "small.csv").read_text().splitlines()
    with (tmp_path / "large.csv").open() as large:
        head = [next(large).rstrip("\n") for _ in range(len(small))]
    assert head == small


def test_table_has_header_id_mixed_types_and_string_target(sample: Path) -> None:
    frame = pd.read_csv(sample)
    assert tuple(frame.columns) == COLUMNS
    assert frame["customer_id"].is_unique
    assert set(frame["churn"]) == {"Yes", "No"}
    assert frame["contract"].dtype != "float64"
    assert frame["monthly_charges"].dtype == "float64"


def test_some_numeric_cells_are_blank(sample: Path) -> None:
    frame = pd.read_csv(sample)
    assert 0.005 < frame["total_charges"].isna().mean() < 0.1
    assert 0.02 < frame["data_usage_gb"].isna().mean() < 0.1
    assert frame["age"].notna().all()


def test_positive_class_is_a_minority(sample: Path) -> None:
    rate = (pd.read_csv(sample)["churn"] == "Yes").mean()
    assert 0.2 <= rate <= 0.3


def test_a_model_can_learn_the_signal(sample: Path) -> None:
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.metrics import roc_auc_score

    frame = pd.read_csv(sample)
    target = (frame.pop("churn") == "Yes").astype(int)
    features = frame.drop(columns=["customer_id"])
    for column in features.select_dtypes(include=["object", "string"]).columns:
        features[column] = features[column].astype("category")
    split = 20_000
    model = HistGradientBoostingClassifier(
        max_depth=5, learning_rate=0.1, categorical_features="from_dtype"
    )
    model.fit(features[:split], target[:split])
    auc = roc_auc_score(target[split:], model.predict_proba(features[split:])[:, 1])
    assert 0.85 <= auc <= 0.93


def test_rejects_zero_rows(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="rows must be between 1 and 10,000,000"):
        write_csv(tmp_path / "x.csv", rows=0, seed=1)
    assert not (tmp_path / "x.csv").exists()


@pytest.mark.parametrize(
    ("problem_type", "target", "values"),
    [
        ("multiclass", "churn_risk", {"low", "medium", "high"}),
        ("regression", "lifetime_value", None),
    ],
)
def test_each_problem_type_gets_its_target_and_the_same_features(
    tmp_path: Path, problem_type: str, target: str, values: set[str] | None
) -> None:
    write_csv(tmp_path / "binary.csv", rows=2_000, seed=3)
    write_csv(tmp_path / "other.csv", rows=2_000, seed=3, problem_type=problem_type)  # type: ignore[arg-type]
    binary, other = pd.read_csv(tmp_path / "binary.csv"), pd.read_csv(tmp_path / "other.csv")
    assert tuple(other.columns) == (*COLUMNS[:-1], target)
    pd.testing.assert_frame_equal(binary.iloc[:, :-1], other.iloc[:, :-1])
    if values is not None:
        assert set(other[target]) == values
        assert other[target].value_counts(normalize=True).min() > 0.15
    else:
        assert other[target].dtype == "float64"
        assert other[target].min() > 0
        # The value follows the features: monthly charges explain a good part of it.
        assert other[target].corr(other["monthly_charges"]) > 0.3
