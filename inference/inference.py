"""Serving handlers for the SageMaker XGBoost 3.2-0 container (script mode, ``SAGEMAKER_PROGRAM``).

The endpoint takes **raw** feature rows and applies the training-time encoding itself (the
``feature_spec.json`` packed next to the booster, contracts §3), so callers never see encoded
columns and serving cannot drift from training. Self-contained on purpose: the container ships
only ``/opt/ml/model/code``, so this module imports the standard library, numpy, xgboost and
(inside the container only) the image's serving toolkit, and nothing from the repository.

The container calls ``model_fn(model_dir)`` once and ``transform_fn(model, body, content_type,
accept)`` per request. ``transform_fn`` is ``read_input`` → ``predict`` → ``write_output``:

Requests (``read_input``)
    ``text/csv``              rows in the spec's feature order, no header, quoted fields allowed
    ``application/json``      ``{"instances": [{name: value, ...} | [v1, v2, ...], ...]}``
                              (a bare list of instances is accepted too); extra keys in an object
                              are ignored, a missing feature is an error, ``null`` means missing
    ``application/jsonlines`` one object or array per line
    No Content-Type at all is JSON: the toolkit's ``Request.content_type`` defaults to it.

Responses (``write_output``, chosen by ``Accept``; absent or ``*/*`` gives JSON), by the spec's
``problem_type``; one answer per row, in request order:

    ==============  =============================================  ============================
    problem type    ``application/json`` (``{"predictions": [...]}``; text/csv row (no header)
                    ``application/jsonlines``: one object a line)
    ==============  =============================================  ============================
    binary          ``{"probability": 0.83, "label": "Yes"}``      ``0.830000019,Yes``
    multiclass      ``{"label": "b", "probabilities": {"a": 0.1,   ``b,0.100000001,0.800000012,
                    "b": 0.8, "c": 0.1}}``                         0.100000001``
    regression      ``{"value": 151.25}``                          ``151.25``
    ==============  =============================================  ============================

    Numbers are the booster's float32 outputs printed with 9 significant digits (they
    round-trip exactly). binary: ``probability`` is the positive class's; ``label`` is the
    spec's ``positive_label`` when ``probability >= prediction_threshold``, otherwise the
    spec's ``negative_label`` if the spec records one, else ``"not <positive_label>"``.
    multiclass: ``label`` is the most probable class (the first on a tie), ``probabilities``
    one per class of the spec's ``classes``, in that order (the CSV row's order too).
    regression: ``value`` is the prediction.

Unseen categories
    A categorical value outside the training vocabulary is scored as a missing value (all of
    the feature's one-hot columns zero, exactly how training encoded a blank cell), so one new
    value never fails a batch. Each response says how many cells were unseen in the
    ``X-Mlops-Unseen-Categories`` header, and a warning on the ``inference`` logger (the
    endpoint log: CloudWatch on AWS) names the columns and values.

Errors: why ``transform_fn`` and not ``input_fn``/``predict_fn``/``output_fn``
    The image's single-model serving stack (sagemaker-containers ``Transformer`` + ``Worker``,
    a Flask app under gunicorn) wraps every exception a handler raises in its ``ClientError``
    and answers it with a bare HTML ``500 Internal Server Error``: a caller would see
    ``ModelError`` with ``OriginalStatusCode`` 500 for its own bad input. The one thing that
    stack passes through with its own status is a response object returned by
    ``transform_fn``. So every client mistake raises an :class:`InferenceError` (a
    ``ValueError``) with ``status_code`` (400, 406 or 415) and a ``message`` naming the
    problem (row, column, value; rows numbered from 1 in request order), and ``transform_fn``
    turns it into a response with that status and the JSON body
    ``{"error": "<class>", "error-message": "<message>"}`` (the keys of the toolkit's own error
    responses). Anything else (a bug, a broken model) stays an exception: a 500, as the
    container answers it. The 6 MB payload limit is enforced in front of the container.

    Inside the container the response is the toolkit's ``worker.Response`` (Flask); elsewhere
    (the local endpoint, tests) it is :class:`Response`, which has the same ``status_code``,
    ``mimetype``, ``headers`` and ``get_data()``. Request headers (the caller's
    ``CustomAttributes``, echoed back so that an application can trace its requests) come from
    Flask's request context in the container and from :data:`REQUEST_HEADERS`, which the local
    endpoint sets, elsewhere. This is the single-model stack the template deploys; a
    multi-model endpoint's server (MMS) would not understand these responses.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import math
import os
import sys
import warnings
from collections.abc import Iterator, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, overload

import numpy as np
import xgboost as xgb

try:  # inside the SageMaker XGBoost container: the serving toolkit's Flask response class
    from sagemaker_containers.beta.framework import (  # type: ignore[import-not-found]
        worker as _toolkit_worker,
    )
except ImportError:  # the local endpoint, tests, an application
    _toolkit_worker = None

CSV = "text/csv"
JSON = "application/json"
JSONLINES = "application/jsonlines"
_JSONLINES_ALIASES = ("application/jsonlines", "application/x-jsonlines", "application/jsonl")
SUPPORTED_CONTENT_TYPES = (CSV, JSON, JSONLINES)
SUPPORTED_ACCEPTS = (JSON, CSV, JSONLINES)
MODEL_FILE = "xgboost-model"
SPEC_FILE = "feature_spec.json"
PROBLEM_TYPES = ("binary", "multiclass", "regression")
NTHREAD_ENV = "PREDICT_NTHREAD"
UNSEEN_CATEGORIES_HEADER = "X-Mlops-Unseen-Categories"
CUSTOM_ATTRIBUTES_HEADER = "X-Amzn-SageMaker-Custom-Attributes"
_MAX_VALUE_IN_MESSAGE = 40
_MAX_UNSEEN_IN_LOG = 5
# A CSV body of at least this many bytes (about a dozen rows) is parsed and encoded with array
# operations over its bytes (``CsvRows``); below it, the per-cell path is cheaper than numpy's
# fixed costs. Measured on 2 cores: 1000 rows ~4x faster, 1 row 3x slower that way.
_ARRAY_PATH_MIN_BYTES = 1024
# Bytes that make a body irregular for the array path: a quote (quoted fields need the csv
# module), NUL (numpy's fixed-width strings drop trailing NULs), and the line boundaries other
# than \n that ``str.splitlines`` also splits on (\r is handled separately: \r\n is common).
_IRREGULAR_BYTES = b'"\x00\x0b\x0c\x1c\x1d\x1e'
_IRREGULAR_LINE_BREAKS = ("\x85", "\u2028", "\u2029")
# The decimals the array path converts itself: an optional sign, then at most 16 characters,
# digits with at most one point, 1-15 digits. Then mantissa and 10**scale are exact doubles,
# so mantissa / 10**scale is correctly rounded: exactly what ``float(text)`` gives. Anything
# else (exponents, spaces, text, longer numbers) goes to ``float()``.
_MAX_DECIMAL_DIGITS = 15
_DECIMAL_WINDOW = 16  # characters after the sign: two 64-bit words
_POWERS_OF_TEN = np.array([10.0**power for power in range(_DECIMAL_WINDOW)])
_POWERS_OF_TEN_INT = 10 ** np.arange(_DECIMAL_WINDOW + 1, dtype=np.uint64)
# Categories up to this many bytes are matched as 64-bit words; longer vocabularies take the
# per-cell path. Also the zero padding after a body, so that cell-wide gathers stay inside.
_MAX_KEY_BYTES = 64
_HASH_MULTIPLIER = np.uint64(0x9E3779B97F4A7C15)
# Word k of a cell is the 8 bytes from (start + 8k) in memory order; the array path reads them
# as little-endian integers (the first byte least significant), as x86 and ARM do.
_LITTLE_ENDIAN = sys.byteorder == "little"
_FIRST_BYTES = (  # [k]: a word whose first k bytes are 0xFF, the rest 0
    ((np.arange(8) < np.arange(9)[:, None]) * np.uint8(0xFF)).astype(np.uint8).view(np.uint64)[:, 0]
)
_LAST_BYTES = _FIRST_BYTES[8] ^ _FIRST_BYTES[::-1]  # [k]: a word whose last k bytes are 0xFF
# What to keep of a cell's word w (from start + 8w) given its length: _KEPT[w, length].
_KEPT = np.array(
    [
        [_FIRST_BYTES[min(max(length - 8 * word, 0), 8)] for length in range(_MAX_KEY_BYTES + 1)]
        for word in range(_MAX_KEY_BYTES // 8)
    ]
)
# What to keep of the two words that end a decimal, given its length after the sign (≤ 16).
_WINDOW_HIGH = _LAST_BYTES[[min(max(length - 8, 0), 8) for length in range(_DECIMAL_WINDOW + 1)]]
_WINDOW_LOW = _LAST_BYTES[[min(length, 8) for length in range(_DECIMAL_WINDOW + 1)]]
_DIGIT_0, _POINT, _MINUS, _PLUS, _COMMA, _NEWLINE = b"0.-+,\n"

logger = logging.getLogger("inference")

#: Headers of the request being served, lower-cased, for code outside the container: the local
#: endpoint sets them around each ``transform_fn`` call (inside the container they come from
#: Flask's request context instead).
REQUEST_HEADERS: ContextVar[Mapping[str, str] | None] = ContextVar("REQUEST_HEADERS", default=None)


class InferenceError(ValueError):
    """A client mistake; ``status_code`` is the HTTP status, ``message`` says what to fix."""

    status_code = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class BadRequestError(InferenceError):
    """Malformed body, wrong shape or a value that cannot be encoded (HTTP 400)."""

    status_code = 400


class UnsupportedContentTypeError(InferenceError):
    """The request's Content-Type is not one this endpoint parses (HTTP 415)."""

    status_code = 415


