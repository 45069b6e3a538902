"""Build a real model artifact for the serving tests, independently of ``training/``.

It follows the artifact contract (contracts §3 encoding, §4 layout) with its own pandas
encoder, so a test comparing endpoint output with ``booster.inplace_predict`` on rows encoded
here checks inference.py's encoder against the contract rather than against itself.
"""

from __future__ import annotations

import json
import tarfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import xgboost as xgb

from mlops.core.problem_types import ProblemType
from mlops.dataset.example import TARGETS
from mlops.dataset.generator import generate_chunks

REPO_ROOT = Path(__file__).resolve().parents[2]
HANDLERS = REPO_ROOT / "inference" / "inference.py"
NUMERIC = (
    "age",
    "tenure_months",
    "monthly_charges",
    "total_charges",
    "support_calls",
    "num_products",
    "data_usage_gb",
    "last_login_days",
    "senior_citizen",
)
CATEGORICAL = ("contract", "internet_service", "payment_method", "paperless_billing", "region")
FEATURES = (*NUMERIC[:4], *NUMERIC[4:], *CATEGORICAL)


@dataclass(frozen=True)
class BuiltModel:
    archive: Path
    booster: xgb.Booster
    spec: dict[str, object]
    raw: pd.DataFrame  # raw feature rows (strings, blanks for missing), in spec order

    def encode(self, frame: pd.DataFrame) -> np.ndarray:
        return encode_frame(frame, self.spec)


def raw_rows(rows: int, seed: int, problem_type: ProblemType = "binary") -> pd.DataFrame:
    """Generated data as the endpoint receives it: feature columns as text, blanks missing;
    the problem type's target column last."""
    chunks = generate_chunks(rows, seed, problem_type=problem_type)
    table = pd.concat([chunk.to_pandas() for chunk in chunks]).reset_index(drop=True)
    raw = table[list(FEATURES)].astype(object).where(table[list(FEATURES)].notna(), "")
    raw = raw.map(lambda value: value if isinstance(value, str) else repr(value))
    target = TARGETS[problem_type]
    raw[target] = table[target]
    return raw


def build_spec(frame: pd.DataFrame, problem_type: ProblemType = "binary") -> dict[str, object]:
    features: list[dict[str, object]] = []
    encoded: list[str] = []
    for name in FEATURES:
        if name in NUMERIC:
            values = pd.to_numeric(frame[name].replace("", np.nan))
            features.append({"name": name, "type": "numeric", "median": float(values.median())})
            encoded.append(name)
        else:
            categories = sorted(set(frame[name]) - {""})
            features.append({"name": name, "type": "categorical", "categories": categories})
            encoded.extend(f"{name}={category}" for category in categories)
    target = TARGETS[problem_type]
    by_type: dict[str, object] = {"positive_label": "Yes"}
    if problem_type == "multiclass":
        by_type = {"classes": sorted(set(frame[target]))}
    elif problem_type == "regression":
        by_type = {}
    return {
        "spec_version": 2,
        "target": target,
        "problem_type": problem_type,
        **by_type,
        "features": features,
        "encoded_columns": encoded,
        "prediction_threshold": 0.5,
    }


def encode_frame(frame: pd.DataFrame, spec: dict[str, object]) -> np.ndarray:
    parts: list[np.ndarray] = []
    for feature in spec["features"]:  # type: ignore[attr-defined]
        column = frame[feature["name"]].astype(str).str.strip()
        if feature["type"] == "numeric":
            parts.append(pd.to_numeric(column.replace("", np.nan)).to_numpy(np.float64)[:, None])
        else:
            parts.append(
                np.stack([(column == c).to_numpy() for c in feature["categories"]], axis=1)
            )
    return np.hstack(parts).astype(np.float32)


def build_model(
    directory: Path,
    *,
    rows: int = 400,
    seed: int = 7,
    code: bool = True,
    problem_type: ProblemType = "binary",
) -> BuiltModel:
    """Train a small booster on generated rows and pack it as contracts §4 says."""
    raw = raw_rows(rows, seed, problem_type)
    spec = build_spec(raw, problem_type)
    matrix = encode_frame(raw, spec)
    target = raw[TARGETS[problem_type]]
    params: dict[str, object] = {"max_depth": 3, "eta": 0.3, "nthread": 1, "seed": 0}
    if problem_type == "binary":
        labels = (target == "Yes").to_numpy(np.float32)
        params["objective"] = "binary:logistic"
    elif problem_type == "multiclass":
        classes = list(spec["classes"])  # type: ignore[call-overload]
        labels = target.map(classes.index).to_numpy(np.float32)
        params.update(objective="multi:softprob", num_class=len(classes))
    else:
        labels = pd.to_numeric(target).to_numpy(np.float32)
        params["objective"] = "reg:squarederror"
    dtrain = xgb.DMatrix(matrix, label=labels, feature_names=list(spec["encoded_columns"]))  # type: ignore[call-overload]
    booster = xgb.train(params, dtrain, num_boost_round=20)
    model_dir = directory / "model"
    (model_dir / "code").mkdir(parents=True, exist_ok=True)
    booster.save_model(str(model_dir / "xgboost-model"))
    (model_dir / "feature_spec.json").write_text(json.dumps(spec, indent=2))
    if code:
        (model_dir / "code" / "inference.py").write_bytes(HANDLERS.read_bytes())
    archive = directory / "model.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(model_dir / "xgboost-model", arcname="xgboost-model")
        tar.add(model_dir / "feature_spec.json", arcname="feature_spec.json")
        if code:
            tar.add(model_dir / "code" / "inference.py", arcname="code/inference.py")
    return BuiltModel(archive, booster, spec, raw.drop(columns=[TARGETS[problem_type]]))


def failing_model(directory: Path) -> Path:
    """A ``model.tar.gz`` whose handlers raise on every request: a model failure, not bad input."""
    code = directory / "code"
    code.mkdir(parents=True, exist_ok=True)
    (code / "inference.py").write_text(
        "def model_fn(model_dir):\n    return None\n\n\n"
        "def transform_fn(model, body, content_type, accept):\n"
        "    raise RuntimeError('the model broke')\n"
    )
    archive = directory / "model.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(code / "inference.py", arcname="code/inference.py")
    return archive
