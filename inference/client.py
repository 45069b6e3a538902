"""Application client for the churn endpoint: what an application imports to get predictions.

Depends on boto3 and the standard library only, so an application can vendor this one file.
It speaks the endpoint's contract (``inference.py``: CSV or JSON in, JSON out) through the
ordinary ``sagemaker-runtime`` ``invoke_endpoint`` call, so the same code works against AWS
and against the local endpoint (``boto3.client("sagemaker-runtime", endpoint_url=...)``).

- **Batching**: inputs are split into requests under ``max_payload_bytes`` (default 5 MB,
  below SageMaker's 6 MB limit to leave room for headers); results come back in input order.
- **Retries**: throttling, 5xx and connection failures are retried with exponential backoff
  and full jitter (``max_retries`` extra attempts). A ``ModelError`` is retried only when the
  container itself said it was busy or unavailable (``OriginalStatusCode`` 429/502/503/504).
- **Whose fault**: the same on AWS and against the local endpoint, because both answer a
  container error as ``ModelError`` with the container's ``OriginalStatusCode``. The caller's
  bad input (a 4xx from the container: the model's handlers name row, column and value; or the
  service's own ``ValidationError`` / 413) raises ``EndpointRequestError`` at once, with the
  handlers' message. A model failure (any other 5xx from the container) raises
  ``EndpointModelError``, not retried: the same input would fail again.
- When no client is given one is created with botocore's own retries switched off
  (``total_max_attempts=1``; note botocore's ``max_attempts`` counts *retries*), so attempts
  are not multiplied; a client you pass keeps its own retry configuration.
"""

from __future__ import annotations

import csv
import io
import json
import random
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

DEFAULT_MAX_PAYLOAD_BYTES = 5_000_000
_RETRYABLE_CODES = frozenset(
    {
        "ThrottlingException",
        "Throttling",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "ServiceUnavailable",
        "InternalFailure",
        "InternalDependencyException",
        "ModelNotReadyException",
    }
)
_RETRYABLE_MODEL_STATUSES = frozenset({429, 502, 503, 504})


class EndpointClientError(Exception):
    """Base of every error this client raises."""


