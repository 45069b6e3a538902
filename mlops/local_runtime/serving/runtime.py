"""The sagemaker-runtime front end of ``InvokeEndpoint``: what it checks, forwards and returns.

The shapes are botocore's service model (``sagemaker-runtime/2017-05-13/service-2.json``):

- request headers: ``Content-Type``, ``Accept``, ``X-Amzn-SageMaker-Custom-Attributes``
  (≤ 1024 ASCII characters) and ``X-Amzn-SageMaker-Inference-Id`` (1-64 printable characters,
  not starting with a space) are validated; only the API's own headers reach the container
  ("SageMaker strips all POST headers except those supported by the API");
- success (200): the container's body and ``Content-Type`` as it sent them,
  ``x-Amzn-Invoked-Production-Variant``, and the ``CustomAttributes`` the container set, if any;
  no other container header is passed back;
- the container's 4xx or 5xx: ``ModelError`` (HTTP 424) with ``OriginalStatusCode``,
  ``OriginalMessage`` (the container's body) and ``LogStreamArn``; its message reads
  ``Received client error (400) from primary with message "…"``;
- a bad header or an unknown endpoint: ``ValidationError`` (HTTP 400);
- a body over 6 MB (the ``BodyBlob`` maximum, 6291456 bytes): HTTP 413 with no error type
  (botocore reports the code ``413``) and ``HTTP content length exceeded 6291456 bytes.``, the
  answer users of the real service report (aws/sagemaker-python-sdk#171, then at 5 MB).

botocore reads the error code from ``x-amzn-ErrorType`` and the message from the JSON body.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from mlops.local_runtime.serving.container import ContainerResponse

ACCOUNT_ID = "000000000000"
CONTAINER_NAME = "primary"  # the name the service gives a single-container variant in messages
MAX_BODY_BYTES = 6 * 1024 * 1024
CUSTOM_ATTRIBUTES = "x-amzn-sagemaker-custom-attributes"
INFERENCE_ID = "x-amzn-sagemaker-inference-id"
VARIANT_HEADER = "x-Amzn-Invoked-Production-Variant"
# Headers of the InvokeEndpoint request that reach the container (lower-cased). The API's
# others (TargetModel, TargetVariant, InferenceComponentName, SessionId, …) choose among
# models, variants or sessions a single-model endpoint does not have.
FORWARDED = ("content-type", "accept", CUSTOM_ATTRIBUTES, INFERENCE_ID)
_MESSAGE_MAX = 2048  # the service model's Message shape


@dataclass(frozen=True)
class RuntimeResponse:
    """One HTTP answer of the runtime API."""

    status: int
    body: bytes
    headers: Mapping[str, str] = field(default_factory=dict)


def _printable_id(value: str) -> bool:
    return bool(value) and not value[0].isspace() and value.isprintable()


# header, API member, maximum length, the characters allowed, the service model's pattern
_SHAPES: tuple[tuple[str, str, int, Callable[[str], bool], str], ...] = (
    (INFERENCE_ID, "inferenceId", 64, _printable_id, r"\A\S[\p{Print}]*\z"),
    (CUSTOM_ATTRIBUTES, "customAttributes", 1024, str.isascii, r"\p{ASCII}*"),
    ("content-type", "contentType", 1024, str.isascii, r"\p{ASCII}*"),
    ("accept", "accept", 1024, str.isascii, r"\p{ASCII}*"),
)


def validate(headers: Mapping[str, str]) -> RuntimeResponse | None:
    """A ``ValidationError`` for a header outside its shape, else None (``headers`` lower-cased)."""
    problems = []
    for header, member, maximum, allowed, pattern in _SHAPES:
        value = headers.get(header)
        if value is None:
            continue
        if len(value) > maximum:
            rule = f"Member must have length less than or equal to {maximum}"
        elif not allowed(value):
            rule = f"Member must satisfy regular expression pattern: {pattern}"
        else:
            continue
        problems.append(_constraint(value, member, rule))
    if not problems:
        return None
    count = len(problems)
    return error(
        400,
        "ValidationError",
        f"{count} validation error{'s' if count > 1 else ''} detected: {'; '.join(problems)}",
    )


def _constraint(value: str, member: str, rule: str) -> str:
    shown = value if len(value) <= 80 else value[:77] + "..."
    return f"Value '{shown}' at '{member}' failed to satisfy constraint: {rule}"


def forwarded_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """The request headers the container receives (lower-cased)."""
    return {name: headers[name] for name in FORWARDED if name in headers}


def unknown_endpoint(name: str, served: str) -> RuntimeResponse:
    return error(
        400,
        "ValidationError",
        f"Endpoint {name} of account {ACCOUNT_ID} not found. (this local server serves {served})",
    )


def too_large(limit: int) -> RuntimeResponse:
    """What the service answers a body over the limit: 413, no error type."""
    return error(413, None, f"HTTP content length exceeded {limit} bytes.")


def answer(
    container: ContainerResponse, *, endpoint_name: str, variant_name: str, region: str
) -> RuntimeResponse:
    """The container's answer as ``InvokeEndpoint`` returns it (success or ``ModelError``)."""
    if container.status < 400:
        headers = {
            "Content-Type": container.content_type,
            VARIANT_HEADER: variant_name,
            "x-amzn-RequestId": str(uuid.uuid4()),
        }
        attributes = next(
            (v for k, v in container.headers.items() if k.lower() == CUSTOM_ATTRIBUTES), None
        )
        if attributes is not None:
            headers["X-Amzn-SageMaker-Custom-Attributes"] = attributes
        return RuntimeResponse(container.status, container.body, headers)
    message = container.body.decode("utf-8", errors="replace")
    kind = "client" if container.status < 500 else "server"
    log_group = f"/aws/sagemaker/Endpoints/{endpoint_name}"
    text = (
        f'Received {kind} error ({container.status}) from {CONTAINER_NAME} with message "{message}". '
        f"See the local endpoint's log (log group {log_group}) for more information."
    )
    return error(
        424,
        "ModelError",
        text,
        OriginalStatusCode=container.status,
        OriginalMessage=message[:_MESSAGE_MAX],
        LogStreamArn=f"arn:aws:logs:{region}:{ACCOUNT_ID}:log-group:{log_group}",
    )


def error(status: int, code: str | None, message: str, **members: object) -> RuntimeResponse:
    """A rest-json error: ``x-amzn-ErrorType`` (when the service sends one) and a JSON body."""
    document = {"message": message[:_MESSAGE_MAX], **members}
    headers = {"Content-Type": "application/json", "x-amzn-RequestId": str(uuid.uuid4())}
    if code is not None:
        headers["x-amzn-ErrorType"] = code
    return RuntimeResponse(status, json.dumps(document).encode("utf-8"), headers)