class UnsupportedAcceptError(InferenceError):
    """The request's Accept names no response type this endpoint produces (HTTP 406)."""

    status_code = 406


class Response:
    """What ``transform_fn`` answers outside the container: the toolkit ``worker.Response``'s
    interface (a Flask response) without Flask. ``mimetype`` carries no charset; the server
    writing it out adds what Flask would (``text/csv; charset=utf-8``)."""

    def __init__(self, body: bytes, status: int, mimetype: str, headers: Mapping[str, str]) -> None:
        self.status_code = status
        self.mimetype = mimetype
        self.headers = dict(headers)
        self._body = body

    def get_data(self) -> bytes:
        return self._body


@dataclass(frozen=True, eq=False)
class ByteVocabulary:
    """A categorical vocabulary as zero-padded 64-bit words, to look a whole column up at once.

    Each key's words are hashed to one ``uint64`` (sorted, all distinct); a cell is the key
    whose hash ``searchsorted`` finds only if all its words are equal too.
    """

    hashes: np.ndarray  # sorted
    words: np.ndarray  # (keys, width // 8), in ``hashes`` order
    codes: np.ndarray  # each key's category index, in ``hashes`` order
    width: int  # bytes: the longest key's, rounded up to whole words


@dataclass(frozen=True)
class Feature:
    """One raw feature: where its encoded columns start and, if categorical, its vocabulary."""

    name: str
    kind: str  # "numeric" | "categorical"
    offset: int
    categories: dict[str, int]
    lookup: dict[str, int]  # categories plus "" → -2 (missing: all zeros)
    # The vocabulary for the array path; None when a key would not compare byte for byte
    # (surrounding spaces, NUL, not encodable): that column then takes the per-cell path.
    byte_vocabulary: ByteVocabulary | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Model:
    """What ``model_fn`` returns: the booster plus the encoding plan derived from the spec."""

    booster: xgb.Booster
    features: tuple[Feature, ...]
    encoded_width: int
    positive_label: str
    negative_label: str
    threshold: float
    problem_type: str = "binary"
    classes: tuple[str, ...] = ()  # multiclass: the class of each probability column


