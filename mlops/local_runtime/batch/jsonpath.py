"""The JSONPath subset of a transform job's ``DataProcessing`` filters, as SageMaker reads it.

What the service accepts (SageMaker Developer Guide, "Associate Prediction Results with Input
Records", *Supported JSONPath Operators*): ``$`` (required first), ``.name``, ``.*``,
``['a','b']`` (several children, only at the end of a path: ``$.f.['a','b']`` works,
``$.f.['a','b.c']`` does not), ``[i]`` / ``[i,j,…]`` (negative indexes count from the end) and
array slices. A CSV record is a JSON array of its fields, so only index-based paths apply to
CSV (``$[0]``, ``$[1:]``).

Slices: the guide documents a bounded slice twice over, and contradictorily: its operator table
calls it JavaScript's ``slice()`` (end excluded) and links Jayway JsonPath (end excluded),
while its worked examples say ``$[1:4]`` is "the second through fifth columns" and ``[:5]``
"the first column through the sixth" (end included). A slice with an end is therefore refused
here (``not supported locally``) rather than guessed; an open slice (``[2:]``, ``[-2:]``) means
the same under both readings and is supported, alone or after indexes (``$[0,5:]``). Two
ranges in one bracket are refused with the service's own error (aws/sagemaker-python-sdk#1112:
``Invalid JsonPath: $[0:2,246:]: only single range filters of format (eg: [1:5]) are
supported. Format [0:2,246:] is not supported``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

ROOT = "$"
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_\-]*")
_INDEX = re.compile(r"-?\d+")
_QUOTED = re.compile(r"'([^']*)'|\"([^\"]*)\"")
_QUOTED_LIST = re.compile(r"""\s*('[^']*'|"[^"]*")(\s*,\s*('[^']*'|"[^"]*"))*\s*""")


class JsonPathError(ValueError):
    """A filter the service would refuse (the job fails before it starts)."""


class NotSupportedLocally(ValueError):  # noqa: N818 - named for the message it carries
    """A filter the service may accept but whose meaning is not settled (see module doc)."""


class FilterApplicationError(ValueError):
    """A valid filter that does not fit a record (an index past its end, a missing key)."""


@dataclass(frozen=True)
class _Child:
    name: str  # "*" for the wildcard


@dataclass(frozen=True)
class _Children:
    names: tuple[str, ...]


@dataclass(frozen=True)
class _Indexes:
    indexes: tuple[int, ...]
    open_from: int | None = None  # "[…, n:]": every element from n to the end

    @property
    def single(self) -> bool:
        return len(self.indexes) == 1 and self.open_from is None


_Segment = _Child | _Children | _Indexes


@dataclass(frozen=True)
class JsonPath:
    """A parsed filter; ``apply`` selects from a JSON value, ``apply_fields`` from a CSV row."""

    text: str
    segments: tuple[_Segment, ...]

    @property
    def is_root(self) -> bool:
        """``$``: the whole record (the default filter)."""
        return not self.segments

    @property
    def index_based(self) -> bool:
        """True when the path can select from a CSV row (one bracket of indexes)."""
        return len(self.segments) == 1 and isinstance(self.segments[0], _Indexes)

    def apply_fields(self, fields: list[str]) -> list[str]:
        """The fields of a CSV row this path selects (``$`` keeps them all)."""
        if self.is_root:
            return fields
        if not self.index_based:
            raise FilterApplicationError(
                f"{self.text}: a CSV record is an array of fields, so only index-based "
                "paths apply (e.g. $[0], $[1:])"
            )
        selector = self.segments[0]
        assert isinstance(selector, _Indexes)
        return _select_indexes(fields, selector, self.text)

    def apply(self, value: Any) -> Any:
        """The part of a JSON value this path selects."""
        current = value
        for segment in self.segments:
            current = _apply_segment(current, segment, self.text)
        return current


def parse(text: str) -> JsonPath:
    """Parse one filter; raises JsonPathError (refused by the service) or NotSupportedLocally."""
    source = text.strip()
    if not source.startswith(ROOT):
        raise JsonPathError(f"Invalid JsonPath: {text}: a path starts with $")
    position = 1
    segments: list[_Segment] = []
    while position < len(source):
        char = source[position]
        if char == ".":
            position += 1
            if position < len(source) and source[position] == "[":
                continue  # "$.field.['a','b']": a dot before a bracket
            if position < len(source) and source[position] == "*":
                segments.append(_Child("*"))
                position += 1
                continue
            match = _NAME.match(source, position)
            if match is None:
                raise JsonPathError(f"Invalid JsonPath: {text}: expected a name after '.'")
            segments.append(_Child(match.group(0)))
            position = match.end()
        elif char == "[":
            end = _closing_bracket(source, position, text)
            segments.append(_bracket(source[position + 1 : end].strip(), text))
            position = end + 1
        else:
            raise JsonPathError(f"Invalid JsonPath: {text}: unexpected {char!r}")
    for segment in segments[:-1]:
        if isinstance(segment, _Children) and len(segment.names) > 1:
            raise JsonPathError(
                f"Invalid JsonPath: {text}: several children can only be selected at the end"
            )
    return JsonPath(text, tuple(segments))


