"""Resolve a dataset schema against a real CSV: the problem type, the labels, each column's role.

The preprocess script does the same inference inside its container (it may not import this
module); this copy lets the CLI check a user's CSV and print what it inferred before any job
starts, and contract tests keep the two in agreement (tests/foundation/test_schema.py).

Inference rules (contracts §1), applied to the target's non-blank, stripped values:

- problem type: two distinct values → ``binary``; every value a number, integral, and at most
  `MAX_INTEGER_CLASSES` distinct → ``multiclass``; every value a number otherwise →
  ``regression``; text with at most `MAX_CLASSES` distinct values → ``multiclass``.
- a binary target with more than two values is one class (the positive label, which must then
  be given) against the rest, labelled ``not <positive label>`` — provided every other value is
  in at least 1 % of the rows: a rare extra value is a typo, reported as one.
- positive label (binary): of two numbers the larger (``1`` of 0/1); of ``yes``/``no``,
  ``true``/``false``, ``y``/``n``, ``positive``/``negative`` (any case) the first; otherwise the
  less frequent value (ties: the later in sort order) — the class a model is usually built to
  find.
- a feature is numeric when at least `NUMERIC_SHARE` of its non-blank cells are number text and
  one is finite, else categorical.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path
from typing import Any

import pandas as pd

from mlops.core.errors import UserError
from mlops.core.problem_types import ProblemType
from mlops.core.settings import DatasetSchema
from mlops.dataset.resolved import ResolvedSchema, TargetProfile

SAMPLE_ROWS = 10_000
NUMERIC_SHARE = 0.95
MAX_INTEGER_CLASSES = 20
MAX_CLASSES = 100
# One-vs-rest (binary with more values): each rest value in at least this share of rows, or it
# is taken for a typo (same rule as training/preprocess.py).
MIN_REST_SHARE = 0.01
MIN_REST_ROWS = 2
_NON_FINITE_TEXT = frozenset(
    {"nan", "+nan", "-nan", "inf", "+inf", "-inf", "infinity", "+infinity", "-infinity"}
)
_POSITIVE_WORDS = (("yes", "no"), ("true", "false"), ("y", "n"), ("positive", "negative"))


def header_of(path: Path) -> list[str]:
    """The CSV's header (stripped); UserError naming a duplicated column name.

    Read with the csv module because pandas silently renames a second ``age`` to ``age.1``.
    """
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            header = next(csv.reader(handle), None)
    except FileNotFoundError:
        raise UserError(f"no such file: {path}") from None
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise UserError(f"{path} is not a readable CSV with a header: {error}") from None
    if not header:
        raise UserError(f"{path} is not a readable CSV with a header: the file is empty")
    names = [name.strip() for name in header]
    seen: dict[str, int] = {}
    for position, name in enumerate(names, start=1):
        if name in seen:
            raise UserError(
                f"{path.name}: duplicate column name {name!r} (columns {seen[name]} and "
                f"{position}): rename one so each column has its own name"
            )
        seen[name] = position
    return names


def read_csv_text(path: Path, **options: Any) -> pd.DataFrame:
    """Cells as stripped text ("" = blank), with the header checked by `header_of`."""
    names = header_of(path)
    try:
        frame = pd.read_csv(
            path, dtype=str, keep_default_na=False, na_filter=False, header=0, **options
        )
    except pd.errors.ParserError as error:
        raise UserError(f"{path.name}: {parser_problem(str(error), len(names))}") from None
    except (pd.errors.EmptyDataError, UnicodeDecodeError) as error:
        raise UserError(f"{path.name}: {one_line(str(error))}") from None
    if "usecols" not in options:
        frame.columns = pd.Index(names)
    else:
        frame.columns = pd.Index([str(c).strip() for c in frame.columns])
    return frame.apply(lambda column: column.str.strip())


def parser_problem(message: str, width: int) -> str:
    """pandas' tokenizer error as one line that says what to fix (as preprocess.py words it)."""
    match = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", message)
    if match:
        _, line, saw = match.groups()
        return (
            f"line {line} has {saw} fields, the header has {width} (an unquoted comma in a "
            "value? quote it)"
        )
    return f"not a readable CSV ({one_line(message)})"


def one_line(text: str) -> str:
    """A parser's message on one line (pandas ends its tokenizer errors with a newline)."""
    return " ".join(text.split())


