"""Endpoint data capture and ground-truth records: reading, decoding, turning into rows.

Capture files are JSON lines under ``<prefix>/<endpoint>/<variant>/yyyy/mm/dd/hh/*.jsonl``
(a local directory or an S3 prefix), one inference per line with input and output payloads
encoded as CSV, JSON or BASE64. Ground-truth files (``groundTruthData``) use the same layout;
their ``eventMetadata.eventId`` names the capture they label by the capture's ``inferenceId``
when it has one (the caller's ``InferenceId``), else by its ``eventId`` — Model Monitor's merge
rule (``CaptureRecord.merge_id``).
"""

from __future__ import annotations

import base64
import binascii
import csv
import io
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlops.core.s3uri import is_s3, split_s3_uri
from monitoring.errors import MonitoringInputError

Row = list[Any] | dict[str, Any]


@dataclass(frozen=True)
class Payload:
    """One side of a captured inference: the data as sent, and how to read it."""

    content_type: str
    data: str
    encoding: str

    def text(self) -> str:
        """The payload as text, BASE64 decoded when needed."""
        if self.encoding.upper() != "BASE64":
            return self.data
        try:
            return base64.b64decode(self.data, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError) as error:
            raise ValueError(f"BASE64 payload does not decode to UTF-8 text: {error}") from None


@dataclass(frozen=True)
class CaptureRecord:
    event_id: str
    inference_time: str
    endpoint_input: Payload | None
    endpoint_output: Payload | None
    inference_id: str | None = None
    source: str = ""  # the file (or s3:// object) and 1-based line it was read from
    line: int = 0

    @property
    def merge_id(self) -> str:
        """The id ground truth names this inference by: ``inferenceId`` if the caller gave one,
        else ``eventId`` ("If inferenceId is present in captured data records, Model Monitor
        uses it to merge captured data with Ground Truth records")."""
        return self.inference_id or self.event_id


@dataclass(frozen=True)
class GroundTruthRecord:
    event_id: str
    data: Payload


# --- locating and reading JSON lines -------------------------------------------------------


@dataclass(frozen=True)
class SkippedLine:
    """A capture or ground-truth line left out, and why: one bad line (or object) never
    stops a monitoring execution, and none is dropped without being counted and named.

    ``line`` is 1-based; 0 means the whole file (it could not be read at all).
    """

    source: str
    line: int
    reason: str  # short and shared by lines alike: "not UTF-8", "not JSON", …
    detail: str = ""


def iter_json_lines(
    source: Path | str,
    *,
    s3_client: Any = None,
    skipped: list[SkippedLine] | None = None,
) -> Iterator[tuple[str, int, dict[str, Any]]]:
    """``(file, line number, object)`` for every JSON object in the ``*.jsonl`` files under a
    directory, a file or an S3 prefix.

    Files are read in key order, which for the hour partitions is time order. A line that is
    not UTF-8, not JSON or not an object, and a file that cannot be read, are appended to
    ``skipped`` and left out. Lines end at ``\n`` only: a U+2028 inside a JSON string is text.
    """
    problems = skipped if skipped is not None else []
    for name, data in _files(source, s3_client, problems):
        for number, raw in enumerate(data.split(b"\n"), start=1):
            if number == 1 and raw.startswith(b"\xef\xbb\xbf"):
                raw = raw[3:]  # a UTF-8 byte-order mark
            if not raw.strip():
                continue
            record = _json_object(raw)
            if isinstance(record, SkippedLine):
                problems.append(SkippedLine(name, number, record.reason, record.detail))
            else:
                yield name, number, record


def _json_object(raw: bytes) -> dict[str, Any] | SkippedLine:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        return SkippedLine(
            "", 0, "not UTF-8", f"byte 0x{raw[error.start]:02x} at column {error.start + 1}"
        )
    try:
        record = _loads(text)
    except json.JSONDecodeError as error:
        return SkippedLine("", 0, "not JSON", f"{error.msg} at column {error.colno}")
    except ValueError as error:  # nested too deeply, an integer too long to convert
        return SkippedLine("", 0, "not JSON", str(error))
    if not isinstance(record, dict):
        return SkippedLine("", 0, "not a JSON object", type(record).__name__)
    return record


