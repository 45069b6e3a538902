"""Records of a transform input object, read as a stream, and CSV rows as field lists.

``SplitType=Line`` splits an object at each newline (``\\r\\n`` counts as one); the last line
needs no newline. Records are numbered from 1 in object order, blank lines included, so a
record number is the line number a person sees in an editor. Objects are read in fixed-size
chunks, never whole: memory stays bounded whatever the object's size.

CSV rows follow RFC 4180 (what the service requires of CSV input): fields separated by commas,
optionally double-quoted, a quote inside a quoted field doubled; embedded newlines are not
allowed (each line is one record).
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from typing import BinaryIO

READ_CHUNK_BYTES = 1 << 20
_NEEDS_QUOTES = frozenset(',"\r\n')


class MalformedRecordError(ValueError):
    """A record that cannot be read as its content type says."""


def iter_line_blocks(stream: BinaryIO, chunk_bytes: int = READ_CHUNK_BYTES) -> Iterator[list[str]]:
    """The lines of ``stream`` (UTF-8, undecodable bytes replaced, as the serving container
    decodes text), without terminators, a chunk's worth at a time: per-line work then runs
    over lists, which is what keeps a million-record object fast."""
    pieces: list[bytes] = []  # the current unfinished line, joined once it ends
    while True:
        chunk = stream.read(chunk_bytes)
        if not chunk:
            break
        cut = chunk.rfind(b"\n")
        if cut < 0:
            pieces.append(chunk)
            continue
        pieces.append(chunk[:cut])
        yield _decoded(b"".join(pieces))
        pieces = [chunk[cut + 1 :]]
    rest = b"".join(pieces)
    if rest:
        yield _decoded(rest)


def _decoded(block: bytes) -> list[str]:
    text = block.decode("utf-8", errors="replace")
    if "\r" in text:
        return [line[:-1] if line.endswith("\r") else line for line in text.split("\n")]
    return text.split("\n")


def csv_fields(row: str) -> list[str]:
    """The fields of one CSV row (quotes removed, doubled quotes undone)."""
    if '"' not in row:
        return row.split(",")
    try:
        parsed = list(csv.reader([row], strict=True))
    except csv.Error as error:
        raise MalformedRecordError(f"malformed CSV: {error}") from None
    return parsed[0] if parsed else [""]


def csv_row(fields: list[str]) -> str:
    """One CSV row from fields, quoting only the fields that need it."""
    return ",".join(
        '"' + field.replace('"', '""') + '"' if _NEEDS_QUOTES.intersection(field) else field
        for field in fields
    )
