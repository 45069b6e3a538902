"""A transform job's ``DataProcessing``: what the model receives of each record, and what the
output holds for it (SageMaker Developer Guide, "Associate Prediction Results with Input
Records"; API ``DataProcessing``, ``BatchDataCaptureConfig``).

1. ``InputFilter`` selects the part of each input record sent to the model.
2. ``JoinSource=Input`` joins the *original* input record with the model's output record: for
   CSV the output fields follow the input fields in one row; for JSON the output becomes the
   input object's ``SageMakerOutput`` attribute, or, when the input record is not an object,
   a new object ``{"SageMakerInput": <input>, "SageMakerOutput": <output>}``.
3. ``OutputFilter`` selects from the joined record (or from the output record without a join).
4. With ``DataCaptureConfig.GenerateInferenceId``, each output record gets an inference id (a
   random UUID) and the job's start time (UTC): two more CSV fields, or the attributes
   ``SageMakerInferenceId`` and ``SageMakerInferenceTime`` of a JSON object.

A join pairs input and output records one to one, so the model must answer one output record
per input record: CSV and JSON Lines answers are split at newlines. An ``application/json``
answer is one document per request; it is one record only when each request holds one record
(``BatchStrategy=SingleRecord``), and how the service would split it otherwise is not
documented, so that combination is refused (``not supported locally``).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any

import numpy as np

from mlops.core.media import CSV, JSON, JSONLINES
from mlops.local_runtime.batch.jsonpath import FilterApplicationError, JsonPath
from mlops.local_runtime.batch.records import MalformedRecordError, csv_fields, csv_row

CSV_RECORDS = "csv"
JSON_RECORDS = "json"  # one JSON value per line (JSON Lines, or JSON split at lines)
DOCUMENT = "document"  # one JSON document per answer
OPAQUE = "opaque"  # anything else: bytes the job cannot look into

JSON_INPUT_TYPES = frozenset({JSON, JSONLINES, "application/x-jsonlines", "application/jsonl"})
JSON_OUTPUT_LINES = frozenset({JSONLINES, "application/x-jsonlines", "application/jsonl"})
SAGEMAKER_OUTPUT = "SageMakerOutput"
SAGEMAKER_INPUT = "SageMakerInput"
INFERENCE_ID = "SageMakerInferenceId"
INFERENCE_TIME = "SageMakerInferenceTime"
_HEX_DIGITS = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
# (first, end) hex digits of each UUID group and how many dashes precede it.
_UUID_GROUPS = ((0, 8, 0), (8, 12, 1), (12, 16, 2), (16, 20, 3), (20, 32, 4))


class ProcessingRefusedError(ValueError):
    """A DataProcessing the service refuses, or one not supported locally (the message says)."""


class RecordError(MalformedRecordError):
    """A record the job cannot process: ``number`` is its 1-based position in the object."""

    def __init__(self, number: int, reason: str) -> None:
        super().__init__(f"record {number}: {reason}")
        self.number = number
        self.reason = reason


def media(value: str | None) -> str:
    return (value or "").split(";", 1)[0].strip().lower()


def input_kind(content_type: str | None) -> str:
    """How input records are read: CSV rows, JSON values, or opaque bytes."""
    kind = media(content_type)
    if kind == CSV:
        return CSV_RECORDS
    if kind in JSON_INPUT_TYPES:
        return JSON_RECORDS
    return OPAQUE


def output_kind(accept: str | None) -> str:
    """How the model's answers are read; no Accept means the container's default, JSON."""
    kind = media(accept)
    if kind == CSV:
        return CSV_RECORDS
    if kind in JSON_OUTPUT_LINES:
        return JSON_RECORDS
    if kind in ("", JSON, "*/*"):
        return DOCUMENT
    return OPAQUE


@dataclass(frozen=True)
class DataProcessing:
    """The three DataProcessing steps plus inference ids, ready to run per record."""

    input_filter: JsonPath
    output_filter: JsonPath
    join_input: bool
    input_kind: str
    output_kind: str
    inference_time: str | None = None  # the job's start time when inference ids are generated
    single_record: bool = False
    _to_model: Callable[[str], str] = field(init=False, repr=False, compare=False)
    _skip: int = field(init=False, repr=False, compare=False)
    _pick: Callable[[list[str]], Any] | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._check()
        object.__setattr__(self, "_to_model", self._compile_input_filter())
        object.__setattr__(self, "_skip", _leading_fields_skipped(self))
        object.__setattr__(self, "_pick", _index_picker(self.output_filter))

    @property
    def passthrough(self) -> bool:
        """True when the output is the model's answers as they come (nothing per record)."""
        return not self.join_input and self.output_filter.is_root and self.inference_time is None

    def model_records(self, records: list[str], first: int) -> list[str]:
        """What the model receives of each record; ``first`` numbers the first one (for the
        RecordError naming a record the filter cannot apply to)."""
        if self.input_filter.is_root:
            return records
        skip = self._skip
        if skip and not any('"' in record for record in records):
            try:  # "$[k:]" on unquoted rows: the fields after the k-th comma, as they are
                return [record.split(",", skip)[skip] for record in records]
            except IndexError:
                pass  # a short row: the general path below gives its exact result
        selected: list[str] = []
        for offset, record in enumerate(records):
            try:
                selected.append(self._to_model(record))
            except MalformedRecordError as error:
                raise RecordError(first + offset, str(error)) from None
        return selected

    def output_records(self, inputs: Sequence[str], answers: Sequence[str]) -> list[str]:
        """The output records of one request: ``inputs`` are its original input records."""
        if len(answers) != len(inputs):
            raise MalformedRecordError(
                f"the model answered {len(answers)} record(s) for {len(inputs)}: a join needs "
                "one output record per input record"
            )
        if self.output_kind == CSV_RECORDS:
            return self._csv_output(inputs, answers)
        return [
            self._json_output(source, answer)
            for source, answer in zip(inputs, answers, strict=True)
        ]

    # --------------------------------------------------------------------------- checks

    def _check(self) -> None:
        if not self.input_filter.is_root:
            if self.input_kind == OPAQUE:
                raise ProcessingRefusedError(
                    "InputFilter needs CSV or JSON input (ContentType text/csv, "
                    "application/json or application/jsonlines)"
                )
            if self.input_kind == CSV_RECORDS and not self.input_filter.index_based:
                raise ProcessingRefusedError(
                    f"InputFilter {self.input_filter.text}: a CSV record is an array of "
                    "fields, so only index-based paths apply (e.g. $[0], $[1:])"
                )
        if self.passthrough:
            return
        if self.output_kind == OPAQUE or (self.input_kind == OPAQUE and self.join_input):
            raise ProcessingRefusedError(
                "JoinSource, OutputFilter and inference ids need CSV or JSON input and output"
            )
        if self.output_kind == DOCUMENT and not self.single_record:
            raise ProcessingRefusedError(
                "not supported locally: JoinSource, OutputFilter or inference ids with "
                "Accept application/json and BatchStrategy MultiRecord (one JSON document "
                "answers a whole request; how the service splits it into records is not "
                "documented): use Accept application/jsonlines or text/csv"
            )
        if self.join_input and (self.input_kind == CSV_RECORDS) != (
            self.output_kind == CSV_RECORDS
        ):
            raise ProcessingRefusedError(
                "JoinSource=Input needs the same format in and out: CSV input with Accept "
                "text/csv, JSON input with a JSON Accept"
            )
        joined_csv = self.output_kind == CSV_RECORDS
        if joined_csv and not self.output_filter.is_root and not self.output_filter.index_based:
            raise ProcessingRefusedError(
                f"OutputFilter {self.output_filter.text}: a CSV record is an array of fields, "
                "so only index-based paths apply (e.g. $[0,-1])"
            )

    # --------------------------------------------------------------------------- input

    def _compile_input_filter(self) -> Callable[[str], str]:
        path = self.input_filter
        if path.is_root:
            return _identity
        if self.input_kind == CSV_RECORDS:
            return _csv_selector(path)

        def select_json(record: str) -> str:
            try:
                value = json.loads(record)
            except ValueError as error:
                raise MalformedRecordError(f"not valid JSON: {error}") from None
            return _dumps(_apply(path, value))

        return select_json

    # --------------------------------------------------------------------------- output

    def _csv_output(self, inputs: Sequence[str], answers: Sequence[str]) -> list[str]:
        keep_all = self.output_filter.is_root
        if self.join_input and keep_all and self.inference_time is not None:
            time_field = self.inference_time
            return [
                f"{source},{answer},{identifier},{time_field}"
                for source, answer, identifier in zip(
                    inputs, answers, new_inference_ids(len(answers)), strict=True
                )
            ]
        suffixes = self._inference_suffixes(len(answers))
        if self.join_input and keep_all:
            joined = [f"{source},{answer}" for source, answer in zip(inputs, answers, strict=True)]
        elif self.join_input:
            joined = [
                self._filtered_row(f"{source},{answer}")
                if '"' not in source and '"' not in answer
                else csv_row(
                    _apply_fields(self.output_filter, csv_fields(source) + csv_fields(answer))
                )
                for source, answer in zip(inputs, answers, strict=True)
            ]
        elif keep_all:
            joined = list(answers)
        else:
            joined = [
                csv_row(_apply_fields(self.output_filter, csv_fields(answer))) for answer in answers
            ]
        if suffixes is None:
            return joined
        return [row + suffix for row, suffix in zip(joined, suffixes, strict=True)]

    def _filtered_row(self, row: str) -> str:
        """OutputFilter on an unquoted CSV row: its fields hold no comma, quote or newline,
        so the selection joins back with commas as it is."""
        fields = row.split(",")
        if self._pick is not None:
            try:
                return ",".join(self._pick(fields))
            except IndexError:
                pass  # an index outside the row: the general path names it
        return ",".join(_apply_fields(self.output_filter, fields))

    def _json_output(self, source: str, answer: str) -> str:
        output = _loads(answer, "the model's output record")
        if self.join_input:
            value = _loads(source, "the input record")
            if isinstance(value, dict):
                output = {**value, SAGEMAKER_OUTPUT: output}
            else:
                output = {SAGEMAKER_INPUT: value, SAGEMAKER_OUTPUT: output}
        if not self.output_filter.is_root:
            output = _apply(self.output_filter, output)
        if self.inference_time is not None:
            if not isinstance(output, dict):
                raise MalformedRecordError(
                    "not supported locally: inference ids on a JSON output record that is not "
                    "an object"
                )
            output = {
                **output,
                INFERENCE_ID: new_inference_id(),
                INFERENCE_TIME: self.inference_time,
            }
        return _dumps(output)

    def _inference_suffixes(self, count: int) -> list[str] | None:
        if self.inference_time is None:
            return None
        return [f",{identifier},{self.inference_time}" for identifier in new_inference_ids(count)]