def _files(
    source: Path | str, s3_client: Any, skipped: list[SkippedLine]
) -> Iterator[tuple[str, bytes]]:
    text_source = str(source)
    if is_s3(text_source):
        if s3_client is None:
            raise MonitoringInputError(f"reading {text_source} needs an S3 client")
        yield from _s3_files(text_source, s3_client, skipped)
        return
    path = Path(source)
    if path.is_file():
        files = [path]
    elif path.is_dir():
        files = sorted(path.rglob("*.jsonl"))
    else:
        raise MonitoringInputError(f"capture location not found: {path}")
    for file in files:
        try:
            yield str(file), file.read_bytes()
        except OSError as error:
            skipped.append(SkippedLine(str(file), 0, "cannot read", error.strerror or str(error)))


def _s3_files(uri: str, s3_client: Any, skipped: list[SkippedLine]) -> Iterator[tuple[str, bytes]]:
    bucket, prefix = split_s3_uri(uri)
    keys: list[str] = []
    try:
        for page in s3_client.get_paginator("list_objects_v2").paginate(
            Bucket=bucket, Prefix=prefix
        ):
            keys.extend(o["Key"] for o in page.get("Contents", []) if o["Key"].endswith(".jsonl"))
    except s3_client.exceptions.ClientError as error:
        raise MonitoringInputError(f"cannot read {uri}: {error}") from None
    for key in sorted(keys):
        name = f"s3://{bucket}/{key}"
        try:
            body = s3_client.get_object(Bucket=bucket, Key=key)["Body"].read()
        except s3_client.exceptions.ClientError as error:  # e.g. deleted since the listing
            skipped.append(SkippedLine(name, 0, "cannot read", str(error)))
            continue
        yield name, bytes(body)


def summarize_skipped(skipped: Sequence[SkippedLine], *, examples: int = 5) -> list[str]:
    """One line per file: how many of its lines were left out, by reason, with line numbers."""
    by_file: dict[str, dict[str, list[int]]] = {}
    for item in skipped:
        by_file.setdefault(item.source, {}).setdefault(item.reason, []).append(item.line)
    lines = []
    for source, reasons in by_file.items():
        parts = []
        for reason, numbers in reasons.items():
            shown = ", ".join(str(n) for n in numbers[:examples] if n)
            more = f" and {len(numbers) - examples} more" if len(numbers) > examples else ""
            where = f" (line {shown}{more})" if shown else ""
            parts.append(f"{len(numbers)} {reason}{where}")
        lines.append(f"{source}: {'; '.join(parts)}")
    return lines


def _payload(raw: Any) -> Payload | None:
    if not isinstance(raw, dict) or "data" not in raw:
        return None
    return Payload(
        content_type=str(raw.get("observedContentType") or "text/csv"),
        data=str(raw["data"]),
        encoding=str(raw.get("encoding") or "CSV"),
    )


def read_capture(
    source: Path | str, *, s3_client: Any = None, skipped: list[SkippedLine] | None = None
) -> list[CaptureRecord]:
    """The capture records under ``source``; lines that are not capture records (no
    ``captureData``) or not readable go to ``skipped``."""
    problems = skipped if skipped is not None else []
    records = []
    for name, number, raw in iter_json_lines(source, s3_client=s3_client, skipped=problems):
        capture = raw.get("captureData")
        if not isinstance(capture, dict):
            problems.append(SkippedLine(name, number, "no captureData"))
            continue
        metadata = raw.get("eventMetadata")
        metadata = metadata if isinstance(metadata, dict) else {}
        inference_id = metadata.get("inferenceId")
        records.append(
            CaptureRecord(
                event_id=str(metadata.get("eventId", "")),
                inference_time=str(metadata.get("inferenceTime", "")),
                endpoint_input=_payload(capture.get("endpointInput")),
                endpoint_output=_payload(capture.get("endpointOutput")),
                inference_id=str(inference_id) if inference_id else None,
                source=name,
                line=number,
            )
        )
    return records


def read_ground_truth(
    source: Path | str, *, s3_client: Any = None, skipped: list[SkippedLine] | None = None
) -> list[GroundTruthRecord]:
    """The ground-truth records (``groundTruthData`` + ``eventMetadata.eventId``) under ``source``.

    ``event_id`` is the id the labeller used: a capture's ``merge_id``. Lines without both go
    to ``skipped``.
    """
    problems = skipped if skipped is not None else []
    records = []
    for name, number, raw in iter_json_lines(source, s3_client=s3_client, skipped=problems):
        payload = _payload(raw.get("groundTruthData"))
        metadata = raw.get("eventMetadata")
        event_id = metadata.get("eventId") if isinstance(metadata, dict) else None
        if payload is not None and event_id:
            records.append(GroundTruthRecord(event_id=str(event_id), data=payload))
        else:
            problems.append(SkippedLine(name, number, "no groundTruthData with an eventId"))
    return records


