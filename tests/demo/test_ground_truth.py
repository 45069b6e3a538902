"""Ground truth the demo uploads for model-quality monitoring (`monitoring.ground_truth`).

Checked against the reference capture and ground-truth files of the SageMaker SDK
(tests/fixtures/model-monitor/SOURCE.md): what we write must be what Model Monitor reads.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from monitoring.capture import (
    CaptureRecord,
    Payload,
    ground_truth_labels,
    read_capture,
    read_ground_truth,
)
from monitoring.ground_truth import label_by_event, label_by_rows, row_key, write_ground_truth


def _lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _key_paths(document: Any, prefix: str = "") -> set[str]:
    if not isinstance(document, dict):
        return {prefix}
    return {
        path for key, value in document.items() for path in _key_paths(value, f"{prefix}.{key}")
    }


def test_labels_by_event_come_out_as_the_reference_ground_truth_file(
    model_monitor_fixtures: Path, tmp_path: Path
) -> None:
    reference = _lines(model_monitor_fixtures / "actuals.jsonl")
    labels = [(r["eventMetadata"]["eventId"], r["groundTruthData"]["data"]) for r in reference]
    captures = read_capture(model_monitor_fixtures / "capture.jsonl")

    written = write_ground_truth(label_by_event(captures, labels), tmp_path / "gt.jsonl")

    ours = _lines(written)
    assert [_key_paths(line) for line in ours] == [_key_paths(line) for line in reference]
    assert ours == reference
    read_back = read_ground_truth(written)
    assert [(r.event_id, ground_truth_labels(r.data)) for r in read_back] == [
        (event_id, [label]) for event_id, label in labels
    ]


def test_labels_by_row_content_join_to_the_inference_that_sent_the_row(
    model_monitor_fixtures: Path,
) -> None:
    captures = read_capture(model_monitor_fixtures / "capture.jsonl")
    # The labeller knows rows as numbers; the captured requests hold them as CSV text.
    known = {
        (9, 45, 45, 42, 7, 5, 0): "1",
        (27, 21, 6, 23, 39, 40, 37): "0",
        (35, 32, 4, 2, 27, 42, 35): "0",
        (1, 13, 16, 24, 35, 9, 13): "1",
    }  # 9,32,12,39,13,28,25 (the third inference) has no known outcome

    truths = label_by_rows(
        captures, {row_key(row): label for row, label in known.items()}, features=[]
    )

    assert [(t.event_id, t.labels) for t in truths] == [
        ("74b0dd56-e7c8-368e-94b1-14a138a96000", ("1",)),
        ("79f96714-0136-39c8-a200-38faf8a5f96f", ("0",)),
        ("79f96714-0136-39c8-a201-38faf8a5f96f", ("0",)),
        ("74b0dd56-e7c8-368e-94b1-14a138a96002", ("1",)),
    ]
    assert {t.inference_time for t in truths} == {"2019-11-24T07:30:50Z"}


def test_a_json_batch_request_gets_its_rows_labels_in_order() -> None:
    request = {"instances": [{"plan": "basic", "calls": 3}, {"calls": None, "plan": "pro"}]}
    capture = CaptureRecord(
        event_id="e-1",
        inference_time="2026-01-01T00:00:00Z",
        endpoint_input=Payload("application/json", json.dumps(request), "JSON"),
        endpoint_output=None,
    )
    labels = {row_key(["3", "basic"]): "Yes", row_key(["", "pro"]): "No"}

    (truth,) = label_by_rows([capture], labels, features=["calls", "plan"])

    assert truth.to_json()["groundTruthData"] == {"data": "Yes,No", "encoding": "CSV"}
    assert truth.to_json()["eventMetadata"]["eventId"] == "e-1"