def new_inference_id() -> str:
    """A random UUID (version 4), as the service generates one per output record."""
    return new_inference_ids(1)[0]


def new_inference_ids(count: int) -> list[str]:
    """``count`` random version-4 UUIDs, made in bulk (a million in well under a second)."""
    raw = np.frombuffer(os.urandom(16 * count), dtype=np.uint8).reshape(count, 16).copy()
    raw[:, 6] = (raw[:, 6] & 0x0F) | 0x40  # version 4
    raw[:, 8] = (raw[:, 8] & 0x3F) | 0x80  # RFC 4122 variant
    digits = np.empty((count, 32), dtype=np.uint8)
    digits[:, 0::2] = _HEX_DIGITS[raw >> 4]
    digits[:, 1::2] = _HEX_DIGITS[raw & 0x0F]
    text = np.full((count, 36), ord("-"), dtype=np.uint8)
    for start, end, offset in _UUID_GROUPS:
        text[:, start + offset : end + offset] = digits[:, start:end]
    joined = text.tobytes().decode("ascii")
    return [joined[i : i + 36] for i in range(0, 36 * count, 36)]


def _identity(record: str) -> str:
    return record


def _csv_selector(path: JsonPath) -> Callable[[str], str]:
    """The InputFilter on one CSV row."""

    def select(record: str) -> str:
        return csv_row(_apply_fields(path, csv_fields(record)))

    return select


