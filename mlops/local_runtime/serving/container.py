"""The serving container's HTTP answers, as the XGBoost 3.2-0 image's stack gives them.

In the image, script-mode serving is sagemaker-containers 2.8.6.post2: a ``Worker`` (a Flask 3
app under gunicorn) whose ``/invocations`` view is ``Transformer.transform``. What that stack
does, and so what this module reproduces (tests/fidelity checks it against the real stack):

- the content type handed to the handlers is the request's ``Content-Type``, or
  ``application/json`` when there is none (``Request.content_type``); the body is text
  (UTF-8, undecodable bytes replaced) when that type is exactly ``application/json`` or
  ``text/csv``, bytes otherwise (``Request.content``);
- the accept handed over is the request's ``Accept``, or ``SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT``
  (``application/json``) when it is absent or ``*/*`` (``Request.accept``);
- a handler's ``(body, content_type)`` tuple becomes a 200 with that mimetype; a response
  object keeps its own status and headers; Flask adds ``; charset=utf-8`` to text mimetypes
  (``text/csv`` → ``text/csv; charset=utf-8``);
- **any exception** from a handler is wrapped in the toolkit's ``ClientError`` and Flask answers
  a bare ``500 Internal Server Error`` HTML page (so client mistakes must be answered by
  ``transform_fn`` as a response with a 4xx, which ``inference.py`` does);
- ``GET /ping`` is 200 with an empty body and ``Content-Type: application/json``; a method a
  route does not take is Flask's 405 page.

Not reproduced: nginx in front of gunicorn (it proxies these routes unchanged and answers
other paths with ``404 {}``), and the image's default XGBoost encoders for scripts that define
no ``input_fn``/``output_fn`` (``artifact`` refuses such scripts).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from mlops.local_runtime.serving.artifact import ServedModel

logger = logging.getLogger(__name__)

DEFAULT_CONTENT_TYPE = "application/json"
DEFAULT_ACCEPT_ENV = "SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT"
_ANY = "*/*"
_TEXT_TYPES = ("application/json", "text/csv")  # handed to the handlers as str
# Werkzeug's get_content_type: these (and text/*, */*+xml) get "; charset=utf-8".
_CHARSET_MIMETYPES = frozenset(
    {
        "application/ecmascript",
        "application/javascript",
        "application/sql",
        "application/xml",
        "application/xml-dtd",
        "application/xml-external-parsed-entity",
    }
)
_HTML = "text/html; charset=utf-8"
_ERROR_PAGE = "<!doctype html>\n<html lang=en>\n<title>{code} {name}</title>\n<h1>{name}</h1>\n<p>{text}</p>\n"
_SERVER_ERROR_TEXT = (
    "The server encountered an internal error and was unable to complete your request. "
    "Either the server is overloaded or there is an error in the application."
)
_NOT_ALLOWED_TEXT = "The method is not allowed for the requested URL."
_FRAMING = frozenset({"content-type", "content-length"})


@dataclass(frozen=True)
class ContainerResponse:
    """One HTTP answer of the container: status, body, full Content-Type, other headers."""

    status: int
    body: bytes
    content_type: str
    headers: Mapping[str, str] = field(default_factory=dict)


def with_charset(mimetype: str) -> str:
    """The Content-Type Werkzeug writes for ``mimetype`` (``get_content_type(m, "utf-8")``)."""
    if mimetype.startswith("text/") or mimetype in _CHARSET_MIMETYPES or mimetype.endswith("+xml"):
        return f"{mimetype}; charset=utf-8"
    return mimetype


def ping() -> ContainerResponse:
    """``GET /ping``: the toolkit's ``Response(status=200)`` (default mimetype JSON, no body)."""
    return ContainerResponse(200, b"", DEFAULT_CONTENT_TYPE)


def method_not_allowed(allowed: str) -> ContainerResponse:
    """Flask's 405 page, with the ``Allow`` header of the route."""
    page = _ERROR_PAGE.format(code=405, name="Method Not Allowed", text=_NOT_ALLOWED_TEXT)
    return ContainerResponse(405, page.encode(), _HTML, {"Allow": allowed})


def internal_server_error() -> ContainerResponse:
    """Flask's answer to an exception escaping a view."""
    page = _ERROR_PAGE.format(code=500, name="Internal Server Error", text=_SERVER_ERROR_TEXT)
    return ContainerResponse(500, page.encode(), _HTML)


def invoke(served: ServedModel, body: bytes, headers: Mapping[str, str]) -> ContainerResponse:
    """``POST /invocations`` (``headers`` lower-cased): run the handlers as the toolkit does."""
    content_type = headers.get("contenttype") or headers.get("content-type") or DEFAULT_CONTENT_TYPE
    accept = headers.get("accept")
    if not accept or accept == _ANY:
        accept = os.environ.get(DEFAULT_ACCEPT_ENV, DEFAULT_CONTENT_TYPE)
    content: bytes | str = body
    if content_type in _TEXT_TYPES:
        content = body.decode("utf-8", errors="replace")
    request_headers: ContextVar[Mapping[str, str] | None] | None = getattr(
        served.handlers, "REQUEST_HEADERS", None
    )
    token = request_headers.set(headers) if isinstance(request_headers, ContextVar) else None
    try:
        result = served.answer(content, content_type, accept)
        return _http_response(result)
    except Exception:
        logger.exception("the handlers raised: answered 500 (as the serving container does)")
        return internal_server_error()
    finally:
        if token is not None and request_headers is not None:
            request_headers.reset(token)


def _http_response(result: Any) -> ContainerResponse:
    """A handler's answer as Flask sends it (``Transformer.transform`` + ``make_response``)."""
    if isinstance(result, tuple):  # the toolkit: Response(response=body, mimetype=type)
        payload, mimetype = result
        return ContainerResponse(200, _bytes(payload), with_charset(str(mimetype)))
    if hasattr(result, "status_code") and hasattr(result, "get_data"):
        headers = {str(k): str(v) for k, v in dict(result.headers).items()}
        content_type = next(
            (v for k, v in headers.items() if k.lower() == "content-type"),
            with_charset(str(result.mimetype)),
        )
        extra = {k: v for k, v in headers.items() if k.lower() not in _FRAMING}
        return ContainerResponse(
            int(result.status_code), _bytes(result.get_data()), content_type, extra
        )
    if isinstance(result, str | bytes | bytearray):  # a view returning text: Flask's HTML
        return ContainerResponse(200, _bytes(result), _HTML)
    raise TypeError(f"the handlers returned {type(result).__name__}, which Flask cannot send")


def _bytes(payload: Any) -> bytes:
    if isinstance(payload, str):
        return payload.encode("utf-8")
    return bytes(payload)
