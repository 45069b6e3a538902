"""The input objects of a transform job and where each one's output goes.

``S3DataType=S3Prefix``: every object whose key starts with the ``S3Uri`` key (a plain string
prefix, as S3 lists it), in key order; "folder" placeholder keys ending in ``/`` are skipped.
Output naming (API ``TransformOutput.S3OutputPath``): one object per input object, named like
the input with ``.out`` appended, under ``S3OutputPath`` at the input's path relative to the
``S3Uri``'s folder (the part of the key up to its last ``/``): ``s3://b/in/`` with
``s3://b/in/day1/a.csv`` gives ``<S3OutputPath>/day1/a.csv.out``; ``s3://b/in/a.csv`` gives
``<S3OutputPath>/a.csv.out``. "Batch transform doesn't upload partially processed objects": an
output is written under a temporary name and published only when its whole object succeeded.

A local file or directory stands in for an S3 location anywhere (tests, benchmarks).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from mlops.core.s3uri import Location, is_s3, split_s3_uri
from mlops.local_runtime.jobs.staging import put_file

OUTPUT_SUFFIX = ".out"


@dataclass(frozen=True)
class InputObject:
    """One object to transform: ``relative`` names its output, ``label`` the data log line."""

    location: Location
    relative: str
    label: str
    size: int


def list_inputs(source: Location, s3: Any = None) -> list[InputObject]:
    """Every input object under ``source`` (S3 prefix, local file or local directory)."""
    if is_s3(source):
        return _list_s3(str(source), s3)
    path = Path(source)
    if path.is_file():
        return [InputObject(path, path.name, str(path), path.stat().st_size)]
    if path.is_dir():
        return [
            InputObject(item, item.relative_to(path).as_posix(), str(item), item.stat().st_size)
            for item in sorted(path.rglob("*"))
            if item.is_file() and not item.name.startswith(".")
        ]
    return []


def folder_of(source: Location) -> str:
    """The ``S3Uri``'s folder (through its last ``/``): what output names are relative to."""
    if is_s3(source):
        bucket, key = split_s3_uri(str(source))
        return f"s3://{bucket}/{key.rsplit('/', 1)[0] + '/' if '/' in key else ''}"
    path = Path(source)
    return str(path if path.is_dir() else path.parent) + "/"


@contextmanager
def open_input(item: InputObject, s3: Any = None) -> Iterator[BinaryIO]:
    """A binary stream of the object (S3 streams it; nothing is read whole)."""
    if is_s3(item.location):
        bucket, key = split_s3_uri(str(item.location))
        body = s3.get_object(Bucket=bucket, Key=key)["Body"]
        try:
            yield body
        finally:
            body.close()
    else:
        with Path(item.location).open("rb") as handle:
            yield handle


def output_location(destination: Location, relative: str) -> Location:
    """Where the output of the input at ``relative`` goes."""
    name = relative + OUTPUT_SUFFIX
    if is_s3(destination):
        return f"{str(destination).rstrip('/')}/{name}"
    return Path(destination) / name


def publish(local_file: Path, target: Location, s3: Any = None) -> None:
    """Make a finished output visible at ``target`` in one step (S3 put, or a rename)."""
    if is_s3(target):
        bucket, key = split_s3_uri(str(target))
        put_file(s3, local_file, bucket, key)
        local_file.unlink()
        return
    path = Path(target)
    path.parent.mkdir(parents=True, exist_ok=True)
    if local_file.parent == path.parent:
        local_file.replace(path)
    else:
        partial = path.with_name(f".{path.name}.partial")
        shutil.move(str(local_file), partial)
        partial.replace(path)


def _list_s3(uri: str, s3: Any) -> list[InputObject]:
    bucket, prefix = split_s3_uri(uri)
    folder = prefix.rsplit("/", 1)[0] + "/" if "/" in prefix else ""
    found: list[InputObject] = []
    request: dict[str, Any] = {"Bucket": bucket, "Prefix": prefix}
    while True:
        page = s3.list_objects_v2(**request)
        for item in page.get("Contents", []):
            key = str(item["Key"])
            if key.endswith("/"):
                continue
            found.append(
                InputObject(
                    f"s3://{bucket}/{key}", key[len(folder) :], f"{bucket}/{key}", int(item["Size"])
                )
            )
        token = page.get("NextContinuationToken")
        if not token:
            break
        request["ContinuationToken"] = token
    return sorted(found, key=lambda item: str(item.location))
