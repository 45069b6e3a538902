"""Resolve a dataset schema against a real CSV: which columns are features, and of what kind.

The preprocess script does the same inference inside its container (it may not import this
module); this copy lets the CLI check a user's CSV before any job starts, and a contract test
keeps the two in agreement.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from mlops.core.errors import UserError
from mlops.core.settings import DatasetSchema

SAMPLE_ROWS = 10_000
NUMERIC_SHARE = 0.95
_NON_FINITE_TEXT = frozenset(
    {"nan", "+nan", "-nan", "inf", "+inf", "-inf", "infinity", "+infinity", "-infinity"}
)


@dataclass(frozen=True)
class ResolvedSchema:
    """A schema with every column assigned a role, in the CSV's column order."""

    target: str
    positive_label: str
    features: tuple[str, ...]
    numeric: tuple[str, ...]
    categorical: tuple[str, ...]
    dropped: tuple[str, ...]


def resolve_schema(schema: DatasetSchema, frame: pd.DataFrame) -> ResolvedSchema:
    """Assign roles to the columns of ``frame`` (read with ``dtype=str``); raise UserError."""
    columns = list(frame.columns)
    named = [
        schema.target,
        *schema.drop_columns,
        *(schema.categorical or ()),
        *(schema.numeric or ()),
    ]
    missing = [name for name in named if name not in columns]
    if missing:
        raise UserError(
            f"columns {missing} are named in the dataset schema but not in the data "
            f"(columns: {', '.join(columns)})"
        )
    labels = set(frame[schema.target].dropna().astype(str).str.strip())
    if labels and schema.positive_label not in labels:
        raise UserError(
            f"positive label {schema.positive_label!r} does not occur in target column "
            f"{schema.target!r} (values: {', '.join(sorted(labels)[:10])})"
        )
    features = [c for c in columns if c != schema.target and c not in schema.drop_columns]
    numeric: list[str] = []
    categorical: list[str] = []
    for column in features:
        if schema.numeric is not None and column in schema.numeric:
            numeric.append(column)
        elif schema.categorical is not None and column in schema.categorical:
            categorical.append(column)
        elif _is_numeric(frame[column]):
            numeric.append(column)
        else:
            categorical.append(column)
    if not features:
        raise UserError("the dataset has no feature columns left after the target and drop_columns")
    return ResolvedSchema(
        target=schema.target,
        positive_label=schema.positive_label,
        features=tuple(features),
        numeric=tuple(numeric),
        categorical=tuple(categorical),
        dropped=tuple(schema.drop_columns),
    )


def resolve_csv(
    schema: DatasetSchema, path: Path, sample_rows: int = SAMPLE_ROWS
) -> ResolvedSchema:
    """Resolve against the first ``sample_rows`` rows of a CSV with a header."""
    try:
        frame = pd.read_csv(
            path, dtype=str, nrows=sample_rows, keep_default_na=False, na_values=[""]
        )
    except FileNotFoundError:
        raise UserError(f"no such file: {path}") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
        raise UserError(f"{path} is not a readable CSV with a header: {error}") from None
    return resolve_schema(schema, frame)


def _is_numeric(values: pd.Series) -> bool:
    """Numeric when ≥ 95 % of the non-blank cells are number text and one is finite.

    Same rule as ``training/preprocess.py`` (contracts §1): one typo must be reported with
    its row by preprocess rather than silently turn a numeric column categorical.
    """
    present = values.dropna().str.strip()
    present = present[present != ""]
    if present.empty:
        return False
    numbers = pd.to_numeric(present, errors="coerce")
    number_text = numbers.notna() | present.str.lower().isin(_NON_FINITE_TEXT)
    finite = numbers.abs() < float("inf")
    return bool(number_text.mean() >= NUMERIC_SHARE and finite.any())
