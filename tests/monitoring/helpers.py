"""Test data for the monitoring tests: datagen tables and capture records shaped like the fixture."""

from __future__ import annotations

import base64
import csv
import io
import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pa_csv

from mlops.dataset.generator import generate_chunks

NON_FEATURES = ("customer_id", "churn")


def features_table(rows: int, seed: int) -> pa.Table:
    """Raw feature columns as the endpoint receives them (contracts §2: no id, no target)."""
    table = pa.concat_tables(generate_chunks(rows, seed))
    return table.drop_columns(list(NON_FEATURES))


def labelled_table(rows: int, seed: int) -> pa.Table:
    return pa.concat_tables(generate_chunks(rows, seed)).drop_columns(["customer_id"])


def write_csv(table: pa.Table, path: Path, *, header: bool = True) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    pa_csv.write_csv(
        table,
        path,
        write_options=pa_csv.WriteOptions(include_header=header, quoting_style="needed"),
    )
    return path


def csv_line(values: Sequence[Any]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="").writerow(["" if v is None else v for v in values])
    return buffer.getvalue()


def capture_record(
    event_id: str,
    input_data: str,
    *,
    input_type: str = "text/csv",
    output_data: str = "0.5,not Yes",
    output_type: str = "text/csv",
    encoding: str = "CSV",
    inference_time: str = "2026-11-26T10:15:00Z",
) -> dict[str, Any]:
    """A capture line with the keys of tests/fixtures/model-monitor/capture.jsonl."""

    def side(mode: str, data: str, content_type: str) -> dict[str, str]:
        if encoding == "BASE64":
            data = base64.b64encode(data.encode()).decode()
        return {
            "observedContentType": content_type,
            "mode": mode,
            "data": data,
            "encoding": encoding,
        }

    return {
        "eventMetadata": {"eventId": event_id, "inferenceTime": inference_time},
        "eventVersion": "0",
        "captureData": {
            "endpointInput": side("INPUT", input_data, input_type),
            "endpointOutput": side("OUTPUT", output_data, output_type),
        },
    }


def ground_truth_record(event_id: str, label: str) -> dict[str, Any]:
    """A ground-truth line with the keys of tests/fixtures/model-monitor/actuals.jsonl."""
    return {
        "groundTruthData": {"data": label, "encoding": "CSV"},
        "eventMetadata": {"eventId": event_id, "inferenceTime": "2026-11-26T10:15:00Z"},
        "eventVersion": "0",
    }


def hour_key(endpoint: str, hour: int, part: int = 0) -> str:
    """``<endpoint>/<variant>/yyyy/mm/dd/hh/<file>.jsonl`` as the endpoint writes capture."""
    return f"{endpoint}/AllTraffic/2026/11/26/{hour:02d}/capture-{part}.jsonl"


def write_jsonl(path: Path, records: Iterable[dict[str, Any]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def csv_capture(
    table: pa.Table, *, rows_per_request: int = 1, encoding: str = "CSV"
) -> list[dict[str, Any]]:
    """One capture record per request of ``rows_per_request`` headerless CSV rows."""
    rows = [list(r.values()) for r in table.to_pylist()]
    records = []
    for start in range(0, len(rows), rows_per_request):
        body = "\n".join(csv_line(r) for r in rows[start : start + rows_per_request])
        records.append(capture_record(f"evt-{start}", body, encoding=encoding))
    return records
