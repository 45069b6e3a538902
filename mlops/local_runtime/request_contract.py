"""AWS API requests checked against botocore's service model, as the service checks them.

moto accepts almost anything; AWS does not. The contract of every request the local workflow
sends (the pipeline steps' ``Create*`` calls, the registry and deploy calls of the CLI) is the
service model botocore ships, which AWS maintains. botocore itself validates types, required
members and minimums before it sends a request; the service additionally rejects a value that
breaks a maximum length or value, a pattern or an enum declared in the same model. This module
checks both, so a request that AWS would reject fails locally with the same wording.

The data is botocore's; only the walk over the shapes is ours. A pattern must match the whole
value, as the service applies it (``my_job`` is not a valid SageMaker job name although the
unanchored pattern ``[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}`` occurs inside it), and ``.`` does not
match a line break (Java's default). The few Java-only constructs some patterns use
(``\\p{L}``, ``\\p{Alnum}``, UTF-16 surrogate pairs) are rewritten to the equivalent Python
character sets.
"""

from __future__ import annotations

import contextlib
import functools
import json
import re
import sys
import unicodedata
from collections.abc import Callable, Mapping
from typing import Any

import botocore.session
from botocore.exceptions import ParamValidationError
from botocore.model import Shape
from botocore.validate import ParamValidator

from mlops.core.files import write_text_atomically

# Unicode general categories of the \p{…} classes that occur in AWS service models.
_CATEGORY_CLASSES = ("L", "M", "N", "P", "S", "Z")
_POSIX_CLASSES = {"Alnum": "A-Za-z0-9", "Alpha": "A-Za-z", "Digit": "0-9"}
_PROPERTY = re.compile(r"\\p\{(\w+)\}")
# Java matches UTF-16 code units: a surrogate pair range means every supplementary character.
_SURROGATE_PAIR_RANGE = "\\uD800\\uDC00-\\uDBFF\\uDFFF"
# A quantifier on "$" (``…)${1,256}`` in a few SageMaker patterns) means "end" in Java.
_QUANTIFIED_END = re.compile(r"\$\{\d+(,\d*)?\}")


@functools.cache
def _service_model(service: str) -> Any:
    return botocore.session.get_session().get_service_model(service)


def input_shape(service: str, operation: str) -> Shape:
    """The input shape of ``operation`` (e.g. ``("sagemaker", "CreateTrainingJob")``)."""
    shape = _service_model(service).operation_model(operation).input_shape
    if shape is None:  # pragma: no cover - every operation used here takes input
        raise ValueError(f"{service}:{operation} takes no input")
    return shape


def request_findings(service: str, operation: str, params: Mapping[str, Any]) -> list[str]:
    """Every reason AWS would reject ``params`` for ``operation``; empty when it is valid."""
    return shape_findings(input_shape(service, operation), params)


def shape_findings(shape: Shape, params: Mapping[str, Any]) -> list[str]:
    """botocore's own validation report, then the service-side constraints of the model."""
    report = ParamValidator().validate(dict(params), shape)
    findings = report.generate_report().splitlines() if report.has_errors() else []
    _constraints(params, shape, "", findings)
    return findings


def check_request(service: str, operation: str, params: Mapping[str, Any]) -> None:
    """Raise botocore's ``ParamValidationError`` listing every finding, if there is one."""
    findings = request_findings(service, operation, params)
    if findings:
        raise ParamValidationError(report="\n".join(findings))


def enforce_service_contract(client: Any) -> Any:
    """Make ``client`` refuse, before sending, any request AWS would reject.

    Registered on ``before-parameter-build`` of every operation, so it sees the parameters as
    the caller passed them; botocore's own type checks run right after it.
    """

    def check(params: Mapping[str, Any], model: Any, **_: Any) -> None:
        shape = model.input_shape
        if shape is None:
            return
        findings = shape_findings(shape, params)
        if findings:
            raise ParamValidationError(report="\n".join(findings))

    client.meta.events.register("before-parameter-build", check)
    return client