class EndpointRequestError(EndpointClientError):
    """The caller's request was refused (bad input, 4xx): fix it; retrying will not help.

    ``status`` is the HTTP status of the API call (424 for ``ModelError``), ``code`` the error
    code, ``original_status`` the container's status (400, 406, 415, …) when the container
    refused it, and ``error`` the handlers' error class (``BadRequestError``, …) when known.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int,
        code: str,
        original_status: int | None,
        error: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code
        self.original_status = original_status
        self.error = error


class EndpointUnavailableError(EndpointClientError):
    """Throttling, 5xx or connection failures persisted through every retry."""

    def __init__(self, message: str, *, attempts: int) -> None:
        super().__init__(message)
        self.attempts = attempts


class EndpointModelError(EndpointClientError):
    """The model failed on this input (a 5xx from the container that is not about load): not
    the caller's fault, and not retried. ``original_status`` is the container's status."""

    def __init__(self, message: str, *, original_status: int | None) -> None:
        super().__init__(message)
        self.original_status = original_status


class PayloadTooLargeError(EndpointClientError):
    """A single row is larger than the payload limit, so no batch can carry it."""


@dataclass(frozen=True)
class Prediction:
    """One row's answer, as the model's problem type gives it (``inference.py`` §5):

    binary ``probability`` (positive class) and ``label`` (at the model's threshold);
    multiclass ``label`` (the most probable class) and ``probabilities`` (class → probability);
    regression ``value``. What a problem type does not give is None.
    """

    probability: float | None = None
    label: str | None = None
    probabilities: Mapping[str, float] | None = None
    value: float | None = None

    def to_json(self) -> dict[str, Any]:
        """The endpoint's JSON object for this row (only the fields it has)."""
        document: dict[str, Any] = {}
        if self.probability is not None:
            document["probability"] = self.probability
        if self.label is not None:
            document["label"] = self.label
        if self.probabilities is not None:
            document["probabilities"] = dict(self.probabilities)
        if self.value is not None:
            document["value"] = self.value
        return document

    def csv_row(self) -> str:
        """The row as the endpoint's CSV answer would give it (numbers to 6 decimals)."""
        if self.value is not None:
            return f"{self.value:.6f}"
        if self.probabilities is not None:
            probabilities = ",".join(f"{p:.6f}" for p in self.probabilities.values())
            return f"{self.label},{probabilities}"
        return f"{self.probability:.6f},{self.label}"


class EndpointClient:
    """Call a SageMaker real-time endpoint serving this project's model."""

    def __init__(
        self,
        endpoint_name: str,
        *,
        runtime_client: Any = None,
        max_payload_bytes: int = DEFAULT_MAX_PAYLOAD_BYTES,
        max_retries: int = 4,
        base_delay: float = 0.2,
        max_delay: float = 10.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if max_payload_bytes < 1:
            raise ValueError("max_payload_bytes must be positive")
        if max_retries < 0:
            raise ValueError("max_retries must be >= 0")
        self.endpoint_name = endpoint_name
        self.max_payload_bytes = max_payload_bytes
        self.max_retries = max_retries
        self.base_delay = base_delay
        self.max_delay = max_delay
        self._sleep = sleep
        self._random = random.Random()  # noqa: S311 - jitter, not security
        self.requests_sent = 0
        if runtime_client is None:
            import boto3
            from botocore.config import Config

            runtime_client = boto3.client(
                "sagemaker-runtime",
                config=Config(retries={"total_max_attempts": 1, "mode": "standard"}),
            )
        self._runtime = runtime_client

    def predict_csv(
        self, rows: Iterable[Sequence[Any] | str], *, inference_id: str | None = None
    ) -> list[Prediction]:
        """Predict raw feature rows (values in the model's feature order; ``None`` = missing).

        A row may also be a ready CSV line (``str``) without the trailing newline.
        ``inference_id`` (see ``_run``) names the request in data capture.
        """
        lines = (_csv_line(row) for row in rows)
        batches = _batches(lines, self.max_payload_bytes, prefix=b"", separator=b"", suffix=b"")
        return self._run(batches, "text/csv", inference_id)

    def predict_records(
        self,
        records: Iterable[Mapping[str, Any] | Sequence[Any]],
        *,
        inference_id: str | None = None,
    ) -> list[Prediction]:
        """Predict JSON instances: objects keyed by feature name (extra keys are ignored) or
        arrays in feature order; ``None`` is a missing value."""
        items = (json.dumps(record, separators=(",", ":")).encode("utf-8") for record in records)
        batches = _batches(
            items, self.max_payload_bytes, prefix=b'{"instances":[', separator=b",", suffix=b"]}"
        )
        return self._run(batches, "application/json", inference_id)

    def _run(
        self, batches: Iterator[tuple[bytes, int]], content_type: str, inference_id: str | None
    ) -> list[Prediction]:
        """Send the batches in order. An ``inference_id`` (SageMaker's ``InferenceId``, recorded
        as ``eventMetadata.inferenceId`` in data capture, which ground truth then names) is
        one request's: input needing several requests is refused before anything is sent."""
        if inference_id is not None:
            planned = list(batches)
            if len(planned) > 1:
                raise ValueError(
                    f"inference_id names one request, but this input needs {len(planned)}; "
                    "send smaller inputs or one id per call"
                )
            batches = iter(planned)
        predictions: list[Prediction] = []
        for body, count in batches:
            answer = self._invoke(body, content_type, inference_id)
            if len(answer) != count:
                raise EndpointClientError(
                    f"endpoint returned {len(answer)} predictions for {count} rows"
                )
            predictions.extend(answer)
        return predictions

    def _invoke(self, body: bytes, content_type: str, inference_id: str | None) -> list[Prediction]:
        from botocore.exceptions import ClientError, ConnectionError, HTTPClientError

        arguments: dict[str, Any] = {
            "EndpointName": self.endpoint_name,
            "Body": body,
            "ContentType": content_type,
            "Accept": "application/json",
        }
        if inference_id is not None:
            arguments["InferenceId"] = inference_id
        attempt = 0
        while True:
            attempt += 1
            self.requests_sent += 1
            try:
                response = self._runtime.invoke_endpoint(**arguments)
                return _parse_predictions(response["Body"].read())
            except ClientError as error:
                outcome = _classify(error)
                if outcome.request_error is not None:
                    raise outcome.request_error from error
                if not outcome.retryable:
                    raise EndpointModelError(
                        f"{self.endpoint_name}: {outcome.description}",
                        original_status=outcome.original_status,
                    ) from error
                description = outcome.description
            except (ConnectionError, HTTPClientError) as error:
                description = f"connection failed: {error}"
            if attempt > self.max_retries:
                raise EndpointUnavailableError(
                    f"{self.endpoint_name}: {description} (after {attempt} attempt(s))",
                    attempts=attempt,
                )
            self._sleep(self._backoff(attempt))

    def _backoff(self, attempt: int) -> float:
        """Full jitter: uniform in [0, min(max_delay, base * 2**(attempt-1))]."""
        ceiling = min(self.max_delay, self.base_delay * 2 ** (attempt - 1))
        return self._random.uniform(0, ceiling)


@dataclass(frozen=True)
class _Outcome:
    retryable: bool
    description: str
    original_status: int | None = None
    request_error: EndpointRequestError | None = None


def _classify(error: Any) -> _Outcome:
    """Whose fault a botocore ClientError is, and whether another attempt can help."""
    response = error.response
    status = int(response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
    code = str(response.get("Error", {}).get("Code", ""))
    message = str(response.get("Error", {}).get("Message", "")) or str(error)
    original = response.get("OriginalStatusCode")
    original_status = int(original) if original is not None else None
    handler_error = None
    if code == "ModelError" and response.get("OriginalMessage"):
        message, handler_error = _container_message(str(response["OriginalMessage"]))
    description = f"{code or 'HTTP ' + str(status)}: {message}"
    if code == "ModelError" and original_status is not None:
        if original_status in _RETRYABLE_MODEL_STATUSES:
            return _Outcome(True, description, original_status)
        if original_status >= 500:  # the model failed on this input: not the caller's fault
            return _Outcome(False, description, original_status)
    elif code in _RETRYABLE_CODES or status == 429 or status >= 500:
        return _Outcome(True, description, original_status)
    refused = EndpointRequestError(
        message, status=status, code=code, original_status=original_status, error=handler_error
    )
    return _Outcome(False, description, original_status, refused)


def _container_message(original: str) -> tuple[str, str | None]:
    """The handlers' words in a container error body: ``{"error", "error-message"}`` JSON (what
    inference.py answers), else the body as is (e.g. the server's HTML 500 page)."""
    try:
        document = json.loads(original)
    except ValueError:
        return original.strip(), None
    if isinstance(document, dict) and isinstance(document.get("error-message"), str):
        error = document.get("error")
        return document["error-message"], error if isinstance(error, str) else None
    return original.strip(), None


def _parse_predictions(payload: bytes) -> list[Prediction]:
    document = json.loads(payload)
    return [_prediction(item) for item in document["predictions"]]


def _prediction(item: Mapping[str, Any]) -> Prediction:
    probability, label = item.get("probability"), item.get("label")
    probabilities, value = item.get("probabilities"), item.get("value")
    return Prediction(
        probability=None if probability is None else float(probability),
        label=None if label is None else str(label),
        probabilities=(
            None
            if probabilities is None
            else {str(name): float(p) for name, p in probabilities.items()}
        ),
        value=None if value is None else float(value),
    )


def _csv_line(row: Sequence[Any] | str) -> bytes:
    if isinstance(row, str):
        return (row.rstrip("\r\n") + "\n").encode("utf-8")
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow(
        ["" if value is None else value for value in row]
    )
    return buffer.getvalue().encode("utf-8")


def _batches(
    items: Iterable[bytes], limit: int, *, prefix: bytes, separator: bytes, suffix: bytes
) -> Iterator[tuple[bytes, int]]:
    """Join encoded items into bodies no larger than ``limit`` bytes, in order."""
    overhead = len(prefix) + len(suffix)
    parts: list[bytes] = []
    size = overhead
    for index, item in enumerate(items, start=1):
        extra = len(item) + (len(separator) if parts else 0)
        if overhead + len(item) > limit:
            raise PayloadTooLargeError(
                f"row {index} alone is {len(item)} bytes, over the {limit}-byte payload limit"
            )
        if parts and size + extra > limit:
            yield prefix + separator.join(parts) + suffix, len(parts)
            parts, size = [], overhead
            extra = len(item)
        parts.append(item)
        size += extra
    if parts:
        yield prefix + separator.join(parts) + suffix, len(parts)