def resolve_schema(
    schema: DatasetSchema, frame: pd.DataFrame, target_values: pd.Series | None = None
) -> ResolvedSchema:
    """Assign roles to the columns of ``frame`` (text cells); raise UserError on a mismatch.

    ``target_values`` is the whole target column when ``frame`` is only a sample of the rows.
    """
    target = schema.require_target()
    columns = list(frame.columns)
    named = [
        target,
        *schema.excluded_columns,
        *(schema.categorical or ()),
        *(schema.numeric or ()),
    ]
    missing = [name for name in named if name not in columns]
    if missing:
        raise UserError(
            f"columns {missing} are named in the dataset schema but not in the data "
            f"(columns: {', '.join(columns)}); pass --target/--drop-columns/--id-column for "
            "this data, or run `mlops init` for a new dataset"
        )
    values = target_values if target_values is not None else frame[target]
    profile = profile_target(values, target, schema)
    excluded = set(schema.excluded_columns)
    features = [c for c in columns if c != target and c not in excluded]
    if not features:
        raise UserError("the dataset has no feature columns left after the target and drop_columns")
    numeric: list[str] = []
    categorical: list[str] = []
    blank: list[str] = []
    for column in features:
        cells = frame[column].fillna("").astype(str).str.strip()
        if not (cells != "").any():
            blank.append(column)
        if schema.numeric is not None and column in schema.numeric:
            numeric.append(column)
        elif schema.categorical is not None and column in schema.categorical:
            categorical.append(column)
        elif _is_numeric(cells):
            numeric.append(column)
        else:
            categorical.append(column)
    return ResolvedSchema(
        target=target,
        profile=profile,
        id_column=schema.id_column,
        features=tuple(features),
        numeric=tuple(numeric),
        categorical=tuple(categorical),
        dropped=tuple(schema.drop_columns),
        blank_features=tuple(blank),
    )


def resolve_csv(
    schema: DatasetSchema, path: Path, sample_rows: int = SAMPLE_ROWS
) -> ResolvedSchema:
    """Resolve against a CSV with a header: feature types from the first ``sample_rows`` rows,
    the problem type and labels from the whole target column."""
    target = schema.require_target()
    frame = read_csv_text(path, nrows=sample_rows)
    values: pd.Series | None = None
    if target in frame.columns and len(frame) == sample_rows:
        values = read_csv_text(path, usecols=[target])[target]
    return resolve_schema(schema, frame, values)


def profile_target(values: pd.Series, name: str, schema: DatasetSchema) -> TargetProfile:
    """The problem type and labels of a target column (configured values are checked)."""
    cells = values.fillna("").astype(str).str.strip()
    blank = int((cells == "").sum())
    if blank:
        first = int((cells == "").to_numpy().argmax()) + 1
        raise UserError(
            f"target column {name!r} is blank in {blank} row(s) (first: data row {first}): "
            "every training row needs a label"
        )
    counts = cells.value_counts()
    if len(counts) < 2:
        raise UserError(
            f"target column {name!r} holds a single value {counts.index[0]!r}: "
            "there is nothing to learn"
        )
    numbers = pd.to_numeric(cells, errors="coerce")
    all_numeric = bool(numbers.notna().all()) and bool((numbers.abs() < float("inf")).all())
    problem_type = schema.problem_type
    reason = None
    if problem_type is None:
        problem_type, reason = infer_problem_type(counts, numbers if all_numeric else None)
    _check_problem_type(problem_type, name, counts, all_numeric, schema.positive_label)
    if problem_type == "regression":
        return TargetProfile(problem_type, reason, None, None, (), len(cells))
    order = _class_order(list(counts.index), all_numeric)
    classes = tuple((label, int(counts[label])) for label in order)
    positive = schema.positive_label
    positive_reason = None
    if problem_type == "binary":
        if positive is None:
            positive, positive_reason = infer_positive_label(counts, all_numeric)
        elif positive not in counts.index:
            raise UserError(
                f"positive label {positive!r} does not occur in target column {name!r} "
                f"(values: {', '.join(order[:10])})"
            )
        _check_rest(cells, counts, name, positive)
    return TargetProfile(problem_type, reason, positive, positive_reason, classes, len(cells))


