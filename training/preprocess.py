"""Preprocess step (SageMaker scikit-learn 1.9-0 processing container; pandas + numpy only).

Reads every raw CSV (with header) under the input directory, validates it against the dataset
schema given as arguments, and writes the contracts §2 outputs: encoded train/validation/test
splits (no header, 0/1 label first — the XGBoost CSV convention), the raw-feature baseline of
the training split (what the endpoint receives; the DataQualityBaseline input) and
``feature_spec.json`` (§3). The spec is plain JSON, never a pickle, so serving does not depend
on this container's library versions.

Self-contained: imports nothing from the repository. Paths default to the container layout
under ``$SM_PROCESSING_ROOT`` (``/opt/ml/processing`` in SageMaker); every one can also be
given as an argument. A bad input ends the job with exit code 1 and the reason in
``/opt/ml/output/message`` (what DescribeProcessingJob returns as ExitMessage; also the last
stderr line), naming file, column, row (1-based data row, header excluded) and value.

Value rules (shared with inference.py): a cell is *blank* when empty or whitespace only;
values are stripped of surrounding whitespace; a numeric cell must parse as a finite number
(``nan``/``inf`` text is rejected); categories are the sorted distinct stripped values.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import traceback
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

SPEC_VERSION = 1
DEFAULT_ROOT = "/opt/ml/processing"
# xgboost refuses these characters in feature names; encoded names are "<column>=<category>".
_FORBIDDEN_NAME_CHARS = ("[", "]", "<")
_NON_FINITE_TEXT = {
    "nan",
    "+nan",
    "-nan",
    "inf",
    "+inf",
    "-inf",
    "infinity",
    "+infinity",
    "-infinity",
}
_MAX_VALUE_CHARS = 60
# Share of number-text cells from which an undeclared column counts as numeric (see infer_types).
NUMERIC_SHARE = 0.95


class InputError(Exception):
    """Bad input data or arguments; the message is the job's failure reason."""


def main(argv: list[str] | None = None) -> int:
    """Run the step; returns the process exit code."""
    args = _parse_args(argv)
    try:
        spec, counts = preprocess(args)
    except InputError as error:
        return _fail(f"preprocess failed: {error}")
    except Exception as error:  # whatever broke, the job's ExitMessage says what
        traceback.print_exc()
        first_line = (str(error).strip().splitlines() or [""])[0]
        return _fail(f"preprocess failed: {type(error).__name__}: {first_line}")
    print(
        f"wrote train={counts['train']} validation={counts['validation']} test={counts['test']} "
        f"rows, {len(spec['encoded_columns'])} encoded columns from {len(spec['features'])} features"
    )
    return 0


def _fail(reason: str) -> int:
    """Report a failure where SageMaker looks for it: the ExitMessage of DescribeProcessingJob
    is the first 1 KB of ``/opt/ml/output/message`` (next to the processing root; the local
    runtime re-roots both). The reason is also the last stderr line, for the job log."""
    print(reason, file=sys.stderr, flush=True)
    message = Path(os.environ.get("SM_PROCESSING_ROOT", DEFAULT_ROOT)).parent / "output" / "message"
    try:
        message.parent.mkdir(parents=True, exist_ok=True)
        message.write_bytes(reason.encode("utf-8")[:1024])
    except OSError as error:
        print(f"could not write {message}: {error}", file=sys.stderr)
    return 1


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    root = Path(os.environ.get("SM_PROCESSING_ROOT", DEFAULT_ROOT))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", required=True)
    parser.add_argument("--positive-label", required=True)
    parser.add_argument("--drop-columns", default="", help="comma-separated id columns")
    parser.add_argument("--categorical", default=None, help="comma-separated; inferred if absent")
    parser.add_argument("--numeric", default=None, help="comma-separated; inferred if absent")
    parser.add_argument("--validation-fraction", type=float, default=0.15)
    parser.add_argument("--test-fraction", type=float, default=0.15)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--max-categories", type=int, default=1000)
    parser.add_argument("--input-dir", type=Path, default=root / "input")
    for name in ("train", "validation", "test", "baseline", "spec"):
        parser.add_argument(f"--{name}-dir", type=Path, default=root / name)
    return parser.parse_args(argv)


def _names(text: str | None) -> list[str] | None:
    if text is None:
        return None
    return [part.strip() for part in text.split(",") if part.strip()]


