"""Ground truth for model-quality monitoring, built from captured inferences and known labels.

Model Monitor joins ground truth to endpoint data capture by ``eventMetadata.eventId``, which
names the inference's ``InferenceId`` when the caller sent one, else the capture's ``eventId``
(`monitoring.capture.CaptureRecord.merge_id`). A labelling process uploads one JSON line per captured inference, holding the labels of that
request's rows in order (``groundTruthData.data``, CSV) — the shape of the reference
``actuals.jsonl`` (tests/fixtures/model-monitor/SOURCE.md). Labels arrive either by event
(the labeller knows which inference it labels) or by row content (the labeller knows the true
outcome of each customer, as the demo's generated traffic does); both come out as
`GroundTruth` records that `write_ground_truth` writes where ``analyze(ground_truth=…)`` reads.
`ground_truth_from_table` does both from a CSV a labelling process writes (``mlops monitor
ground-truth``): ids and labels, or whole rows and their labels.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from monitoring.capture import CaptureRecord, input_rows
from monitoring.errors import MonitoringInputError
from monitoring.tables import read_table

# A feature row reduced to text that compares equal however it travelled (CSV text or JSON).
RowKey = tuple[str, ...]

EVENT_VERSION = "0"


@dataclass(frozen=True)
class GroundTruth:
    """The labels of one captured inference (one per row of its request, in order).

    ``event_id`` is what the record's ``eventMetadata.eventId`` carries: the inference's merge
    id, i.e. the caller's ``InferenceId`` when it gave one, else the capture's ``eventId`` (the
    rule Model Monitor's merge applies, ``CaptureRecord.merge_id``).
    """

    event_id: str
    inference_time: str
    labels: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        """One ground-truth record, as Model Monitor reads it."""
        return {
            "groundTruthData": {"data": ",".join(self.labels), "encoding": "CSV"},
            "eventMetadata": {"eventId": self.event_id, "inferenceTime": self.inference_time},
            "eventVersion": EVENT_VERSION,
        }


def row_key(row: Sequence[Any]) -> RowKey:
    """Rows compare equal whether they travelled as CSV text or as JSON numbers.

    Numbers become ``repr(float(value))`` (``"3"``, ``3`` and ``3.0`` agree), blanks and nulls
    become ``""``, anything else its text.
    """
    key = []
    for value in row:
        if value is None or value == "":
            key.append("")
            continue
        try:
            key.append(repr(float(value)))
        except (TypeError, ValueError):
            key.append(str(value))
    return tuple(key)


def label_by_event(
    captures: Iterable[CaptureRecord], labels: Iterable[tuple[str, str | Sequence[str]]]
) -> list[GroundTruth]:
    """Ground truth for the captured inferences that ``labels`` names by merge id (the
    ``InferenceId`` the caller gave, else the capture's ``eventId``).

    ``labels`` pairs an eventId with its label, or the labels of a batch request's rows in
    order. Inferences without a label are left out (not every inference gets labelled), and
    so are labels for events not among ``captures``.
    """
    by_event = {
        event_id: (label,) if isinstance(label, str) else tuple(label) for event_id, label in labels
    }
    return [
        GroundTruth(record.merge_id, record.inference_time, by_event[record.merge_id])
        for record in captures
        if record.merge_id in by_event
    ]


def label_by_rows(
    captures: Iterable[CaptureRecord], labels: Mapping[RowKey, str], features: Sequence[str]
) -> list[GroundTruth]:
    """Ground truth for the captured inferences whose every request row has a known label.

    Rows are matched by content (`row_key`); by-name JSON rows are put in ``features`` order
    first. An inference with any unlabelled row, or without a captured request, is left out.
    """
    truths = []
    for record in captures:
        if record.endpoint_input is None:
            continue
        keys = [
            row_key([row.get(name) for name in features] if isinstance(row, dict) else row)
            for row in input_rows(record.endpoint_input)
        ]
        if all(key in labels for key in keys):
            truths.append(
                GroundTruth(
                    record.merge_id, record.inference_time, tuple(labels[key] for key in keys)
                )
            )
    return truths


def write_ground_truth(truths: Iterable[GroundTruth], path: Path) -> Path:
    """Write the records as JSON lines at ``path`` (a file ``analyze(ground_truth=…)`` reads)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(json.dumps(truth.to_json()) for truth in truths) + "\n")
    return path


# Columns that name an inference in a labels table, in the order they are looked for.
INFERENCE_ID_COLUMNS = ("inferenceId", "inference_id", "InferenceId", "eventId", "event_id")
LABEL_COLUMN = "label"


@dataclass(frozen=True)
class LabelTable:
    """Ground truth made from a CSV of known labels, and how it was joined."""

    truths: list[GroundTruth]
    joined_on: str  # the id column used, or "row content"
    labels: int  # labelled rows (or ids) in the table
    unmatched: int  # of those, how many no captured inference carries


def ground_truth_from_table(
    captures: Sequence[CaptureRecord],
    path: Path,
    *,
    label_column: str | None,
    id_column: str | None = None,
    excluded: Sequence[str] = (),
) -> LabelTable:
    """Ground truth from a CSV with a header: an id and a label per row, or whole rows.

    With an ``inferenceId`` (``inference_id``, ``eventId``) column, or the dataset's
    ``id_column`` (what ``mlops endpoint invoke`` sends as each row's InferenceId), each id
    labels the captured inference it names. Without one, the table's other columns are the
    features in the order the endpoint received them, and rows are matched by content.
    ``label_column`` is the target's name (``label`` when None or absent from the table).
    """
    header, rows = read_table(path, kind="labels file", expected="labelled rows")
    short = next((n for n, row in enumerate(rows, start=1) if len(row) != len(header)), None)
    if short is not None:
        raise MonitoringInputError(
            f"{path}: data row {short} has {len(rows[short - 1])} fields, the header {len(header)}"
        )
    label = label_column if label_column in header else LABEL_COLUMN
    if label not in header:
        raise MonitoringInputError(
            f"{path}: no label column ({label_column or LABEL_COLUMN!r}, or 'label'); "
            f"its columns are {', '.join(header)}"
        )
    at = header.index(label)
    ids = [name for name in (*INFERENCE_ID_COLUMNS, id_column) if name and name in header]
    if ids:
        key = header.index(ids[0])
        pairs = [(row[key], row[at]) for row in rows if row[key].strip()]
        truths = label_by_event(captures, pairs)
        matched = {truth.event_id for truth in truths}
        unmatched = len({event for event, _ in pairs} - matched)
        return LabelTable(truths, ids[0], len(pairs), unmatched)
    skip = {label, *excluded}
    features = [name for name in header if name not in skip]
    positions = [header.index(name) for name in features]
    by_row = {row_key([row[i] for i in positions]): row[at] for row in rows}
    truths = label_by_rows(captures, by_row, features)
    labelled = sum(len(truth.labels) for truth in truths)
    return LabelTable(truths, "row content", len(by_row), max(0, len(by_row) - labelled))