class CsvRows(Sequence[list[str]]):
    """The rows of a plain CSV body, as each cell's byte span, found with array operations.

    Plain: no quotes, ``\\n`` (or ``\\r\\n``) line breaks and nothing else ``str.splitlines``
    splits on, no NUL, the same number of cells in every row. Nothing is split into Python
    strings unless asked for (a row for a message, a column that ``float()`` must judge), so a
    1000-row body costs a few array passes instead of 14,000 ``str`` objects.
    """

    def __init__(self, data: bytes, starts: np.ndarray, lengths: np.ndarray) -> None:
        self.data = data
        # zero padded on both sides, so that reading a whole window before or after any cell
        # stays inside; a cell starting at data[i] starts at padded[i + _DECIMAL_WINDOW]
        self.padded = np.frombuffer(
            bytes(_DECIMAL_WINDOW) + data + bytes(_MAX_KEY_BYTES), dtype=np.uint8
        )
        # the 8 bytes from each position as one word (unaligned): a cell's words in one gather
        self.words = np.ndarray(
            shape=(len(self.padded) - 7,), dtype=np.uint64, buffer=self.padded, strides=(1,)
        )
        self.starts = starts  # (columns, rows): where each cell begins in ``data``
        self.lengths = lengths  # (columns, rows): its length in bytes

    @property
    def width(self) -> int:
        return int(self.starts.shape[0])

    def __len__(self) -> int:
        return int(self.starts.shape[1])

    @overload
    def __getitem__(self, index: int) -> list[str]: ...

    @overload
    def __getitem__(self, index: slice) -> list[list[str]]: ...

    def __getitem__(self, index: int | slice) -> list[str] | list[list[str]]:
        if isinstance(index, slice):
            return [self[row] for row in range(len(self))[index]]
        row = range(len(self))[index]  # negative indexes, IndexError past the end
        return self._cells(self.starts[:, row], self.lengths[:, row])

    def __iter__(self) -> Iterator[list[str]]:
        return (self[row] for row in range(len(self)))

    def column(self, index: int) -> list[str]:
        """One column's cells as text (what the per-cell path would have split)."""
        return self._cells(self.starts[index], self.lengths[index])

    def _cells(self, starts: np.ndarray, lengths: np.ndarray) -> list[str]:
        data = self.data
        return [
            data[start : start + length].decode("utf-8")
            for start, length in zip(starts.tolist(), lengths.tolist(), strict=True)
        ]


@dataclass(frozen=True)
class Request:
    """What ``read_input`` returns: rows by position (CSV, arrays) and/or objects by name.

    ``items`` keeps request order; each item is a ``list`` (positional) or a ``dict``. A plain
    CSV body of many rows is a ``CsvRows`` (a sequence of rows that ``encode`` reads as arrays).
    """

    items: Sequence[Any]
    content_type: str


@dataclass(frozen=True)
class Prediction:
    """What ``predict`` returns: the booster's outputs and how to label them.

    ``probabilities`` is per problem type: binary the positive-class probability per row,
    multiclass one row of class probabilities per request row (columns in ``classes`` order),
    regression the predicted value per row. ``unseen`` counts, per categorical feature and
    value, the cells whose value was not in the training vocabulary (scored as missing).
    """

    probabilities: np.ndarray
    positive_label: str
    negative_label: str
    threshold: float
    unseen: Mapping[str, Mapping[str, int]] = field(default_factory=dict)
    problem_type: str = "binary"
    classes: tuple[str, ...] = ()

    @property
    def unseen_count(self) -> int:
        """Cells of this request scored as missing because their category was unseen."""
        return sum(sum(values.values()) for values in self.unseen.values())


# --------------------------------------------------------------------------- model_fn


def model_fn(model_dir: str) -> Model:
    """Load ``xgboost-model`` and ``feature_spec.json`` from the model directory (§4)."""
    spec_path = os.path.join(model_dir, SPEC_FILE)
    with open(spec_path, encoding="utf-8") as handle:  # a missing file names itself
        try:
            spec = json.load(handle)
        except ValueError as error:
            raise ValueError(f"{SPEC_FILE} is not valid JSON: {error}") from error
    booster = xgb.Booster()
    try:
        with warnings.catch_warnings():  # "unknown file format, using UBJSON": that is the format
            warnings.simplefilter("ignore", UserWarning)
            booster.load_model(os.path.join(model_dir, MODEL_FILE))
    except xgb.core.XGBoostError as error:  # its message names neither the file nor the fault
        raise ValueError(f"{MODEL_FILE} is missing or not a readable XGBoost model") from error
    # One OpenMP thread per prediction: the parallelism is concurrent requests (the container
    # runs one model-server worker per CPU, the local server a thread pool), and per-request
    # OpenMP teams oversubscribe the cores. Measured on 2 cores: 1000 rows in ~0.2 ms with one
    # thread, 3-20 ms with the default. Override with PREDICT_NTHREAD for big-batch endpoints.
    booster.set_param({"nthread": int(os.environ.get(NTHREAD_ENV, "1"))})
    return build_model(booster, spec)