def _leading_fields_skipped(processing: DataProcessing) -> int:
    """k when the InputFilter is ``$[k:]`` (k > 0) on CSV input, else 0."""
    path = processing.input_filter
    if processing.input_kind != CSV_RECORDS or not path.index_based:
        return 0
    selector = path.segments[0]
    skip = getattr(selector, "open_from", None)
    if getattr(selector, "indexes", None) == () and isinstance(skip, int) and skip > 0:
        return skip
    return 0


def _index_picker(path: JsonPath) -> Callable[[list[str]], Any] | None:
    """``itemgetter`` of a filter that is a list of two or more indexes (``$[0,-2,-1]``):
    the same selection, negative indexes included, without a Python loop per row."""
    if not path.index_based:
        return None
    selector = path.segments[0]
    indexes = getattr(selector, "indexes", ())
    if getattr(selector, "open_from", None) is not None or len(indexes) < 2:
        return None
    return itemgetter(*indexes)


def _apply_fields(path: JsonPath, fields: list[str]) -> list[str]:
    try:
        return path.apply_fields(fields)
    except FilterApplicationError as error:
        raise MalformedRecordError(str(error)) from None


def _apply(path: JsonPath, value: Any) -> Any:
    try:
        return path.apply(value)
    except FilterApplicationError as error:
        raise MalformedRecordError(str(error)) from None


def _loads(text: str, what: str) -> Any:
    try:
        return json.loads(text)
    except ValueError as error:
        raise MalformedRecordError(f"{what} is not valid JSON: {error}") from None


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