def _constraints(value: Any, shape: Shape, name: str, findings: list[str]) -> None:
    """Maximum lengths and values, patterns and enums (botocore checks types and minimums)."""
    if value is None:
        return
    kind = shape.type_name
    meta = shape.metadata
    if kind == "structure" and isinstance(value, Mapping):
        for key, item in value.items():
            if key in shape.members:
                _constraints(item, shape.members[key], f"{name}.{key}" if name else key, findings)
    elif kind == "list" and isinstance(value, list | tuple):
        _max(len(value), meta, name, "length", findings)
        for index, item in enumerate(value):
            _constraints(item, shape.member, f"{name}[{index}]", findings)
    elif kind == "map" and isinstance(value, Mapping):
        _max(len(value), meta, name, "length", findings)
        for key, item in value.items():
            _constraints(key, shape.key, f"{name} (key: {key})", findings)
            _constraints(item, shape.value, f"{name}.{key}", findings)
    elif kind == "string" and isinstance(value, str):
        _max(len(value), meta, name, "length", findings)
        pattern = meta.get("pattern")
        if pattern and compiled_pattern(pattern).fullmatch(value) is None:
            findings.append(
                f"Invalid value for parameter {name}, value: {value!r}, "
                f"must match pattern: {pattern}"
            )
        if shape.enum and value not in shape.enum:
            findings.append(
                f"Invalid value for parameter {name}, value: {value!r}, "
                f"valid values: {', '.join(shape.enum)}"
            )
    elif kind in {"integer", "long", "float", "double"} and isinstance(value, int | float):
        if not isinstance(value, bool):
            _max(value, meta, name, "value", findings)
    elif kind == "blob" and isinstance(value, bytes | bytearray | str):
        _max(len(value), meta, name, "length", findings)


def _max(measure: float, meta: Mapping[str, Any], name: str, what: str, out: list[str]) -> None:
    limit = meta.get("max")
    if limit is not None and measure > limit:
        word = "length" if what == "length" else "value"
        out.append(
            f"Invalid {word} for parameter {name}, value: {measure}, valid max {what}: {limit}"
        )


@functools.cache
def compiled_pattern(pattern: str) -> re.Pattern[str]:
    """A model pattern as a Python regex (Java-only constructs rewritten, see module doc)."""
    return re.compile(_python_pattern(pattern))


def _python_pattern(pattern: str) -> str:
    text = pattern.replace(_SURROGATE_PAIR_RANGE, "\\U00010000-\\U0010FFFF")
    text = _QUANTIFIED_END.sub("$", text)
    out: list[str] = []
    position = 0
    in_class = False
    while position < len(text):
        char = text[position]
        if char == "\\" and text.startswith("\\p{", position):
            match = _PROPERTY.match(text, position)
            if match is None:
                raise ValueError(f"cannot translate pattern {pattern!r}")
            members = _property_members(match.group(1), pattern)
            out.append(members if in_class else f"[{members}]")
            position = match.end()
            continue
        if char == "\\":
            out.append(text[position : position + 2])
            position += 2
            continue
        if char == "[" and not in_class:
            in_class = True
        elif char == "]" and in_class:
            in_class = False
        out.append(char)
        position += 1
    return "".join(out)


def _property_members(name: str, pattern: str) -> str:
    if name in _POSIX_CLASSES:
        return _POSIX_CLASSES[name]
    if name in _CATEGORY_CLASSES:
        return _category_ranges()[name]
    raise ValueError(f"pattern {pattern!r} uses \\p{{{name}}}, which has no translation here")


@functools.cache
def _category_ranges() -> dict[str, str]:
    """For each major Unicode category, its code points as character-class ranges.

    Computing them walks all 1.1 million code points (0.16 s), and the first check of an
    operation whose patterns use ``\\p{…}`` (CreateModelPackage: the pipeline's last step)
    would pay it in every CLI process; they are kept per Unicode version next to the image
    environments (``.mlops/``) and read back in a millisecond."""
    from mlops.local_runtime.images import default_cache_dir

    path = default_cache_dir().parent / f"unicode-categories-{unicodedata.unidata_version}.json"
    with contextlib.suppress(OSError, ValueError):
        stored = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(stored, dict) and set(stored) == set(_CATEGORY_CLASSES):
            return {str(name): str(members) for name, members in stored.items()}
    computed = _computed_category_ranges()
    with contextlib.suppress(OSError):
        write_text_atomically(path, json.dumps(computed))
    return computed


def _computed_category_ranges() -> dict[str, str]:
    ranges: dict[str, list[tuple[int, int]]] = {name: [] for name in _CATEGORY_CLASSES}
    category_of: Callable[[str], str] = unicodedata.category
    for code in range(sys.maxunicode + 1):
        major = category_of(chr(code))[0]
        spans = ranges.get(major)
        if spans is None:
            continue
        if spans and spans[-1][1] == code - 1:
            spans[-1] = (spans[-1][0], code)
        else:
            spans.append((code, code))
    return {
        name: "".join(
            _escape(start) if start == end else f"{_escape(start)}-{_escape(end)}"
            for start, end in spans
        )
        for name, spans in ranges.items()
    }


def _escape(code: int) -> str:
    return f"\\U{code:08x}"
