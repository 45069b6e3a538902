"""Application traffic for the demo: a batch like the training data and a drifted one.

Rows are taken from the same generator with a seed the model never saw, as text exactly as a
CSV holds it, so what the endpoint receives is what an application would send. The drifted
batch changes what each monitor must notice in real life: one flat price for everyone, tenure
down, a contract mix that moved, a column that stopped being filled in, many more support calls,
single-product customers and logins far apart (data quality, and a different ranking of the
features that drive the predictions: feature attribution drift); and half the customers are
seniors, nine in ten of whom churn (a facet that shifted: bias drift).
"""

from __future__ import annotations

import json
import tarfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from mlops.core.errors import UserError
from mlops.core.problem_types import ProblemType
from mlops.dataset.generator import write_csv
from monitoring.ground_truth import RowKey, row_key

DRIFTED_COLUMNS = (
    "monthly_charges",
    "tenure_months",
    "contract",
    "total_charges",
    "support_calls",
    "num_products",
    "last_login_days",
    "senior_citizen",
)
# The facet the drifted window shifts (the example project's bias facet, cdk.json).
SHIFTED_FACET = "senior_citizen"
FLAT_PRICE = "79.99"


@dataclass(frozen=True)
class TrafficBatch:
    """Raw feature rows as CSV text cells ("" = missing), in the model's feature order."""

    name: str
    features: tuple[str, ...]
    rows: list[list[str]]
    labels: list[str]

    def labels_by_row(self) -> dict[RowKey, str]:
        """Each row's true label, keyed by its content: what a labelling process knows."""
        return {row_key(row): label for row, label in zip(self.rows, self.labels, strict=True)}


def feature_order(model_archive: Path) -> tuple[str, ...]:
    """The raw feature order the endpoint accepts, from the model's own feature spec."""
    with tarfile.open(model_archive) as archive:
        try:
            member = archive.extractfile("feature_spec.json")
        except KeyError:
            member = None
        if member is None:
            raise UserError(f"{model_archive} has no feature_spec.json")
        spec = json.loads(member.read())
    return tuple(str(feature["name"]) for feature in spec["features"])


def clean_batch(
    features: tuple[str, ...],
    target: str,
    rows: int,
    seed: int,
    scratch: Path,
    problem_type: ProblemType = "binary",
) -> TrafficBatch:
    """Fresh rows from the training distribution (another seed)."""
    frame = _generate(rows, seed, scratch, problem_type)
    return _batch("clean", frame, features, target)


def drifted_batch(
    features: tuple[str, ...],
    target: str,
    rows: int,
    seed: int,
    scratch: Path,
    problem_type: ProblemType = "binary",
    *,
    positive_outcome: str,
) -> TrafficBatch:
    """Rows whose distribution moved away from training on `DRIFTED_COLUMNS`; half of them
    seniors (`SHIFTED_FACET`), whose true outcome is ``positive_outcome`` nine times in ten."""
    frame = _generate(rows, seed, scratch, problem_type)
    rng = np.random.default_rng(seed)
    frame["monthly_charges"] = FLAT_PRICE
    tenure = pd.to_numeric(frame["tenure_months"])
    frame["tenure_months"] = (tenure // 4).astype(int).astype(str)
    frame["contract"] = np.where(rng.random(len(frame)) < 0.9, "Month-to-month", frame["contract"])
    frame.loc[rng.random(len(frame)) < 0.5, "total_charges"] = ""
    calls = pd.to_numeric(frame["support_calls"])
    frame["support_calls"] = (calls + 5).astype(str)
    frame["num_products"] = np.where(rng.random(len(frame)) < 0.7, "1", frame["num_products"])
    logins = pd.to_numeric(frame["last_login_days"])
    frame["last_login_days"] = (logins * 4).astype(int).astype(str)
    senior = rng.random(len(frame)) < 0.5
    frame[SHIFTED_FACET] = np.where(senior, "1", "0")
    churned = senior & (rng.random(len(frame)) < 0.9)
    frame[target] = np.where(churned, positive_outcome, frame[target])
    return _batch("drifted", frame, features, target)


def _generate(rows: int, seed: int, scratch: Path, problem_type: ProblemType) -> pd.DataFrame:
    path = scratch / f"traffic-{seed}.csv"
    write_csv(path, rows=rows, seed=seed, problem_type=problem_type)
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def _batch(name: str, frame: pd.DataFrame, features: tuple[str, ...], target: str) -> TrafficBatch:
    missing = [column for column in features if column not in frame.columns]
    if missing:
        raise ValueError(f"the demo traffic has no columns {missing}: the model expects {features}")
    rows = frame.loc[:, list(features)].astype(str).values.tolist()
    return TrafficBatch(name=name, features=features, rows=rows, labels=frame[target].tolist())