def build_model(booster: xgb.Booster, spec: dict[str, Any]) -> Model:
    """Derive the encoding plan from a spec and check it matches the booster's columns."""
    features: list[Feature] = []
    offset = 0
    for entry in spec["features"]:
        if entry["type"] == "numeric":
            features.append(Feature(entry["name"], "numeric", offset, {}, {}))
            offset += 1
        elif entry["type"] == "categorical":
            vocabulary = {str(value): index for index, value in enumerate(entry["categories"])}
            lookup = {**vocabulary, "": -2}
            features.append(
                Feature(
                    entry["name"],
                    "categorical",
                    offset,
                    vocabulary,
                    lookup,
                    _byte_vocabulary(vocabulary),
                )
            )
            offset += len(vocabulary)
        else:
            raise ValueError(f"feature {entry['name']!r}: unknown type {entry['type']!r} in spec")
    encoded = list(spec.get("encoded_columns") or [])
    if encoded and len(encoded) != offset:
        raise ValueError(
            f"feature spec encodes {offset} columns but lists {len(encoded)} encoded_columns"
        )
    if booster.feature_names and encoded and list(booster.feature_names) != encoded:
        raise ValueError("booster feature_names differ from the spec's encoded_columns")
    booster_width = booster.num_features()
    if booster_width != offset:
        raise ValueError(f"booster expects {booster_width} columns, the spec encodes {offset}")
    problem_type = str(spec.get("problem_type", "binary"))
    if problem_type not in PROBLEM_TYPES:
        raise ValueError(f"feature spec: unknown problem_type {problem_type!r}")
    classes = tuple(str(label) for label in spec.get("classes") or ())
    if problem_type == "multiclass" and len(classes) < 2:
        raise ValueError("feature spec: a multiclass model needs its classes")
    positive = str(spec.get("positive_label") or "")
    return Model(
        booster=booster,
        features=tuple(features),
        encoded_width=offset,
        positive_label=positive,
        negative_label=str(spec.get("negative_label") or f"not {positive}"),
        threshold=float(spec.get("prediction_threshold", 0.5)),
        problem_type=problem_type,
        classes=classes if problem_type == "multiclass" else (),
    )


