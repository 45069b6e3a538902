"""The media types of the serving contract (docs/contracts.md §5), named once.

The registry entry (``SupportedContentTypes``/``SupportedResponseMIMETypes``), the endpoint
config's capture headers, the CLI's file-type detection and the benchmarks read them here.
``inference/inference.py`` runs inside the serving container and may import nothing from the
repository, so it spells them itself; a contract test keeps the two equal.
"""

from __future__ import annotations

CSV = "text/csv"
JSON = "application/json"
JSONLINES = "application/jsonlines"

# What the handlers accept, and what the model package registers as its answers.
REQUEST_TYPES = (CSV, JSON, JSONLINES)
RESPONSE_TYPES = (JSON, CSV)

# How data capture encodes each request type (EndpointConfig CaptureContentTypeHeader).
CAPTURED_AS_CSV = (CSV,)
CAPTURED_AS_JSON = (JSON, JSONLINES)

# A request file's media type from its suffix (``mlops endpoint invoke --data``).
BY_SUFFIX = {
    ".csv": CSV,
    ".json": JSON,
    ".jsonl": JSONLINES,
    ".jsonlines": JSONLINES,
}