def _check_rest(cells: pd.Series, counts: pd.Series, name: str, positive: str) -> None:
    others = [str(label) for label in counts.index if label != positive]
    if len(others) < 2:
        return
    minimum = max(MIN_REST_ROWS, MIN_REST_SHARE * len(cells))
    rare = [label for label in others if counts[label] < minimum]
    if rare:
        row = int((cells == rare[0]).to_numpy().argmax()) + 1
        raise UserError(
            f"target column {name!r}, data row {row}: value {rare[0]!r} is not a known label: "
            f"{positive!r} is learned against the other values only when each is common (at "
            f"least {MIN_REST_SHARE:.0%} of rows), and this one occurs {int(counts[rare[0]])} time(s)"
        )


def infer_problem_type(counts: pd.Series, numbers: pd.Series | None) -> tuple[ProblemType, str]:
    """(problem type, why) from the value counts of a target without blanks."""
    distinct = len(counts)
    if distinct == 2:
        return "binary", "the target has 2 distinct values"
    if numbers is not None:
        integral = bool((numbers == numbers.round()).all())
        if integral and distinct <= MAX_INTEGER_CLASSES:
            return "multiclass", (
                f"the target has {distinct} distinct integer values "
                f"(at most {MAX_INTEGER_CLASSES} integers count as classes)"
            )
        kind = "integer" if integral else "numeric"
        return "regression", f"the target is {kind} with {distinct} distinct values"
    if distinct <= MAX_CLASSES:
        return "multiclass", f"the target has {distinct} distinct text values"
    raise UserError(
        f"the target has {distinct} distinct text values, too many to be classes (at most "
        f"{MAX_CLASSES}); if it is a number, fix the cells that are not numbers"
    )


def infer_positive_label(counts: pd.Series, all_numeric: bool) -> tuple[str, str]:
    """(positive label, why) of a two-valued target."""
    labels = [str(label) for label in counts.index]
    if all_numeric:
        larger = max(labels, key=float)
        return larger, "the larger of two numbers"
    lowered = {label.lower(): label for label in labels}
    for positive, negative in _POSITIVE_WORDS:
        if set(lowered) == {positive, negative}:
            return lowered[positive], f"{positive}/{negative}"
    fewest = counts.min()
    rarest = max(label for label in labels if counts[label] == fewest)
    return rarest, f"the less frequent of the two values ({int(fewest)} rows)"


def _check_problem_type(
    problem_type: ProblemType,
    name: str,
    counts: pd.Series,
    all_numeric: bool,
    positive_label: str | None,
) -> None:
    distinct = len(counts)
    if problem_type == "binary" and distinct != 2 and positive_label is None:
        shown = ", ".join(_class_order([str(v) for v in counts.index], all_numeric)[:10])
        raise UserError(
            f"problem type binary needs 2 target values, or a --positive-label to learn that "
            f"class against the rest; column {name!r} has {distinct} ({shown}"
            f"{', …' if distinct > 10 else ''}): use --problem-type multiclass, or regression "
            "for a number"
        )
    if problem_type == "multiclass" and distinct > MAX_CLASSES:
        raise UserError(
            f"column {name!r} has {distinct} distinct values, too many classes for multiclass "
            f"(at most {MAX_CLASSES}): use --problem-type regression for a number"
        )
    if problem_type == "regression" and not all_numeric:
        raise UserError(
            f"problem type regression needs a numeric target; column {name!r} holds text such "
            f"as {_first_text(counts)!r}: use --problem-type binary or multiclass"
        )


def _first_text(counts: pd.Series) -> str:
    for label in counts.index:
        try:
            float(str(label))
        except ValueError:
            return str(label)
    return str(counts.index[0])


def _class_order(labels: list[str], all_numeric: bool) -> list[str]:
    """Classes in the order the model numbers them: by value for numbers, else as text."""
    if all_numeric:
        return sorted(labels, key=lambda label: (float(label), label))
    return sorted(labels)


def _is_numeric(values: pd.Series) -> bool:
    """Numeric when ≥ 95 % of the non-blank cells are number text and one is finite.

    Same rule as ``training/preprocess.py`` (contracts §1): one typo must be reported with
    its row by preprocess rather than silently turn a numeric column categorical.
    """
    present = values[values != ""]
    if present.empty:
        return False
    numbers = pd.to_numeric(present, errors="coerce")
    number_text = numbers.notna() | present.str.lower().isin(_NON_FINITE_TEXT)
    finite = numbers.abs() < float("inf")
    return bool(number_text.mean() >= NUMERIC_SHARE and finite.any())