def _byte_vocabulary(vocabulary: Mapping[str, int]) -> ByteVocabulary | None:
    """The array path's form of a vocabulary, or None when a key would not compare byte for
    byte (surrounding spaces, NUL, not encodable, too long) or two keys' hashes collide."""
    keys: list[bytes] = []
    for text in vocabulary:
        if not text or text != text.strip() or "\x00" in text:
            return None
        try:
            keys.append(text.encode("utf-8"))
        except UnicodeEncodeError:  # a lone surrogate from the spec's JSON
            return None
    if not keys or max(map(len, keys)) > _MAX_KEY_BYTES:
        return None
    width = -(-max(map(len, keys)) // 8) * 8
    table = np.zeros((len(keys), width), dtype=np.uint8)
    for row, key in enumerate(keys):
        table[row, : len(key)] = np.frombuffer(key, dtype=np.uint8)
    words = table.view(np.uint64)
    hashes = _hash_words(words)
    if len(np.unique(hashes)) != len(keys):
        return None
    order = np.argsort(hashes)
    codes = np.array(list(vocabulary.values()), dtype=np.int64)
    return ByteVocabulary(hashes[order], words[order], codes[order], width)


def _hash_words(words: np.ndarray) -> np.ndarray:
    """One ``uint64`` per row of ``words`` (wrapping arithmetic); equal rows, equal hashes."""
    hashes = words[:, 0].copy()
    for column in range(1, words.shape[1]):
        hashes *= _HASH_MULTIPLIER
        hashes ^= words[:, column]
    return hashes


# --------------------------------------------------------------------------- transform_fn


def transform_fn(
    model: Model, request_body: bytes | bytearray | str, request_content_type: str, accept: str
) -> Any:
    """One request, end to end; a client mistake becomes a 4xx response (module docstring)."""
    attributes = _request_header(CUSTOM_ATTRIBUTES_HEADER)
    headers = {CUSTOM_ATTRIBUTES_HEADER: attributes} if attributes else {}
    try:
        prediction = predict(read_input(request_body, request_content_type), model)
        body, media = write_output(prediction, accept)
    except InferenceError as error:
        logger.info("answered %d: %s", error.status_code, error.message)
        document = {"error": type(error).__name__, "error-message": error.message}
        return _response(json.dumps(document).encode("utf-8"), error.status_code, JSON, headers)
    unseen = prediction.unseen_count
    if unseen:
        logger.warning(
            "scored %d unseen categor%s as missing: %s",
            unseen,
            "y" if unseen == 1 else "ies",
            _describe_unseen(prediction.unseen),
        )
    headers[UNSEEN_CATEGORIES_HEADER] = str(unseen)
    return _response(body, 200, media, headers)


def _response(body: bytes, status: int, mimetype: str, headers: Mapping[str, str]) -> Any:
    if _toolkit_worker is not None:
        return _toolkit_worker.Response(
            response=body, status=status, headers=dict(headers), mimetype=mimetype
        )
    return Response(body, status, mimetype, headers)


def _request_header(name: str) -> str | None:
    if _toolkit_worker is not None:
        import flask  # the toolkit's Worker is a Flask app: this runs in its request context

        if flask.has_request_context():
            value: str | None = flask.request.headers.get(name)
            return value
    headers = REQUEST_HEADERS.get()
    return headers.get(name.lower()) if headers else None


def _describe_unseen(unseen: Mapping[str, Mapping[str, int]]) -> str:
    parts = [
        f"{column}={_show(value)} ×{count}"
        for column, values in unseen.items()
        for value, count in values.items()
    ]
    shown = ", ".join(parts[:_MAX_UNSEEN_IN_LOG])
    return shown + (
        f" and {len(parts) - _MAX_UNSEEN_IN_LOG} more" if len(parts) > _MAX_UNSEEN_IN_LOG else ""
    )


# --------------------------------------------------------------------------- read_input


def read_input(request_body: bytes | bytearray | str, request_content_type: str | None) -> Request:
    """Parse the body by content type; validation against the spec happens in ``predict``.

    Only what the body itself can tell is checked here: encoding, syntax, emptiness and the
    shape of JSON instances.
    """
    content_type = _media_type(request_content_type)
    if content_type not in SUPPORTED_CONTENT_TYPES:
        raise UnsupportedContentTypeError(
            f"unsupported content type {request_content_type or '(none)'!r}; "
            f"send one of {', '.join(SUPPORTED_CONTENT_TYPES)}"
        )
    text = _decode(request_body)
    if not text.strip():
        raise BadRequestError("empty request body: send at least one row")
    if content_type == CSV:
        rows = _csv_rows(request_body, text)
        return Request(rows if rows is not None else _parse_csv(text), CSV)
    if content_type == JSON:
        return Request(_parse_json(text), JSON)
    return Request(_parse_jsonlines(text), JSONLINES)


def _media_type(header: str | None) -> str:
    if not header:
        return ""
    media = header.split(";", 1)[0].strip().lower()
    return JSONLINES if media in _JSONLINES_ALIASES else media


def _decode(body: bytes | bytearray | str) -> str:
    if isinstance(body, str):
        return body
    try:
        return bytes(body).decode("utf-8")
    except UnicodeDecodeError as error:
        raise BadRequestError(
            f"request body is not valid UTF-8 (byte {error.start}: {body[error.start : error.start + 1]!r})"
        ) from None


def _parse_csv(text: str) -> list[Any]:
    text = text.rstrip("\r\n")
    if '"' not in text:  # fast path: no quoting, so a comma is always a separator
        return [line.split(",") for line in text.splitlines()]
    try:
        return list(csv.reader(io.StringIO(text), strict=True))
    except csv.Error as error:
        raise BadRequestError(f"malformed CSV: {error}") from None


def _csv_rows(body: bytes | bytearray | str, text: str) -> CsvRows | None:
    """``CsvRows`` for a plain body of many rows, else None (``_parse_csv`` reads it)."""
    if isinstance(body, bytes | bytearray):
        data = bytes(body)
    else:
        try:
            data = text.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate in a str body
            return None
    if len(data) < _ARRAY_PATH_MIN_BYTES or not _LITTLE_ENDIAN:
        return None
    if b"\r" in data:
        data = data.replace(b"\r\n", b"\n")
        if b"\r" in data:
            return None
    if any(byte in data for byte in _IRREGULAR_BYTES):
        return None
    if not data.isascii() and any(mark in text for mark in _IRREGULAR_LINE_BREAKS):
        return None
    end = len(data.rstrip(b"\n"))
    array = np.frombuffer(data, dtype=np.uint8, count=end)
    separators = np.flatnonzero((array == _COMMA) | (array == _NEWLINE))
    newline = array[separators] == _NEWLINE
    rows = int(np.count_nonzero(newline)) + 1
    width = int(np.argmax(newline)) + 1 if rows > 1 else len(separators) + 1
    if len(separators) != rows * width - 1 or not newline[width - 1 :: width].all():
        return None  # rows of different widths: the per-cell path names the first wrong one
    starts = np.empty(rows * width, dtype=np.intp)
    starts[0] = 0
    starts[1:] = separators + 1
    lengths = np.empty(rows * width, dtype=np.intp)
    lengths[:-1] = separators
    lengths[-1] = end
    lengths -= starts
    return CsvRows(data, _by_column(starts, rows, width), _by_column(lengths, rows, width))


def _by_column(cells: np.ndarray, rows: int, width: int) -> np.ndarray:
    return np.ascontiguousarray(cells.reshape(rows, width).T)


def _parse_json(text: str) -> list[Any]:
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise BadRequestError(
            f"invalid JSON at line {error.lineno} column {error.colno}: {error.msg}"
        ) from None
    except (RecursionError, ValueError) as error:  # nesting too deep, a number too long
        raise BadRequestError(f"invalid JSON: {_unparsable(error)}") from None
    if isinstance(document, dict):
        if "instances" not in document:
            raise BadRequestError(
                'JSON body must be {"instances": [...]} (or a list of instances); '
                f"got an object with keys {sorted(document)[:5]}"
            )
        document = document["instances"]
    if not isinstance(document, list):
        raise BadRequestError(f'"instances" must be a list, got {type(document).__name__}')
    if not document:
        raise BadRequestError('"instances" is empty: send at least one instance')
    for row, item in enumerate(document, start=1):
        if not isinstance(item, dict | list):
            raise BadRequestError(
                f"instance {row}: expected an object keyed by feature name or an array, "
                f"got {type(item).__name__} {_show(item)}"
            )
    return document


def _unparsable(error: Exception) -> str:
    """What the JSON parser could not hold, for documents that are syntactically valid."""
    if isinstance(error, RecursionError):
        return "arrays or objects nested too deeply"
    return str(error).split(";", 1)[0]  # "Exceeds the limit (4300 digits) for integer …"


def _parse_jsonlines(text: str) -> list[Any]:
    items: list[Any] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError as error:
            raise BadRequestError(f"invalid JSON on line {number}: {error.msg}") from None
        except (RecursionError, ValueError) as error:  # nesting too deep, a number too long
            raise BadRequestError(f"invalid JSON on line {number}: {_unparsable(error)}") from None
        if not isinstance(item, dict | list):
            raise BadRequestError(
                f"line {number}: expected an object or an array, got {type(item).__name__}"
            )
        items.append(item)
    return items


# --------------------------------------------------------------------------- predict


def predict(input_data: Request, model: Model) -> Prediction:
    """Encode the raw rows with the spec and return the booster's outputs (``Prediction``)."""
    unseen: dict[str, dict[str, int]] = {}
    matrix = encode(input_data, model, unseen=unseen)
    outputs = np.asarray(
        model.booster.inplace_predict(matrix, validate_features=False), dtype=np.float32
    )
    shape = (len(matrix), len(model.classes)) if model.problem_type == "multiclass" else (-1,)
    return Prediction(
        probabilities=outputs.reshape(shape),
        positive_label=model.positive_label,
        negative_label=model.negative_label,
        threshold=model.threshold,
        unseen=unseen,
        problem_type=model.problem_type,
        classes=model.classes,
    )


def encode(
    request: Request, model: Model, *, unseen: dict[str, dict[str, int]] | None = None
) -> np.ndarray:
    """Raw rows → the booster's float32 matrix (contracts §3), column by column, vectorised.

    Values outside a categorical feature's vocabulary are encoded as missing and, when
    ``unseen`` is given, counted there per feature and value.
    """
    if isinstance(request.items, CsvRows):
        return _encode_rows(request.items, model, unseen)
    columns = _columns(request, model)
    matrix = np.zeros((len(request.items), model.encoded_width), dtype=np.float32)
    for feature, values in zip(model.features, columns, strict=True):
        if feature.kind == "numeric":
            matrix[:, feature.offset] = _numeric(values, feature.name)
        else:
            codes, counted = _category_codes(values, feature)
            present = np.flatnonzero(codes >= 0)  # row r gets a 1 in column offset + code
            matrix[present, feature.offset + codes[present]] = 1.0
            if counted and unseen is not None:
                unseen[feature.name] = counted
    return matrix


def _columns(request: Request, model: Model) -> list[list[str]]:
    """Transpose the rows into one list of strings per feature (missing → empty string)."""
    names = [feature.name for feature in model.features]
    width = len(names)
    items = request.items
    if all(type(item) is list for item in items):
        for row, item in enumerate(items, start=1):
            if len(item) != width:
                raise BadRequestError(_wrong_width(row, len(item), names, item))
        if request.content_type == CSV:
            _refuse_header(items[0], names)
            return [list(column) for column in zip(*items, strict=True)]
        return [
            [_json_text(item[index], row, names[index]) for row, item in enumerate(items, 1)]
            for index in range(width)
        ]
    columns: list[list[str]] = [[] for _ in names]
    for row, item in enumerate(items, start=1):
        if isinstance(item, list):
            if len(item) != width:
                raise BadRequestError(_wrong_width(row, len(item), names, item))
            values = item
        else:
            missing = [name for name in names if name not in item]
            if missing:
                raise BadRequestError(
                    f"instance {row}: missing feature(s) {', '.join(missing[:5])}"
                    f"{' …' if len(missing) > 5 else ''} (use null for a missing value)"
                )
            values = [item[name] for name in names]
        for index, value in enumerate(values):
            columns[index].append(_json_text(value, row, names[index]))
    return columns


def _encode_rows(
    rows: CsvRows, model: Model, unseen: dict[str, dict[str, int]] | None
) -> np.ndarray:
    """``encode`` for ``CsvRows``: the same matrix, counts and errors, by array operations.

    Numbers ``_decimals`` cannot convert exactly and categories it cannot match byte for byte
    go through the per-cell code (``_numeric``, ``_category_codes``), which also finds and
    names the first bad cell of a column.
    """
    names = [feature.name for feature in model.features]
    if rows.width != len(names):
        raise BadRequestError(_wrong_width(1, rows.width, names, rows[0]))
    _refuse_header(rows[0], names)
    matrix = np.zeros((len(rows), model.encoded_width), dtype=np.float32)
    numeric = [index for index, feature in enumerate(model.features) if feature.kind == "numeric"]
    if numeric:
        values, exact = _decimals(rows, numeric)
        for column, index in enumerate(numeric):
            if not exact[column].all():  # spaces, exponents, text…: float() decides
                values[column] = _numeric(rows.column(index), names[index])
        matrix[:, [model.features[index].offset for index in numeric]] = values.T
    hot_rows: list[np.ndarray] = []
    hot_columns: list[np.ndarray] = []
    for index, feature in enumerate(model.features):
        if feature.kind == "numeric":
            continue
        if feature.byte_vocabulary is None:
            codes, counted = _category_codes(rows.column(index), feature)
        else:
            codes, counted = _category_codes_at_once(rows, index, feature, feature.byte_vocabulary)
        present = np.flatnonzero(codes >= 0)
        hot_rows.append(present)
        hot_columns.append(feature.offset + codes[present])
        if counted and unseen is not None:
            unseen[feature.name] = counted
    if hot_rows:
        matrix[np.concatenate(hot_rows), np.concatenate(hot_columns)] = 1.0
    return matrix


def _decimals(rows: CsvRows, columns: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """The cells of ``columns`` as float64 (blank → NaN) and which of them are exact, each
    ``(len(columns), rows)``.

    A cell is converted here when it is blank or a plain decimal (see ``_DECIMAL_WINDOW``):
    ``mantissa / 10**scale`` of two exact doubles is correctly rounded, the value ``float()``
    gives. Other cells are marked inexact and their value is garbage. Each cell's last 16
    bytes (after its sign) are read as two little-endian words, zero-filled on the left, and
    their digits combined eight at a time (``_eight_digits``), the point counting as a 0.
    """
    starts = rows.starts[columns].ravel() + _DECIMAL_WINDOW  # in rows.padded
    lengths = rows.lengths[columns].ravel()
    first = rows.padded[starts]
    signed = (first == _MINUS) | (first == _PLUS)
    unsigned = lengths - signed
    ends = starts + lengths
    capped = np.minimum(unsigned, _DECIMAL_WINDOW)
    window = np.empty((2, len(starts)), dtype=np.uint64)  # [0]: bytes -16..-9, [1]: -8..-1
    np.bitwise_and(rows.words[ends - 16], _WINDOW_HIGH[capped], out=window[0])
    np.bitwise_and(rows.words[ends - 8], _WINDOW_LOW[capped], out=window[1])
    chars = window.view(np.uint8)  # 0 left of the cell
    digits = chars - _DIGIT_0  # uint8: anything below "0" wraps past 9
    is_digit = digits < 10
    is_point = chars == _POINT
    stray = (chars != 0) > (is_digit | is_point)  # in the cell, neither a digit nor the point
    digits *= is_digit
    eights = _eight_digits(digits.view(np.uint64))
    spread = eights[0] * np.uint64(10**8) + eights[1]  # the point read as a 0 digit
    point_words = is_point.view(np.uint64)  # a point at byte k of a word sets bit 8k
    points = np.bitwise_count(point_words[0]) + np.bitwise_count(point_words[1])
    stray_words = stray.view(np.uint64)
    digit_count = unsigned - points
    exact = (
        (unsigned <= _DECIMAL_WINDOW)
        & ((stray_words[0] | stray_words[1]) == 0)
        & (points <= 1)
        & (digit_count >= 1)
        & (digit_count <= _MAX_DECIMAL_DIGITS)
    )
    # scale: the digits after the point, i.e. the bytes after it in the window
    low, high = point_words[1], point_words[0]
    after_low = np.uint8(7) - (np.bitwise_count(low - np.uint64(1)) >> np.uint8(3))
    after_high = np.uint8(15) - (np.bitwise_count(high - np.uint64(1)) >> np.uint8(3))
    scale = np.where(low != 0, after_low, after_high)
    scale[points != 1] = 0
    # spread is integer·10^(scale+1) + fraction; without the point it is integer·10^scale + fraction
    power = _POWERS_OF_TEN_INT[np.where(points == 1, scale, _DECIMAL_WINDOW)]
    mantissa = spread - spread // (power * np.uint64(10)) * (power * np.uint64(9))
    numbers = mantissa / _POWERS_OF_TEN[scale]
    numbers[first == _MINUS] *= -1
    blank = lengths == 0
    numbers[blank] = np.nan
    shape = (len(columns), len(rows))
    return numbers.reshape(shape), (exact | blank).reshape(shape)


def _eight_digits(words: np.ndarray) -> np.ndarray:
    """Each little-endian word of eight digit values (0-9, first byte most significant) as
    the number they spell: pairs, then quads, then all eight (wrapping multiplications).
    Works in place on ``words``."""
    for shift, factor, mask in (
        (8, 10, 0x00FF00FF00FF00FF),
        (16, 100, 0x0000FFFF0000FFFF),
        (32, 10000, 0x00000000FFFFFFFF),
    ):
        lower = words >> np.uint64(shift)
        words *= np.uint64(factor)
        words += lower
        words &= np.uint64(mask)
    return words


def _category_codes_at_once(
    rows: CsvRows, index: int, feature: Feature, vocabulary: ByteVocabulary
) -> tuple[np.ndarray, dict[str, int]]:
    """``_category_codes`` for one column of ``CsvRows``: cells that are exactly a category
    are looked up at once; the others (blank aside) go through ``feature.lookup`` one by one."""
    starts, lengths = rows.starts[index], rows.lengths[index]
    words = np.empty((len(starts), vocabulary.width // 8), dtype=np.uint64)
    capped = np.minimum(lengths, vocabulary.width)
    for column in range(words.shape[1]):  # a cell's bytes, zero-padded to whole words
        cell = rows.words[starts + (_DECIMAL_WINDOW + 8 * column)]
        np.bitwise_and(cell, _KEPT[column, capped], out=words[:, column])
    found = np.searchsorted(vocabulary.hashes, _hash_words(words))
    found = np.minimum(found, len(vocabulary.hashes) - 1)
    blank = lengths == 0
    hit = (lengths <= vocabulary.width) & ~blank
    for column in range(words.shape[1]):
        hit &= vocabulary.words[found, column] == words[:, column]
    codes = np.where(hit, vocabulary.codes[found], -2)
    unseen: dict[str, int] = {}
    misses = np.flatnonzero(~hit & ~blank).tolist()
    if misses:
        data, lookup = rows.data, feature.lookup
        for row, start, length in zip(
            misses, starts[misses].tolist(), lengths[misses].tolist(), strict=True
        ):
            text = data[start : start + length].decode("utf-8").strip()
            code = lookup.get(text, -1)
            if code == -1:
                unseen[text] = unseen.get(text, 0) + 1
                code = -2  # scored like a blank cell: what the model saw for "missing"
            codes[row] = code
    return codes, unseen


def _refuse_header(first: Sequence[str], names: list[str]) -> None:
    if [value.strip() for value in first] == names:
        raise BadRequestError(
            "row 1 looks like a header row (the feature names): send rows without a header"
        )


def _wrong_width(row: int, got: int, names: list[str], item: list[Any]) -> str:
    message = f"row {row}: expected {len(names)} values ({', '.join(names)}), got {got}"
    if row == 1 and [str(value).strip() for value in item] == names:
        message += "; this looks like a header row: send rows without a header"
    return message


def _json_text(value: Any, row: int, column: str) -> str:
    """A JSON scalar as the text a CSV cell would carry; objects, arrays and booleans are errors."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise BadRequestError(
            f"row {row}, column {column!r}: expected a number, a string or null, "
            f"got {type(value).__name__} {_show(value)}"
        )
    if isinstance(value, float) and not math.isfinite(value):
        raise BadRequestError(
            f"row {row}, column {column!r}: value {value!r} is not a finite number "
            "(use null or leave it blank for a missing value)"
        )
    return repr(value)


def _numeric(values: list[str], column: str) -> np.ndarray:
    """Floats for one column; blank → NaN; text, ``nan`` or ``inf`` → a client error."""
    try:  # fast path: every cell is a number (float() accepts surrounding spaces)
        numbers = np.fromiter(map(float, values), dtype=np.float64, count=len(values))
        blank = None
    except ValueError:
        text = np.char.strip(np.asarray(values, dtype=np.str_))
        blank = text == ""
        numbers = np.empty(len(values), dtype=np.float64)
        for row, value in enumerate(text.tolist()):
            try:
                numbers[row] = float(value) if value else np.nan
            except ValueError:
                raise BadRequestError(
                    f"row {row + 1}, column {column!r}: value {_show(value)} is not a number"
                ) from None
    bad = ~np.isfinite(numbers)
    if blank is not None:
        bad &= ~blank
    if bad.any():
        row = int(np.argmax(bad))
        raise BadRequestError(
            f"row {row + 1}, column {column!r}: value {_show(values[row].strip())} is not a finite "
            "number (leave it blank for a missing value)"
        )
    return numbers


def _category_codes(values: list[str], feature: Feature) -> tuple[np.ndarray, dict[str, int]]:
    """Each cell's category index in one categorical column; blank or unseen → -2 (missing).

    Also returns how often each unseen (non-blank, out-of-vocabulary) value occurred.
    """
    lookup = feature.lookup
    unseen: dict[str, int] = {}
    try:  # fast path: every cell is exactly a known category or blank
        codes = np.fromiter(map(lookup.__getitem__, values), dtype=np.int64, count=len(values))
    except KeyError:
        codes = np.empty(len(values), dtype=np.int64)
        for row, value in enumerate(values):
            text = value.strip()
            code = lookup.get(text, -1)
            if code == -1:
                unseen[text] = unseen.get(text, 0) + 1
                code = -2  # scored like a blank cell: what the model saw for "missing"
            codes[row] = code
    return codes, unseen


def _show(value: Any) -> str:
    shown = repr(value)
    if len(shown) > _MAX_VALUE_IN_MESSAGE:
        shown = shown[: _MAX_VALUE_IN_MESSAGE - 1] + "…"
    return shown


# --------------------------------------------------------------------------- write_output


def write_output(prediction: Prediction, accept: str | None) -> tuple[bytes, str]:
    """Serialise by ``Accept``; returns ``(body, content_type)`` as the container expects."""
    media = _negotiate(accept)
    if prediction.problem_type == "multiclass":
        return _write_classes(prediction, media)
    if prediction.problem_type == "regression":
        return _write_values(prediction, media)
    probabilities = prediction.probabilities.tolist()
    positive = (prediction.probabilities >= prediction.threshold).tolist()
    labels = (prediction.negative_label, prediction.positive_label)
    if media == CSV:
        fields = [_csv_field(label) for label in labels]
        return _csv_answer("%.9g,%s", [probabilities, [fields[flag] for flag in positive]])
    texts = [json.dumps(label) for label in labels]
    return _json_answer(
        '{"probability": %.9g, "label": %s}',
        [probabilities, [texts[flag] for flag in positive]],
        media,
    )


def _write_classes(prediction: Prediction, media: str) -> tuple[bytes, str]:
    """Multiclass: the most probable class and every class's probability, per row."""
    rows = prediction.probabilities
    classes = prediction.classes
    best = np.argmax(rows, axis=1).tolist()
    columns = [rows[:, index].tolist() for index in range(len(classes))]
    if media == CSV:
        fields = [_csv_field(label) for label in classes]
        template = "%s" + ",%.9g" * len(classes)
        return _csv_answer(template, [[fields[index] for index in best], *columns])
    texts = [json.dumps(label) for label in classes]
    keys = ", ".join(f"{text.replace('%', '%%')}: %.9g" for text in texts)
    return _json_answer(
        '{"label": %s, "probabilities": {' + keys + "}}",
        [[texts[index] for index in best], *columns],
        media,
    )


def _write_values(prediction: Prediction, media: str) -> tuple[bytes, str]:
    """Regression: the predicted value per row."""
    values = prediction.probabilities.tolist()
    if media == CSV:
        return _csv_answer("%.9g", [values])
    return _json_answer('{"value": %.9g}', [values], media)


def _csv_answer(template: str, columns: list[list[Any]]) -> tuple[bytes, str]:
    return (_fill(template, columns, "\n") + "\n").encode("utf-8"), CSV


def _json_answer(template: str, columns: list[list[Any]], media: str) -> tuple[bytes, str]:
    if media == JSONLINES:
        return (_fill(template, columns, "\n") + "\n").encode("utf-8"), JSONLINES
    return ('{"predictions": [' + _fill(template, columns, ", ") + "]}").encode("utf-8"), JSON


def _fill(template: str, columns: list[list[Any]], separator: str) -> str:
    """One ``template`` per row, filled with that row's value of each column, joined by
    ``separator``: a single ``%`` over the whole answer instead of a format call per value
    (``"%.9g" % v`` is ``format(v, ".9g")``, the 9 significant digits that round-trip float32)."""
    count = len(columns[0])
    values: list[Any] = [None] * (count * len(columns))
    for index, column in enumerate(columns):
        values[index :: len(columns)] = column
    return separator.join([template] * count) % tuple(values)


def _negotiate(accept: str | None) -> str:
    if not accept or not accept.strip():
        return JSON
    for part in accept.split(","):
        media = _media_type(part)
        if media in SUPPORTED_ACCEPTS:
            return media
        if media in ("*/*", "application/*"):
            return JSON
        if media == "text/*":
            return CSV
    raise UnsupportedAcceptError(
        f"unsupported Accept {accept!r}; ask for one of {', '.join(SUPPORTED_ACCEPTS)}"
    )


def _csv_field(text: str) -> str:
    if any(char in text for char in ',"\n\r'):
        return '"' + text.replace('"', '""') + '"'
    return text
