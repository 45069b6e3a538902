"""Preprocess step (SageMaker scikit-learn 1.9-0 processing container; pandas + numpy only).

Reads every raw CSV (with header) under the input directory, validates it against the dataset
schema given as arguments, and writes the contracts §2 outputs: encoded train/validation/test
splits (no header, label first — the XGBoost CSV convention: 0/1 for binary, the class index
for multiclass, the value for regression), the raw-feature baseline of the training split (what
the endpoint receives; the DataQualityBaseline input) and ``feature_spec.json`` (§3). The spec
is plain JSON, never a pickle, so serving does not depend on this container's library versions.

The problem type (``--problem-type``) and, for binary, the positive label are inferred from the
target when not given, by the rules of ``mlops.dataset.schema`` (contracts §1; a contract test
keeps the two copies in agreement). A feature that is blank in every row is kept (a column not
filled in yet must not break a pipeline) but reported: a ``warning:`` line in the job log and
the spec's ``warnings``, which the run summary shows.

One instance: the fit needs every row, so a job with several hosts (``resourceconfig.json``)
fails at once saying so. Training scales out instead: ``--parts N`` writes the train and
validation splits as N files each (``train-part-1.csv`` …), which a ``ShardedByS3Key`` channel
spreads over N training instances; the default, 1, writes ``train.csv`` / ``validation.csv``.

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
import csv
import functools
import io
import json
import os
import re
import sys
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

SPEC_VERSION = 2
DEFAULT_ROOT = "/opt/ml/processing"
PROBLEM_TYPES = ("binary", "multiclass", "regression")
MAX_INTEGER_CLASSES = 20
MAX_CLASSES = 100
# One-vs-rest (binary with more values): each rest value in at least this share of rows.
MIN_REST_SHARE = 0.01
MIN_REST_ROWS = 2
_POSITIVE_WORDS = (("yes", "no"), ("true", "false"), ("y", "n"), ("positive", "negative"))
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
# Splits a multi-instance training job shards between its instances (--parts).
PART_SPLITS = ("train", "validation")
# Bytes of CSV lines built at once by the writers (bounds the memory of a large split).
_WRITE_BLOCK_BYTES = 16 << 20
# Largest byte matrix of merged neighbouring columns the writers build (see _CsvColumns).
_MERGE_MAX_BYTES = 4 << 20
# Pads the writers' byte matrices: a byte that never occurs in UTF-8.
_PAD = 0xFF
# Characters that make the csv module quote a field (delimiter, quote, line ends).
_CSV_SPECIAL = re.compile('[,"\n\r]')


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
    for warning in spec["warnings"]:
        print(f"warning: {warning}", flush=True)
    print(
        f"{spec['problem_type']} target {spec['target']!r}: wrote train={counts['train']} "
        f"validation={counts['validation']} test={counts['test']} rows, "
        f"{len(spec['encoded_columns'])} encoded columns from {len(spec['features'])} features"
    )
    return 0


def _fail(reason: str) -> int:
    """Report a failure where SageMaker looks for it: the ExitMessage of DescribeProcessingJob
    is the first 1 KB of ``/opt/ml/output/message`` (next to the processing root; the local
    runtime re-roots both). The reason is also the last stderr line, for the job log; it is
    one line, whatever the message it quotes (pandas ends its parser errors with a newline)."""
    reason = " ".join(reason.split())
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
    parser.add_argument("--problem-type", choices=PROBLEM_TYPES, default=None)
    parser.add_argument("--positive-label", default=None, help="binary; inferred if absent")
    parser.add_argument("--drop-columns", default="", help="comma-separated id columns")
    parser.add_argument("--categorical", default=None, help="comma-separated; inferred if absent")
    parser.add_argument("--numeric", default=None, help="comma-separated; inferred if absent")
    parser.add_argument("--validation-fraction", type=float, default=0.15)
    parser.add_argument("--test-fraction", type=float, default=0.15)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--max-categories", type=int, default=1000)
    parser.add_argument(
        "--parts", type=int, default=1, help="files per train/validation split (one per instance)"
    )
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
    _check_one_instance(_processing_hosts())
    _check_fractions(args.validation_fraction, args.test_fraction)
    if args.parts < 1:
        raise InputError(f"--parts must be at least 1, got {args.parts}")
    raw, origins = read_inputs(args.input_dir)
    drop = _names(args.drop_columns) or []
    categorical = _names(args.categorical)
    numeric = _names(args.numeric)
    _check_columns(raw, args.target, drop, categorical, numeric)

    target_column = raw[args.target]
    target = encode_target(
        target_column, args.target, args.problem_type, args.positive_label, origins
    )
    feature_names = [c for c in raw.columns if c != args.target and c not in drop]
    if not feature_names:
        raise InputError("no feature columns left after removing the target and drop columns")
    types = infer_types(raw, feature_names, categorical, numeric)
    numbers = {
        name: parse_numeric(raw[name], name, origins)
        for name in feature_names
        if types[name] == "numeric"
    }
    splits = split_rows(target, args.validation_fraction, args.test_fraction, args.seed)
    features = _feature_entries(raw, feature_names, types, numbers, splits["train"], args)
    spec = {
        "spec_version": SPEC_VERSION,
        "target": args.target,
        "problem_type": target.problem_type,
        **target.spec_entries(),
        "features": features,
        "encoded_columns": encoded_columns(features),
        "prediction_threshold": 0.5,
        "warnings": blank_feature_warnings(raw, feature_names),
    }
    encoded = _CsvColumns(
        [
            _label_text(target, target_column),
            *(
                _encoded_text(raw[feature["name"]], feature)
                for feature in features
                if feature["type"] == "numeric" or feature["categories"]  # blank: encodes to none
            ),
        ]
    )
    counts = {}
    for split, directory in (
        ("train", args.train_dir),
        ("validation", args.validation_dir),
        ("test", args.test_dir),
    ):
        rows = splits[split]
        parts = args.parts if split in PART_SPLITS else 1
        for name, block in _parts(split, rows, parts):
            encoded.write(directory / name, block)
        counts[split] = len(rows)
    args.baseline_dir.mkdir(parents=True, exist_ok=True)
    _write_baseline(args.baseline_dir / "baseline.csv", raw, feature_names, splits["train"])
    args.spec_dir.mkdir(parents=True, exist_ok=True)
    (args.spec_dir / "feature_spec.json").write_text(json.dumps(spec, indent=2) + "\n")
    return spec, counts


def _processing_hosts() -> list[str]:
    """The job's hosts, from the ``resourceconfig.json`` SageMaker writes next to the
    processing root (one host when there is none: run by hand)."""
    root = Path(os.environ.get("SM_PROCESSING_ROOT", DEFAULT_ROOT))
    try:
        config = json.loads((root.parent / "config" / "resourceconfig.json").read_text())
    except (OSError, ValueError):
        return []
    return [str(host) for host in config.get("hosts", [])]


def _check_one_instance(hosts: list[str]) -> None:
    """The fit — types, categories, medians, the seeded split — needs every row in one place:
    several instances would each fit their own shard and write clashing files."""
    if len(hosts) > 1:
        raise InputError(
            f"preprocessing runs on one instance, this job has {len(hosts)} "
            f"({', '.join(hosts)}): set ProcessingInstanceCount to 1; training scales out "
            "(TrainingInstanceCount, with --parts to split the data between its instances)"
        )


def _parts(split: str, rows: np.ndarray, parts: int) -> list[tuple[str, np.ndarray]]:
    """File names and rows of a split: ``<split>.csv``, or with ``--parts`` N > 1 the rows in
    N consecutive blocks ``<split>-part-1.csv`` … (a sharded channel gives each training
    instance its files)."""
    if parts == 1:
        return [(f"{split}.csv", rows)]
    return [
        (f"{split}-part-{index}.csv", block)
        for index, block in enumerate(np.array_split(rows, parts), start=1)
    ]


def blank_feature_warnings(raw: Any, feature_names: list[str]) -> list[str]:
    """One warning per feature without a single value: the model cannot learn from it."""
    return [
        f"feature {name!r} is blank in every row: it carries no signal (the model ignores it); "
        "drop it (drop_columns) or fill it"
        for name in feature_names
        if not (distinct(raw[name]).values != "").any()
    ]


def _check_fractions(validation: float, test: float) -> None:
    for name, value in (("validation-fraction", validation), ("test-fraction", test)):
        if not 0 < value < 1:
            raise InputError(f"--{name} must be between 0 and 1, got {value}")
    if validation + test >= 1:
        raise InputError(
            f"--validation-fraction + --test-fraction must be below 1, got {validation + test}"
        )


def read_inputs(input_dir: Path) -> tuple[Table, Origins]:
    """All CSVs under ``input_dir`` (sorted by path) as one table of stripped text columns,
    plus each row's file name and 1-based data row for messages.

    Cells are read as Python strings (``dtype=object``: with ``na_filter`` off every cell is
    one, and pandas 3 would otherwise build Arrow strings only to convert them back); a column
    is factorized when first used, so a dropped identifier costs no pass."""
    files = sorted(path for path in input_dir.rglob("*.csv") if path.is_file())
    if not files:
        raise InputError(f"no CSV files under {input_dir}")
    frames = []
    columns: list[str] | None = None
    for path in files:
        header = _header(path)
        try:
            frame = pd.read_csv(
                path, dtype=object, keep_default_na=False, na_filter=False, skipinitialspace=False
            )
        except pd.errors.ParserError as error:
            raise InputError(f"{path.name}: {_parser_problem(str(error), len(header))}") from None
        except (pd.errors.EmptyDataError, UnicodeDecodeError) as error:
            raise InputError(
                f"{path.name}: not a readable CSV with a header ({_one_line(str(error))})"
            ) from None
        frame.columns = pd.Index(header)
        if columns is None:
            columns = header
        elif set(header) != set(columns):
            missing = sorted(set(columns) - set(header))
            extra = sorted(set(header) - set(columns))
            raise InputError(
                f"{path.name}: columns differ from {files[0].name} (missing {missing}, extra {extra})"
            )
        frames.append(frame)
    origins = Origins([path.name for path in files], [len(frame) for frame in frames])
    if not origins.rows:
        raise InputError(f"the input under {input_dir} has a header but no data rows")
    return Table(columns=columns or [], frames=frames, rows=origins.rows), origins


@dataclass(frozen=True)
class Distinct:
    """A text column as its distinct values and, per row, which of them it holds.

    Every rule is applied to the distinct values (a few thousand where the rows are a million)
    and carried to the rows through ``codes``: stripping, number parsing, type inference,
    categories and the encoded text all cost a pass over the distinct values plus an array
    lookup, not a Python call per cell."""

    codes: np.ndarray  # per row: an index into values
    values: np.ndarray  # object array of distinct strings

    @classmethod
    def of(cls, column: Any, *, strip: bool = False) -> Distinct:
        column = column if isinstance(column, pd.Series) else pd.Series(column, dtype=object)
        codes, values = pd.factorize(column)
        if (codes < 0).any():  # missing values (not from read_inputs): one value of their own
            codes, values = pd.factorize(np.asarray(column, dtype=object), use_na_sentinel=False)
        values = np.asarray(values, dtype=object)
        if strip:
            stripped = np.array([str(value).strip() for value in values], dtype=object)
            if (stripped != values).any():  # " a" and "a" become one value
                merged, values = pd.factorize(stripped, use_na_sentinel=False)
                codes = merged[codes]
                values = np.asarray(values, dtype=object)
        return cls(np.asarray(codes, dtype=np.intp), values)

    def counts(self) -> np.ndarray:
        """How many rows hold each distinct value."""
        return np.bincount(self.codes, minlength=len(self.values))

    @functools.cached_property
    def numbers(self) -> np.ndarray:
        """Each distinct value as pandas reads a number (NaN where it is not one)."""
        return pd.to_numeric(pd.Series(self.values), errors="coerce").to_numpy(
            dtype=np.float64, na_value=np.nan
        )


def distinct(column: Any) -> Distinct:
    """A column of a `Table` as it is, a text column (e.g. a DataFrame's) factorized."""
    return column if isinstance(column, Distinct) else Distinct.of(column)


@dataclass(frozen=True)
class Table:
    """The input: its header (every column, in the first file's order) and the columns as
    `Distinct` values, stripped; each built from the files' text on first use."""

    columns: list[str]
    frames: list[pd.DataFrame]  # one a file, in file order
    rows: int
    _distinct: dict[str, Distinct] = field(default_factory=dict, repr=False, compare=False)

    def __getitem__(self, name: str) -> Distinct:
        if name not in self._distinct:
            if name not in self.columns:
                raise KeyError(name)
            parts = [frame[name] for frame in self.frames]
            text = parts[0] if len(parts) == 1 else pd.concat(parts, ignore_index=True)
            self._distinct[name] = Distinct.of(text, strip=True)
        return self._distinct[name]

    def __len__(self) -> int:
        return self.rows


class Origins:
    """Where each row of the table comes from: file name and 1-based data row, for messages."""

    def __init__(self, files: list[str], rows: list[int]) -> None:
        self.files = files
        self.starts = np.cumsum([0, *rows])
        self.rows = int(self.starts[-1])

    def where(self, index: int) -> str:
        file = int(np.searchsorted(self.starts, index, side="right")) - 1
        return f"file {self.files[file]}, row {index - int(self.starts[file]) + 1}"


def _header(path: Path) -> list[str]:
    """The file's header, stripped, read with the csv module: pandas silently renames a
    repeated name (``age`` → ``age.1``), which would train on a column nobody named."""
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            header = next(csv.reader(handle), None)
    except (UnicodeDecodeError, csv.Error) as error:
        raise InputError(
            f"{path.name}: not a readable CSV with a header ({_one_line(str(error))})"
        ) from None
    if not header:
        raise InputError(f"{path.name}: not a readable CSV with a header (the file is empty)")
    names = [name.strip() for name in header]
    first_seen: dict[str, int] = {}
    for position, name in enumerate(names, start=1):
        if name in first_seen:
            raise InputError(
                f"{path.name}: duplicate column name {name!r} (columns {first_seen[name]} and "
                f"{position}): rename one so each column has its own name"
            )
        first_seen[name] = position
    return names


def _parser_problem(message: str, width: int) -> str:
    """pandas' tokenizer error as a one-line reason (``Expected 3 fields in line 5, saw 4``
    → which line, how many fields, how many the header has)."""
    match = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", message)
    if match:
        _, line, saw = (int(group) for group in match.groups())
        return (
            f"line {line} has {saw} fields, the header has {width} (an unquoted comma in a "
            "value? quote it)"
        )
    return f"not a readable CSV ({_one_line(message)})"


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _show(value: str) -> str:
    shown = repr(value)
    return shown if len(shown) <= _MAX_VALUE_CHARS else shown[: _MAX_VALUE_CHARS - 1] + "…"


def _check_columns(
    raw: Any,
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


@dataclass(frozen=True)
class Target:
    """The encoded target: label values per row and what the spec records about them."""

    problem_type: str
    values: np.ndarray  # binary 0/1, multiclass class index, regression float
    classes: list[str]  # class order (binary: [negative, positive]); empty for regression
    positive_label: str | None = None
    negative_label: str | None = None

    def spec_entries(self) -> dict[str, Any]:
        if self.problem_type == "binary":
            return {
                "positive_label": self.positive_label,
                "negative_label": self.negative_label,
                "classes": self.classes,
            }
        if self.problem_type == "multiclass":
            return {"classes": self.classes}
        return {}


def encode_target(
    column: Any,
    name: str,
    problem_type: str | None,
    positive: str | None,
    origins: Origins,
) -> Target:
    """The target encoded for its problem type (inferred when not given); errors name a row."""
    column = distinct(column)
    blank = (column.values == "")[column.codes]
    if blank.any():
        index = int(np.argmax(blank))
        raise InputError(f"column {name!r}, {origins.where(index)}: the target is blank")
    counts = pd.Series(column.counts(), index=column.values).sort_values(
        ascending=False, kind="stable"
    )
    if len(counts) < 2:
        raise InputError(
            f"column {name!r}: every row has the label {_show(str(counts.index[0]))}; "
            "need at least two values"
        )
    distinct_numbers = column.numbers
    all_numeric = bool(np.isfinite(distinct_numbers).all())
    if problem_type is None:
        problem_type = infer_problem_type(counts, distinct_numbers if all_numeric else None)
    if problem_type == "regression":
        if not all_numeric:
            index = int(np.argmax(~np.isfinite(distinct_numbers)[column.codes]))
            value = str(column.values[column.codes[index]])
            raise InputError(
                f"column {name!r}, {origins.where(index)}: value {_show(value)} "
                "is not a finite number (a regression target must be numeric)"
            )
        return Target("regression", distinct_numbers[column.codes], [])
    order = class_order([str(label) for label in counts.index], all_numeric)
    if problem_type == "multiclass":
        if len(order) > MAX_CLASSES:
            raise InputError(
                f"column {name!r} has {len(order)} distinct values, too many classes for "
                f"multiclass (at most {MAX_CLASSES})"
            )
        index_of = {label: code for code, label in enumerate(order)}
        lookup = np.array([index_of[str(value)] for value in column.values], dtype=np.int64)
        return Target("multiclass", lookup[column.codes], order)
    if positive is None:
        if len(order) != 2:
            raise InputError(
                f"column {name!r} has {len(order)} values; binary needs 2, or a positive label "
                "to learn that class against the rest"
            )
        positive = infer_positive_label(counts, all_numeric)
    is_positive = (column.values == positive)[column.codes]
    if not is_positive.any():
        raise InputError(
            f"column {name!r}: the positive label {positive!r} never occurs "
            f"(values seen: {order[:10]})"
        )
    others = [label for label in order if label != positive]
    _check_rest(column, counts, name, positive, others, origins)
    negative = others[0] if len(others) == 1 else f"not {positive}"
    return Target("binary", is_positive.astype(np.int64), [negative, positive], positive, negative)


def _check_rest(
    column: Distinct,
    counts: pd.Series,
    name: str,
    positive: str,
    others: list[str],
    origins: Origins,
) -> None:
    """A binary target with more than two values learns the positive label against the rest,
    unless a rest value is rare: that is a typo far more often than a class."""
    if len(others) < 2:
        return
    minimum = max(MIN_REST_ROWS, MIN_REST_SHARE * len(column.codes))
    rare = [label for label in others if counts[label] < minimum]
    if rare:
        index = int(np.argmax((column.values == rare[0])[column.codes]))
        raise InputError(
            f"column {name!r}, {origins.where(index)}: value {_show(rare[0])} is not a known "
            f"label: {_show(positive)} is learned against the other values only when each is "
            f"common (at least {MIN_REST_SHARE:.0%} of rows), and this one occurs "
            f"{int(counts[rare[0]])} time(s)"
        )


def infer_problem_type(counts: pd.Series, numbers: np.ndarray | None) -> str:
    """binary for 2 values; multiclass for ≤ 20 integers or ≤ 100 texts; else regression
    (numbers) or an error (too many texts). Same rules as ``mlops.dataset.schema``."""
    distinct = len(counts)
    if distinct == 2:
        return "binary"
    if numbers is not None:
        integral = bool((numbers == np.round(numbers)).all())
        return "multiclass" if integral and distinct <= MAX_INTEGER_CLASSES else "regression"
    if distinct <= MAX_CLASSES:
        return "multiclass"
    raise InputError(
        f"the target has {distinct} distinct text values, too many to be classes (at most "
        f"{MAX_CLASSES}); if it is a number, fix the cells that are not numbers"
    )


def infer_positive_label(counts: pd.Series, all_numeric: bool) -> str:
    """Of two numbers the larger; yes/true/y/positive over their opposite; else the rarer
    value (ties: the later in sort order). Same rules as ``mlops.dataset.schema``."""
    labels = [str(label) for label in counts.index]
    if all_numeric:
        return max(labels, key=float)
    lowered = {label.lower(): label for label in labels}
    for positive, negative in _POSITIVE_WORDS:
        if set(lowered) == {positive, negative}:
            return lowered[positive]
    fewest = counts.min()
    return max(label for label in labels if counts[label] == fewest)


def class_order(labels: list[str], all_numeric: bool) -> list[str]:
    """Classes by value for numbers, else as text: class index i is the i-th."""
    if all_numeric:
        return sorted(labels, key=lambda label: (float(label), label))
    return sorted(labels)


def infer_types(
    raw: Any,
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
            column = distinct(raw[name])
            filled = column.values != ""
            weights = column.counts()[filled]
            values = column.values[filled]
            numbers = column.numbers[filled]
            number_text = ~np.isnan(numbers)  # or nan/inf text (only a non-number can be)
            number_text[~number_text] = [
                str(value).lower() in _NON_FINITE_TEXT for value in values[~number_text]
            ]
            total = int(weights.sum())
            share = float(weights[number_text].sum() / total) if total else 0.0
            numeric_like = share >= NUMERIC_SHARE and bool(np.isfinite(numbers).any())
            types[name] = "numeric" if numeric_like else "categorical"
    return types


def parse_numeric(column: Any, name: str, origins: Origins) -> np.ndarray:
    """Cells as float64, blank → NaN; text or nan/inf → an error naming row and value."""
    column = distinct(column)
    filled = column.values != ""
    numbers = np.where(filled, column.numbers, np.nan)
    invalid = filled & ~np.isfinite(numbers)
    if invalid.any():
        index = int(np.argmax(invalid[column.codes]))
        value = str(column.values[column.codes[index]])
        raise InputError(
            f"column {name!r}, {origins.where(index)}: value {_show(value)} is "
            "not a finite number (numeric column; leave the cell blank for a missing value)"
        )
    return np.asarray(numbers[column.codes], dtype=np.float64)


def split_rows(target: Target, validation: float, test: float, seed: int) -> dict[str, np.ndarray]:
    """Seeded split: stratified by class for classification (each class keeps its share in
    every part), a plain shuffle for regression. Row order within a part is the input order,
    so the outputs are reproducible byte for byte."""
    rng = np.random.default_rng(seed)
    parts: dict[str, list[np.ndarray]] = {"train": [], "validation": [], "test": []}
    labels = target.values
    groups = (
        [np.arange(len(labels))]
        if target.problem_type == "regression"
        else [np.flatnonzero(labels == code) for code in range(len(target.classes))]
    )
    for members in groups:
        members = rng.permutation(members)
        n_test = round(len(members) * test)
        n_validation = round(len(members) * validation)
        parts["test"].append(members[:n_test])
        parts["validation"].append(members[n_test : n_test + n_validation])
        parts["train"].append(members[n_test + n_validation :])
    splits = {name: np.sort(np.concatenate(chunks)) for name, chunks in parts.items()}
    _check_split(target, splits)
    return splits


def _check_split(target: Target, splits: dict[str, np.ndarray]) -> None:
    check_split_summary(target.problem_type, target.classes, split_summary(target, splits))


def split_summary(target: Target, splits: dict[str, np.ndarray]) -> dict[str, list[int]]:
    """Per split: the rows of each class (classification), or the rows (regression)."""
    if target.problem_type == "regression":
        return {name: [len(members)] for name, members in splits.items()}
    return {
        name: np.bincount(target.values[members], minlength=len(target.classes)).tolist()
        for name, members in splits.items()
    }


def check_split_summary(
    problem_type: str, classes: list[str], summary: dict[str, list[int]]
) -> None:
    """Every split usable: binary splits hold both classes; the others at least two rows, and
    every class of a multiclass target has training rows."""
    rows = sum(sum(counts) for counts in summary.values())
    if problem_type == "binary":
        positives = sum(counts[1] for counts in summary.values())
        for name, counts in summary.items():
            if sum(1 for count in counts if count) < 2:
                raise InputError(
                    f"the {name} split would not hold both classes ({rows} rows, "
                    f"{positives} positive): provide more data"
                )
        return
    for name, counts in summary.items():
        if sum(counts) < 2:
            raise InputError(
                f"the {name} split would hold {sum(counts)} row(s) of {rows}: provide more data"
            )
    if problem_type == "multiclass":
        absent = [label for code, label in enumerate(classes) if not summary["train"][code]]
        if absent:
            raise InputError(
                f"class(es) {absent} would have no training row ({rows} rows): provide more data"
            )


def _feature_entries(
    raw: Any,
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
        values = distinct(raw[name]).values
        categories = sorted(str(v) for v in values[values != ""])
        features.append(categorical_entry(name, categories, args.max_categories))
    check_feature_names(features)
    return features


def categorical_entry(name: str, categories: list[str], max_categories: int) -> dict[str, Any]:
    """The spec entry of a categorical column: its sorted vocabulary, checked."""
    if len(categories) > max_categories:
        raise InputError(
            f"column {name!r} has {len(categories)} distinct values (over "
            f"--max-categories {max_categories}): an identifier? add it to "
            "drop-columns, or list it as numeric"
        )
    for category in categories:
        if any(char in category for char in _FORBIDDEN_NAME_CHARS) or "=" in name:
            raise InputError(
                f"column {name!r}: value {_show(category)} cannot name an XGBoost feature "
                f"(no {''.join(_FORBIDDEN_NAME_CHARS)} in categories, no '=' in column names)"
            )
    return {"name": name, "type": "categorical", "categories": categories}


def check_feature_names(features: list[dict[str, Any]]) -> None:
    for feature in features:
        if any(c in feature["name"] for c in _FORBIDDEN_NAME_CHARS):
            raise InputError(f"column {feature['name']!r} cannot name an XGBoost feature")


def encoded_columns(features: list[dict[str, Any]]) -> list[str]:
    """The booster's feature order: numeric as is, categorical one column per category."""
    names: list[str] = []
    for feature in features:
        if feature["type"] == "numeric":
            names.append(feature["name"])
        else:
            names += [f"{feature['name']}={category}" for category in feature["categories"]]
    return names


def _label_text(target: Target, column: Distinct) -> Distinct:
    """Each row's label as the encoded CSV writes it: class index, or the value ``%.10g``."""
    if target.problem_type == "regression":
        return Distinct(column.codes, np.array(_number_texts(column.numbers), dtype=object))
    text = np.array([str(code) for code in range(int(target.values.max()) + 1)], dtype=object)
    return Distinct(np.asarray(target.values, dtype=np.intp), text)


def _encoded_text(column: Distinct, feature: dict[str, Any]) -> Distinct:
    """One feature's encoded fields a row: the number (``%.10g``, blank for missing), or its
    one-hot block (``0,1,0``; all zeros for blank) — computed per distinct value."""
    if feature["type"] == "numeric":
        text = _number_texts(np.where(column.values != "", column.numbers, np.nan))
    else:
        categories = feature["categories"]
        text = [",".join("1" if value == c else "0" for c in categories) for value in column.values]
    return Distinct(column.codes, np.array(text, dtype=object))


def _number_texts(numbers: np.ndarray) -> list[str]:
    """Floats as pandas' ``to_csv(float_format="%.10g", na_rep="")`` writes them (formatted as
    Python floats: a NumPy scalar per value costs several times more)."""
    return [
        "" if value != value else "%.10g" % value  # noqa: UP031 - the CSV's number format
        for value in numbers.tolist()
    ]


class _CsvColumns:
    """CSV rows whose fields are `Distinct` columns of field text, written as bytes without
    a Python call per row.

    A column's distinct texts, UTF-8 and each followed by its terminator (``,``, or the line
    end for the last column), are the rows of a byte matrix padded with 0xFF, a byte UTF-8
    never contains. A block of CSV lines is then the matrices' rows for the block's codes side
    by side, padding dropped: a gather per column and one filter. Neighbouring columns with
    few distinct values are merged first (the merged matrix holds every combination), so a
    block costs a few gathers, not one per column."""

    def __init__(self, columns: list[Distinct]) -> None:
        pieces: list[tuple[np.ndarray, np.ndarray]] = []
        for position, column in enumerate(columns):
            table = _field_bytes(column.values, "\n" if position == len(columns) - 1 else ",")
            if pieces:
                codes, merged = pieces[-1]
                combinations = len(merged) * len(table)
                if combinations * (merged.shape[1] + table.shape[1]) <= _MERGE_MAX_BYTES:
                    pieces[-1] = (
                        codes * len(table) + column.codes,
                        np.hstack(
                            [
                                np.repeat(merged, len(table), axis=0),
                                np.tile(table, (len(merged), 1)),
                            ]
                        ),
                    )
                    continue
            pieces.append((column.codes, table))
        self.pieces = pieces
        # Rows a block: bounds the memory of a large split, whatever the width of its lines.
        width = sum(table.shape[1] for _, table in pieces)
        self.block_rows = max(1, _WRITE_BLOCK_BYTES // max(1, width))

    def write(self, path: Path, rows: np.ndarray, *, header: str | None = None) -> None:
        """The ``rows`` as CSV lines (after ``header``)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as handle:
            if header is not None:
                handle.write(header.encode("utf-8") + b"\n")
            for start in range(0, len(rows), self.block_rows):
                block = rows[start : start + self.block_rows]
                lines = np.hstack([table[codes[block]] for codes, table in self.pieces]).ravel()
                handle.write(lines[lines != _PAD].tobytes())


def _field_bytes(values: np.ndarray, end: str) -> np.ndarray:
    """Each text in UTF-8 followed by ``end``, as the rows of a byte matrix padded with _PAD
    (encoded as one string: the rows' bytes fill the unpadded cells in row-major order)."""
    texts = [str(value) for value in values]
    data = "".join([end.join(texts), end] if texts else []).encode("utf-8")
    lengths = np.fromiter(map(len, texts), dtype=np.intp, count=len(texts)) + len(end)
    if len(data) != int(lengths.sum()):  # not all ASCII: lengths in bytes
        encoded = [text.encode("utf-8") for text in texts]
        lengths = np.fromiter(map(len, encoded), dtype=np.intp, count=len(texts)) + len(end)
    width = int(lengths.max(initial=1))
    table = np.full((len(texts), width), _PAD, dtype=np.uint8)
    table[np.arange(width) < lengths[:, np.newaxis]] = np.frombuffer(data, dtype=np.uint8)
    return table


def _write_baseline(path: Path, raw: Table, names: list[str], rows: np.ndarray) -> None:
    """The training rows' raw feature text with a header, quoted as pandas' ``to_csv`` quotes
    (the csv module, minimal quoting) — each distinct value quoted once."""
    if len(names) == 1:  # the csv module writes a lone empty field as "": let pandas do it
        frame = pd.DataFrame({names[0]: raw[names[0]].values[raw[names[0]].codes[rows]]})
        frame.to_csv(path, index=False)
        return
    fields = []
    for name in names:
        column = raw[name]
        values = [str(value) for value in column.values]
        if _CSV_SPECIAL.search("".join(values)) is not None:  # else every field is as it is
            values = [_csv_field(value) for value in values]
        fields.append(Distinct(column.codes, np.array(values, dtype=object)))
    header = ",".join(_csv_field(name) for name in names)
    _CsvColumns(fields).write(path, rows, header=header)


def _csv_field(value: str) -> str:
    """``value`` as one field of a row the csv module writes (pandas' ``to_csv`` dialect)."""
    if _CSV_SPECIAL.search(value) is None:
        return value
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow([value, "x"])
    return buffer.getvalue()[: -len(",x\n")]


if __name__ == "__main__":
    sys.exit(main())