def preprocess(args: argparse.Namespace) -> tuple[dict[str, Any], dict[str, int]]:
    """Validate, split, encode and write every output; returns the spec and split sizes."""
    _check_fractions(args.validation_fraction, args.test_fraction)
    raw, origins = read_inputs(args.input_dir)
    drop = _names(args.drop_columns) or []
    categorical = _names(args.categorical)
    numeric = _names(args.numeric)
    _check_columns(raw, args.target, drop, categorical, numeric)

    labels = encode_target(raw[args.target], args.target, args.positive_label, origins)
    feature_names = [c for c in raw.columns if c != args.target and c not in drop]
    if not feature_names:
        raise InputError("no feature columns left after removing the target and drop columns")
    types = infer_types(raw, feature_names, categorical, numeric)
    numbers = {
        name: parse_numeric(raw[name], name, origins)
        for name in feature_names
        if types[name] == "numeric"
    }
    splits = stratified_split(labels, args.validation_fraction, args.test_fraction, args.seed)
    features = _feature_entries(raw, feature_names, types, numbers, splits["train"], args)
    negative = _negative_label(raw[args.target], args.positive_label)
    spec = {
        "spec_version": SPEC_VERSION,
        "target": args.target,
        "positive_label": args.positive_label,
        "negative_label": negative,
        "features": features,
        "encoded_columns": encoded_columns(features),
        "prediction_threshold": 0.5,
    }
    encoded = encode(raw, features, numbers)
    counts = {}
    for split, directory in (
        ("train", args.train_dir),
        ("validation", args.validation_dir),
        ("test", args.test_dir),
    ):
        rows = splits[split]
        _write_encoded(directory / f"{split}.csv", labels[rows], encoded.iloc[rows])
        counts[split] = len(rows)
    baseline = raw.iloc[splits["train"]][feature_names]
    args.baseline_dir.mkdir(parents=True, exist_ok=True)
    baseline.to_csv(args.baseline_dir / "baseline.csv", index=False)
    args.spec_dir.mkdir(parents=True, exist_ok=True)
    (args.spec_dir / "feature_spec.json").write_text(json.dumps(spec, indent=2) + "\n")
    return spec, counts


def _check_fractions(validation: float, test: float) -> None:
    for name, value in (("validation-fraction", validation), ("test-fraction", test)):
        if not 0 < value < 1:
            raise InputError(f"--{name} must be between 0 and 1, got {value}")
    if validation + test >= 1:
        raise InputError(
            f"--validation-fraction + --test-fraction must be below 1, got {validation + test}"
        )


