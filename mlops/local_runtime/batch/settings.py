"""A CreateTransformJob request's knobs, read and checked once before any record moves.

Defaults and limits are the API's (CreateTransformJob): ``MaxPayloadInMB`` 6 when unset, at
most 100, and ``MaxConcurrentTransforms × MaxPayloadInMB`` at most 100 too;
``MaxConcurrentTransforms`` unset or 0 asks the container's ``execution-parameters`` route and
falls back to 1 — the XGBoost script-mode stack (sagemaker-containers 2.8.6, see
`mlops.local_runtime.serving.container`) serves only ``/ping`` and ``/invocations``, so 1.
``BatchStrategy`` unset is also resolved through ``execution-parameters``, whose answer for
this stack is not documented: it must be given (``not supported locally`` otherwise).
``MaxPayloadInMB=0`` (HTTP chunked streaming) is refused: the serving stack reads whole bodies.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from mlops.local_runtime.batch.dataprocessing import (
    DataProcessing,
    ProcessingRefusedError,
    input_kind,
    output_kind,
)
from mlops.local_runtime.batch.jsonpath import JsonPathError, NotSupportedLocally, parse

DEFAULT_MAX_PAYLOAD_MB = 6
MAX_PAYLOAD_LIMIT_MB = 100
MEGABYTE = 1024 * 1024


class TransformRequestError(ValueError):
    """The request cannot run: ``not supported locally: …`` or the service's refusal."""


@dataclass(frozen=True)
class TransformSettings:
    """How a job splits, batches, sends and assembles records."""

    content_type: str | None
    accept: str | None
    split_lines: bool  # SplitType=Line (else None: one request per object)
    single_record: bool  # BatchStrategy=SingleRecord
    max_payload_mb: int
    max_concurrent: int
    assemble_lines: bool  # AssembleWith=Line (else None: answers concatenated as they come)
    processing: DataProcessing

    @property
    def max_payload_bytes(self) -> int:
        return self.max_payload_mb * MEGABYTE

    @property
    def log_line(self) -> str:
        """The first line of the job's data log, in the service's words."""
        strategy = "SINGLE_RECORD" if self.single_record else "MULTI_RECORD"
        return (
            f"MaxConcurrentTransforms={self.max_concurrent}, "
            f"MaxPayloadInMB={self.max_payload_mb}, BatchStrategy={strategy}"
        )

    @classmethod
    def from_request(
        cls, request: Mapping[str, Any], *, inference_time: str | None = None
    ) -> TransformSettings:
        """Read the request (already valid against botocore's model).

        ``inference_time`` is the job's start time (``YYYY-MM-DDTHH:MM:SSZ``), stamped on every
        output record when ``DataCaptureConfig.GenerateInferenceId`` is on.
        """
        transform_input = request.get("TransformInput", {})
        transform_output = request.get("TransformOutput", {})
        split_lines = transform_input.get("SplitType", "None") == "Line"
        strategy = request.get("BatchStrategy")
        if strategy is None and split_lines:
            raise TransformRequestError(
                "not supported locally: BatchStrategy unset (the service asks the container's "
                "execution-parameters, which this serving stack does not answer): give "
                "MultiRecord or SingleRecord"
            )
        payload = request.get("MaxPayloadInMB")
        payload = DEFAULT_MAX_PAYLOAD_MB if payload is None else int(payload)
        if payload == 0:
            raise TransformRequestError(
                "not supported locally: MaxPayloadInMB=0 (HTTP chunked streaming); the serving "
                "stack reads whole request bodies"
            )
        concurrent = int(request.get("MaxConcurrentTransforms") or 1)
        if payload > MAX_PAYLOAD_LIMIT_MB or payload * concurrent > MAX_PAYLOAD_LIMIT_MB:
            raise TransformRequestError(
                f"ClientError: MaxPayloadInMB={payload} with MaxConcurrentTransforms="
                f"{concurrent}: the payload may not exceed {MAX_PAYLOAD_LIMIT_MB} MB, nor "
                f"MaxConcurrentTransforms × MaxPayloadInMB"
            )
        data_processing = request.get("DataProcessing", {})
        generate_ids = bool(request.get("DataCaptureConfig", {}).get("GenerateInferenceId"))
        try:
            processing = DataProcessing(
                input_filter=parse(data_processing.get("InputFilter") or "$"),
                output_filter=parse(data_processing.get("OutputFilter") or "$"),
                join_input=data_processing.get("JoinSource", "None") == "Input",
                input_kind=input_kind(transform_input.get("ContentType")),
                output_kind=output_kind(transform_output.get("Accept")),
                inference_time=inference_time if generate_ids else None,
                single_record=split_lines and strategy == "SingleRecord",
            )
        except NotSupportedLocally as error:
            raise TransformRequestError(str(error)) from None
        except (JsonPathError, ProcessingRefusedError) as error:
            text = str(error)
            if text.startswith("not supported locally"):
                raise TransformRequestError(text) from None
            raise TransformRequestError(f"ClientError: {text}") from None
        assemble_lines = transform_output.get("AssembleWith", "None") == "Line"
        if not assemble_lines and not processing.passthrough:
            raise TransformRequestError(
                "not supported locally: AssembleWith=None with JoinSource, OutputFilter or "
                "inference ids (records would be concatenated without a separator)"
            )
        return cls(
            content_type=transform_input.get("ContentType"),
            accept=transform_output.get("Accept"),
            split_lines=split_lines,
            single_record=strategy == "SingleRecord",
            max_payload_mb=payload,
            max_concurrent=concurrent,
            assemble_lines=assemble_lines,
            processing=processing,
        )
