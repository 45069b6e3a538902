"""What `mlops endpoint invoke` sends: a file's rows as the endpoint takes them.

The endpoint takes features only (contracts §5), while the rows a team has at hand are the
dataset's: with the id, the target and other columns the schema drops. With a CSV header (or
JSON objects, keyed by name) those columns are dropped here by the schema. When the rows carry
the schema's id column, each row is sent as its own request with the id as the request's
``InferenceId``: data capture records it, and ``mlops monitor ground-truth`` joins labels on it
(Model Monitor names an inference by its InferenceId). Without ids, rows go in batches.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlops.core.errors import UserError
from mlops.core.settings import DatasetSchema

# InferenceId: 1-64 printable ASCII characters (sagemaker-runtime's model).
_MAX_INFERENCE_ID = 64


@dataclass(frozen=True)
class Rows:
    """The requests' rows: CSV lines or JSON records, with their inference ids (or none)."""

    csv_lines: list[str] = field(default_factory=list)
    records: list[Any] = field(default_factory=list)
    inference_ids: list[str] | None = None
    dropped: tuple[str, ...] = ()


def read_rows(path: Path, media: str, *, header: bool, schema: DatasetSchema) -> Rows:
    """The file's rows without the schema's non-feature columns (see the module docstring).

    A CSV whose first line names the schema's target or id column is read as having a header
    even without ``--header``.
    """
    if media == "text/csv":
        return _csv_rows(path, header=header, schema=schema)
    return _json_rows(_json_instances(path, media), schema)


def _csv_rows(path: Path, *, header: bool, schema: DatasetSchema) -> Rows:
    text = path.read_text(encoding="utf-8")
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        raise UserError(f"{path} holds no rows")
    first = [cell.strip() for cell in next(csv.reader([lines[0]]))]
    named = set(schema.non_feature_columns)
    if not header and not (named & set(first)):
        return Rows(csv_lines=lines)
    drop = [i for i, name in enumerate(first) if name in named]
    ids = _id_index(first, schema)
    kept: list[str] = []
    inference_ids: list[str] = []
    for number, row in enumerate(csv.reader(lines[1:]), start=1):
        if len(row) != len(first):
            raise UserError(
                f"{path.name}: data row {number} has {len(row)} fields, the header {len(first)}"
            )
        if ids is not None:
            inference_ids.append(_inference_id(row[ids], number))
        kept.append(_csv_line([cell for i, cell in enumerate(row) if i not in drop]))
    return Rows(
        csv_lines=kept,
        inference_ids=inference_ids if ids is not None else None,
        dropped=tuple(first[i] for i in drop),
    )


def _json_rows(instances: list[Any], schema: DatasetSchema) -> Rows:
    named = set(schema.non_feature_columns)
    objects = [item for item in instances if isinstance(item, dict)]
    if len(objects) != len(instances) or not named:
        return Rows(records=instances)
    dropped = sorted({key for item in objects for key in item if key in named})
    id_column = schema.id_column
    with_ids = id_column is not None and all(id_column in item for item in objects)
    inference_ids = (
        [_inference_id(str(item[id_column]), n) for n, item in enumerate(objects, start=1)]
        if with_ids and id_column is not None
        else None
    )
    records = [{k: v for k, v in item.items() if k not in named} for item in objects]
    return Rows(records=records, inference_ids=inference_ids, dropped=tuple(dropped))


def _id_index(header: list[str], schema: DatasetSchema) -> int | None:
    if schema.id_column is None or schema.id_column not in header:
        return None
    return header.index(schema.id_column)


def _inference_id(value: str, row: int) -> str:
    text = value.strip()
    if not 1 <= len(text) <= _MAX_INFERENCE_ID or not text.isprintable() or not text.isascii():
        raise UserError(
            f"row {row}: id {text!r} cannot be an InferenceId (1-64 printable ASCII characters)"
        )
    return text


def _csv_line(cells: list[str]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="").writerow(cells)
    return buffer.getvalue()


def _json_instances(path: Path, media: str) -> list[Any]:
    text = path.read_text(encoding="utf-8")
    try:
        if media == "application/jsonlines":
            return [json.loads(line) for line in text.splitlines() if line.strip()]
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise UserError(f"{path}: invalid JSON ({error})") from error
    instances = document.get("instances") if isinstance(document, dict) else document
    if not isinstance(instances, list):
        raise UserError(f'{path}: expected {{"instances": [...]}} or a list of instances')
    return instances