def read_inputs(input_dir: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """All CSVs under ``input_dir`` (sorted by path) as one all-string frame, plus each row's
    file name and 1-based data row for messages."""
    files = sorted(path for path in input_dir.rglob("*.csv") if path.is_file())
    if not files:
        raise InputError(f"no CSV files under {input_dir}")
    frames = []
    origins = []
    columns: list[str] | None = None
    for path in files:
        try:
            frame = pd.read_csv(
                path, dtype=str, keep_default_na=False, na_filter=False, skipinitialspace=False
            )
        except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
            raise InputError(f"{path.name}: not a readable CSV with a header ({error})") from None
        header = [str(c).strip() for c in frame.columns]
        if len(set(header)) != len(header):
            duplicates = sorted({c for c in header if header.count(c) > 1})
            raise InputError(f"{path.name}: duplicate column names {duplicates}")
        frame.columns = pd.Index(header)
        if columns is None:
            columns = header
        elif set(header) != set(columns):
            missing = sorted(set(columns) - set(header))
            extra = sorted(set(header) - set(columns))
            raise InputError(
                f"{path.name}: columns differ from {files[0].name} (missing {missing}, extra {extra})"
            )
        frames.append(frame[columns])
        origins.append(
            pd.DataFrame({"file": path.name, "row": np.arange(1, len(frame) + 1, dtype=np.int64)})
        )
    data = pd.concat(frames, ignore_index=True)
    if data.empty:
        raise InputError(f"the input under {input_dir} has a header but no data rows")
    stripped = data.apply(lambda column: column.str.strip())
    return stripped, pd.concat(origins, ignore_index=True)


def _where(origins: pd.DataFrame, index: int) -> str:
    return f"file {origins['file'].iloc[index]!s}, row {int(origins['row'].iloc[index])}"


def _show(value: str) -> str:
    shown = repr(value)
    return shown if len(shown) <= _MAX_VALUE_CHARS else shown[: _MAX_VALUE_CHARS - 1] + "…"


def _check_columns(
    raw: pd.DataFrame,
    target: str,
    drop: list[str],
    categorical: list[str] | None,
    numeric: list[str] | None,
) -> None:
    present = set(raw.columns)
    for role, names in (
        ("target", [target]),
        ("drop-columns", drop),
        ("categorical", categorical or []),
        ("numeric", numeric or []),
    ):
        missing = [name for name in names if name not in present]
        if missing:
            raise InputError(
                f"column {missing[0]!r} ({role}) is missing from the input; "
                f"its columns are {list(raw.columns)}"
            )
    overlap = set(categorical or []) & set(numeric or [])
    if overlap:
        raise InputError(f"columns {sorted(overlap)} are listed as both categorical and numeric")
    for role, names in (("categorical", categorical or []), ("numeric", numeric or [])):
        clash = [name for name in names if name == target or name in drop]
        if clash:
            raise InputError(
                f"column {clash[0]!r} is listed in {role} and is the target or dropped"
            )


def encode_target(column: pd.Series, name: str, positive: str, origins: pd.DataFrame) -> np.ndarray:
    """Positive label → 1, the one other label → 0; anything else names its row."""
    blank = column == ""
    if blank.any():
        index = int(np.argmax(blank.to_numpy()))
        raise InputError(f"column {name!r}, {_where(origins, index)}: the target is blank")
    is_positive = (column == positive).to_numpy()
    if not is_positive.any():
        raise InputError(
            f"column {name!r}: the positive label {positive!r} never occurs "
            f"(values seen: {sorted(column.unique().tolist())[:10]})"
        )
    negative = _negative_label(column, positive)
    if negative is None:
        raise InputError(f"column {name!r}: every row has the positive label; need both classes")
    unknown = ~is_positive & (column != negative).to_numpy()
    if unknown.any():
        index = int(np.argmax(unknown))
        raise InputError(
            f"column {name!r}, {_where(origins, index)}: value {_show(column.iloc[index])} is "
            f"not a known label (positive {positive!r}, negative {negative!r})"
        )
    return is_positive.astype(np.int64)


def _negative_label(column: pd.Series, positive: str) -> str | None:
    """The most frequent non-positive value (ties: the smallest); None when there is none."""
    others = column[column != positive].value_counts()
    if others.empty:
        return None
    best = others.max()
    return min(str(value) for value, count in others.items() if count == best)


def _is_number_text(column: pd.Series) -> pd.Series:
    """True where a non-blank cell parses as a number (finite or not)."""
    return pd.to_numeric(column, errors="coerce").notna() | column.str.lower().isin(
        _NON_FINITE_TEXT
    )


def infer_types(
    raw: pd.DataFrame,
    feature_names: list[str],
    categorical: list[str] | None,
    numeric: list[str] | None,
) -> dict[str, str]:
    """Declared types win. Otherwise a column is numeric when its non-blank cells are number
    text, at least one finite; "nearly all" (NUMERIC_SHARE) counts too, so that a typo or a
    stray ``nan`` is reported by parse_numeric instead of silently turning a numeric column
    into a categorical one (declare the column categorical to override)."""
    types: dict[str, str] = {}
    for name in feature_names:
        if categorical and name in categorical:
            types[name] = "categorical"
        elif numeric and name in numeric:
            types[name] = "numeric"
        else:
            column = raw[name]
            filled = column[column != ""]
            numbers = pd.to_numeric(filled, errors="coerce").to_numpy(
                dtype=np.float64, na_value=np.nan
            )
            share = float(_is_number_text(filled).mean()) if len(filled) else 0.0
            numeric_like = share >= NUMERIC_SHARE and bool(np.isfinite(numbers).any())
            types[name] = "numeric" if numeric_like else "categorical"
    return types


def parse_numeric(column: pd.Series, name: str, origins: pd.DataFrame) -> np.ndarray:
    """Cells as float64, blank → NaN; text or nan/inf → an error naming row and value."""
    numbers = pd.to_numeric(column.where(column != "", None), errors="coerce").to_numpy(
        dtype=np.float64, na_value=np.nan
    )
    invalid = (column != "").to_numpy() & ~np.isfinite(numbers)
    if invalid.any():
        index = int(np.argmax(invalid))
        raise InputError(
            f"column {name!r}, {_where(origins, index)}: value {_show(column.iloc[index])} is "
            "not a finite number (numeric column; leave the cell blank for a missing value)"
        )
    return numbers


def stratified_split(
    labels: np.ndarray, validation: float, test: float, seed: int
) -> dict[str, np.ndarray]:
    """Seeded split that keeps each class's share in every part; row order within a part is
    the input order, so the outputs are reproducible byte for byte."""
    rng = np.random.default_rng(seed)
    parts: dict[str, list[np.ndarray]] = {"train": [], "validation": [], "test": []}
    for value in (0, 1):
        members = rng.permutation(np.flatnonzero(labels == value))
        n_test = round(len(members) * test)
        n_validation = round(len(members) * validation)
        parts["test"].append(members[:n_test])
        parts["validation"].append(members[n_test : n_test + n_validation])
        parts["train"].append(members[n_test + n_validation :])
    splits = {name: np.sort(np.concatenate(chunks)) for name, chunks in parts.items()}
    for name, rows in splits.items():
        if len(np.unique(labels[rows])) < 2:
            raise InputError(
                f"the {name} split would not hold both classes ({len(labels)} rows, "
                f"{int(labels.sum())} positive): provide more data"
            )
    return splits


def _feature_entries(
    raw: pd.DataFrame,
    feature_names: list[str],
    types: dict[str, str],
    numbers: dict[str, np.ndarray],
    train_rows: np.ndarray,
    args: argparse.Namespace,
) -> list[dict[str, Any]]:
    features: list[dict[str, Any]] = []
    for name in feature_names:
        if types[name] == "numeric":
            values = numbers[name][train_rows]
            median = float(np.nanmedian(values)) if np.isfinite(values).any() else None
            features.append({"name": name, "type": "numeric", "median": median})
            continue
        column = raw[name]
        categories = sorted(str(v) for v in column[column != ""].unique())
        if len(categories) > args.max_categories:
            raise InputError(
                f"column {name!r} has {len(categories)} distinct values (over "
                f"--max-categories {args.max_categories}): an identifier? add it to "
                "drop-columns, or list it as numeric"
            )
        for category in categories:
            if any(char in category for char in _FORBIDDEN_NAME_CHARS) or "=" in name:
                raise InputError(
                    f"column {name!r}: value {_show(category)} cannot name an XGBoost feature "
                    f"(no {''.join(_FORBIDDEN_NAME_CHARS)} in categories, no '=' in column names)"
                )
        features.append({"name": name, "type": "categorical", "categories": categories})
    for feature in features:
        if any(c in feature["name"] for c in _FORBIDDEN_NAME_CHARS):
            raise InputError(f"column {feature['name']!r} cannot name an XGBoost feature")
    return features


def encoded_columns(features: list[dict[str, Any]]) -> list[str]:
    """The booster's feature order: numeric as is, categorical one column per category."""
    names: list[str] = []
    for feature in features:
        if feature["type"] == "numeric":
            names.append(feature["name"])
        else:
            names += [f"{feature['name']}={category}" for category in feature["categories"]]
    return names


def encode(
    raw: pd.DataFrame, features: list[dict[str, Any]], numbers: dict[str, np.ndarray]
) -> pd.DataFrame:
    """Encoded feature frame in ``encoded_columns`` order (numeric float, one-hot int)."""
    blocks: dict[str, Any] = {}
    for feature in features:
        name = feature["name"]
        if feature["type"] == "numeric":
            blocks[name] = numbers[name]
            continue
        column = raw[name].to_numpy()
        for category in feature["categories"]:
            blocks[f"{name}={category}"] = (column == category).astype(np.int8)
    return pd.DataFrame(blocks)


def _write_encoded(path: Path, labels: np.ndarray, encoded: pd.DataFrame) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    frame = encoded.reset_index(drop=True)
    frame.insert(0, "__label__", labels)
    frame.to_csv(path, header=False, index=False, na_rep="", float_format="%.10g")


if __name__ == "__main__":
    sys.exit(main())