# --- decoding payloads ------------------------------------------------------------------------


def _is_json(content_type: str) -> bool:
    return "json" in content_type.lower()


def input_rows(payload: Payload) -> list[Row]:
    """The feature rows of a request: positional lists (CSV, JSON arrays) or by-name dicts.

    Accepts what the endpoint accepts (contracts §5): CSV rows without header,
    ``{"instances": [...]}``, a bare JSON object or array, and JSON lines.
    """
    text = payload.text()
    content_type = payload.content_type.lower()
    if "jsonlines" in content_type or "x-ndjson" in content_type:
        return [
            row for line in text.splitlines() if line.strip() for row in _json_rows(_loads(line))
        ]
    if _is_json(content_type):
        return _json_rows(_loads(text))
    return [list(fields) for fields in csv.reader(io.StringIO(text)) if fields]


def _loads(text: str) -> Any:
    """``json.loads`` whose every failure is a ValueError, as callers count those as an
    undecodable payload (a document nested past the recursion limit raises RecursionError)."""
    try:
        return json.loads(text)
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None


def _json_rows(document: Any) -> list[Row]:
    if isinstance(document, dict) and "instances" in document:
        document = document["instances"]
    if isinstance(document, dict):
        return [document]
    if isinstance(document, list):
        if all(isinstance(item, (dict, list)) for item in document):
            return list(document)
        return [document]
    return [[document]]


@dataclass(frozen=True)
class Prediction:
    probability: float
    label: str | None


def output_predictions(payload: Payload) -> list[Prediction]:
    """The predictions in a response: ``{"predictions": [{"probability", "label"}]}``, CSV
    ``probability,label`` rows, or bare probabilities (what the built-in XGBoost returns)."""
    text = payload.text()
    if _is_json(payload.content_type):
        predictions = []
        for line in text.splitlines() if "jsonlines" in payload.content_type.lower() else [text]:
            if line.strip():
                predictions.extend(_json_predictions(_loads(line)))
        return predictions
    rows = [fields for fields in csv.reader(io.StringIO(text)) if fields]
    return [Prediction(float(r[0]), r[1].strip() if len(r) > 1 else None) for r in rows]


def _json_predictions(document: Any) -> list[Prediction]:
    if isinstance(document, dict) and "predictions" in document:
        document = document["predictions"]
    items = document if isinstance(document, list) else [document]
    predictions = []
    for item in items:
        if isinstance(item, dict):
            score = item.get("probability", item.get("score"))
            if score is None:
                raise ValueError("a prediction object needs a 'probability'")
            label = item.get("label", item.get("predicted_label"))
            predictions.append(Prediction(float(score), None if label is None else str(label)))
        else:
            predictions.append(Prediction(float(item), None))
    return predictions


def ground_truth_labels(payload: Payload) -> list[str]:
    """The labels in a ground-truth record: CSV values / lines, or JSON scalars / lists."""
    text = payload.text()
    if _is_json(payload.content_type) or payload.encoding.upper() == "JSON":
        document = _loads(text)
        values = document if isinstance(document, list) else [document]
        return [str(v) for v in values]
    return [field.strip() for fields in csv.reader(io.StringIO(text)) for field in fields]


def rows_to_columns(
    rows: Sequence[Row], feature_order: Sequence[str]
) -> tuple[dict[str, list[str | None]], set[str]]:
    """Columns of text values (None = missing) and the set of columns any row provided.

    Positional rows take their names from ``feature_order`` (the baseline's feature order, as
    captured CSV has no header); positions beyond it become ``_c<i>``. A column no row
    provides is a missing column; one provided but blank is a missing value.
    """
    columns: dict[str, list[str | None]] = {name: [] for name in feature_order}
    provided: set[str] = set()
    for index, row in enumerate(rows):
        if isinstance(row, dict):
            items = [(str(k), v) for k, v in row.items()]
        else:
            items = [
                (feature_order[i] if i < len(feature_order) else f"_c{i}", v)
                for i, v in enumerate(row)
            ]
        for name, value in items:
            if name not in columns:
                columns[name] = [None] * index
            provided.add(name)
            columns[name].append(_text_value(value))
        for values in columns.values():
            if len(values) <= index:
                values.append(None)
    return columns, provided


def _text_value(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    text = str(value).strip()
    return text or None