def _closing_bracket(source: str, start: int, text: str) -> int:
    quote: str | None = None
    for position in range(start + 1, len(source)):
        char = source[position]
        if quote:
            if char == quote:
                quote = None
        elif char in "'\"":
            quote = char
        elif char == "]":
            return position
    raise JsonPathError(f"Invalid JsonPath: {text}: unclosed '['")


def _bracket(inside: str, text: str) -> _Segment:
    if inside == "*":
        return _Child("*")
    if inside.startswith(("'", '"')):
        if _QUOTED_LIST.fullmatch(inside) is None:
            raise JsonPathError(f"Invalid JsonPath: {text}: expected ['name', …]")
        names = [single or double for single, double in _QUOTED.findall(inside)]
        if any("." in name for name in names) and len(names) > 1:
            raise JsonPathError(
                f"Invalid JsonPath: {text}: nested children inside brackets are not supported"
            )
        return _Children(tuple(names)) if len(names) > 1 else _Child(names[0])
    parts = [part.strip() for part in inside.split(",")]
    ranges = [part for part in parts if ":" in part]
    if len(ranges) > 1:
        raise JsonPathError(
            f"Invalid JsonPath: {text}: only single range filters of format (eg: [1:5]) are "
            f"supported. Format [{inside}] is not supported"
        )
    indexes: list[int] = []
    open_from: int | None = None
    for part in parts:
        if ":" in part:
            start, _, end = part.partition(":")
            if end.strip():
                raise NotSupportedLocally(
                    f"not supported locally: the slice [{part}] in {text} (AWS documents a "
                    "slice's end both as included and as excluded; use an open slice such as "
                    "[2:] or list the indexes)"
                )
            if not start.strip():
                return _Indexes((), 0) if len(parts) == 1 else _invalid(text)
            if _INDEX.fullmatch(start.strip()) is None:
                _invalid(text)
            open_from = int(start)
            if part != parts[-1]:
                raise NotSupportedLocally(
                    f"not supported locally: a range before other indexes in {text} "
                    "(put the open range last, e.g. $[0,5:])"
                )
        elif _INDEX.fullmatch(part):
            indexes.append(int(part))
        else:
            _invalid(text)
    return _Indexes(tuple(indexes), open_from)


def _invalid(text: str) -> Any:
    raise JsonPathError(f"Invalid JsonPath: {text}")


def _select_indexes(items: list[Any], selector: _Indexes, text: str) -> list[Any]:
    size = len(items)
    chosen: list[Any] = []
    for index in selector.indexes:
        actual = index + size if index < 0 else index
        if not 0 <= actual < size:
            raise FilterApplicationError(
                f"{text}: index {index} is outside a record of {size} element(s)"
            )
        chosen.append(items[actual])
    if selector.open_from is not None:
        start = selector.open_from + size if selector.open_from < 0 else selector.open_from
        if not 0 <= start <= size:
            raise FilterApplicationError(
                f"{text}: range start {selector.open_from} is outside a record of {size} element(s)"
            )
        chosen.extend(items[start:])
    return chosen


def _apply_segment(value: Any, segment: _Segment, text: str) -> Any:
    if isinstance(segment, _Child):
        if segment.name == "*":
            if isinstance(value, dict):
                return list(value.values())
            if isinstance(value, list):
                return list(value)
            raise FilterApplicationError(f"{text}: '*' needs an object or an array")
        if not isinstance(value, dict) or segment.name not in value:
            raise FilterApplicationError(f"{text}: the record has no attribute {segment.name!r}")
        return value[segment.name]
    if isinstance(segment, _Children):
        if not isinstance(value, dict):
            raise FilterApplicationError(f"{text}: selecting attributes needs an object")
        missing = [name for name in segment.names if name not in value]
        if missing:
            raise FilterApplicationError(
                f"{text}: the record has no attribute {', '.join(map(repr, missing))}"
            )
        return {name: value[name] for name in segment.names}
    if not isinstance(value, list):
        raise FilterApplicationError(f"{text}: indexes need an array")
    selected = _select_indexes(value, segment, text)
    return selected[0] if segment.single else selected
