"""Moving job data between S3 (or local paths) and the staged container directories.

The semantics follow SageMaker's File mode: an S3 URI naming one object stages that object
by its base name; otherwise the URI is a key prefix and every object under it is staged at its
path relative to the prefix. Outputs go the other way, one object per file. A local path
stands in for an S3 location anywhere, so the same job runs with or without the local AWS.

``ShardedByS3Key`` (a `Shard`): of the objects in key order, host ``i`` of ``n`` gets those at
positions ``i, i + n, i + 2n, …`` — every object goes to exactly one host, and a host may get
none (SageMaker documents a subset per instance, not which; this is the local choice).

Objects move with one ``GetObject``/``PutObject`` each (`get_file`, `put_file`), not boto3's
managed ``download_file``/``upload_file``: against the local S3 those build a transfer manager
and thread pool per call and cost 2-3x as much (12-20 ms against 5 ms for a small object,
80 against 30 ms for 20 MB). Files above `MULTIPART_BYTES` still go up in parts, as
``PutObject`` takes at most 5 GB.
"""

from __future__ import annotations

import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from mlops.core.s3uri import Location, is_s3, split_s3_uri

MULTIPART_BYTES = 256 * 1024 * 1024
_CHUNK_BYTES = 1024 * 1024


def join_location(base: Location, *parts: str) -> Location:
    """Append path parts to an S3 URI or a local path, keeping its kind."""
    if is_s3(base):
        text = str(base).rstrip("/")
        return "/".join([text, *(part.strip("/") for part in parts)])
    return Path(base).joinpath(*parts)


def require_client(s3: Any, location: Location) -> Any:
    """The caller's S3 client, or a clear error when an S3 location was given without one."""
    if s3 is None:
        raise ValueError(
            f"{location} is an S3 location: pass s3_client (mlops.local_runtime.aws.client)"
        )
    return s3


@dataclass(frozen=True)
class Shard:
    """Host ``index`` (0-based) of ``count``: which objects a ``ShardedByS3Key`` input gives it."""

    index: int
    count: int

    def takes(self, position: int) -> bool:
        return position % self.count == self.index


def stage_in(
    location: Location, dest_dir: Path, s3: Any = None, shard: Shard | None = None
) -> list[Path]:
    """Copy the data at ``location`` into ``dest_dir``; returns the staged files.

    Raises FileNotFoundError when nothing is there (SageMaker fails such a job before it
    starts, and so does the caller); with a ``shard``, this host's part may be empty.
    """
    dest_dir.mkdir(parents=True, exist_ok=True)
    if is_s3(location):
        return _download(require_client(s3, location), str(location), dest_dir, shard)
    source = Path(location)
    if source.is_file():
        if shard is not None and not shard.takes(0):
            return []
        target = dest_dir / source.name
        shutil.copy2(source, target)
        return [target]
    if source.is_dir():
        staged = []
        files = [path for path in sorted(source.rglob("*")) if path.is_file()]
        for position, path in enumerate(files):
            if shard is not None and not shard.takes(position):
                continue
            target = dest_dir / path.relative_to(source)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target)
            staged.append(target)
        return staged
    raise FileNotFoundError(f"no file or directory at {source}")


def fetch_file(location: Location, dest_dir: Path, s3: Any = None) -> Path:
    """Stage exactly one file (e.g. a sourcedir tarball or a script) and return its path."""
    if not is_s3(location) and Path(location).is_dir():
        raise FileNotFoundError(f"{location} is a directory, expected a file")
    staged = stage_in(location, dest_dir, s3)
    if len(staged) != 1:
        raise FileNotFoundError(f"{location} names {len(staged)} objects, expected one file")
    return staged[0]


def stage_out(source_dir: Path, location: Location, s3: Any = None) -> list[str]:
    """Publish every file under ``source_dir`` to ``location``; returns the written locations.

    Local destinations are written file by file through a hidden sibling and an atomic rename,
    so a reader never sees a half-written file.
    """
    files = sorted(path for path in source_dir.rglob("*") if path.is_file())
    written: list[str] = []
    if is_s3(location):
        client = require_client(s3, location)
        bucket, prefix = split_s3_uri(str(location))
        prefix = prefix.rstrip("/")
        for path in files:
            relative = path.relative_to(source_dir).as_posix()
            key = f"{prefix}/{relative}" if prefix else relative
            put_file(client, path, bucket, key)
            written.append(f"s3://{bucket}/{key}")
        return written
    dest_root = Path(location)
    for path in files:
        target = dest_root / path.relative_to(source_dir)
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(f".{target.name}.{uuid.uuid4().hex}.partial")
        shutil.copy2(path, partial)
        partial.replace(target)
        written.append(str(target))
    return written


def publish_file(path: Path, location: Location, s3: Any = None) -> str:
    """Publish one file to an exact destination (S3 key or local file path)."""
    if is_s3(location):
        bucket, key = split_s3_uri(str(location))
        put_file(require_client(s3, location), path, bucket, key)
        return str(location)
    target = Path(location)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.{uuid.uuid4().hex}.partial")
    shutil.copy2(path, partial)
    partial.replace(target)
    return str(target)


def get_file(s3: Any, bucket: str, key: str, target: Path) -> Path:
    """One object into ``target`` with a single streamed ``GetObject`` (module doc)."""
    body = s3.get_object(Bucket=bucket, Key=key)["Body"]
    try:
        with target.open("wb") as handle:
            shutil.copyfileobj(body, handle, _CHUNK_BYTES)
    finally:
        body.close()
    return target


def put_file(s3: Any, path: Path, bucket: str, key: str) -> None:
    """One file as one object: a single ``PutObject`` up to `MULTIPART_BYTES`, in parts above
    (module doc)."""
    if path.stat().st_size > MULTIPART_BYTES:
        s3.upload_file(str(path), bucket, key)
        return
    with path.open("rb") as handle:
        s3.put_object(Bucket=bucket, Key=key, Body=handle)


def _download(s3: Any, uri: str, dest_dir: Path, shard: Shard | None) -> list[Path]:
    bucket, key = split_s3_uri(uri)
    if key and not key.endswith("/") and _object_exists(s3, bucket, key):
        if shard is not None and not shard.takes(0):
            return []
        target = dest_dir / PurePosixPath(key).name
        get_file(s3, bucket, key, target)
        return [target]
    prefix = key if not key or key.endswith("/") else f"{key}/"
    staged = []
    position = 0
    paginator = s3.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            object_key = item["Key"]
            relative = object_key[len(prefix) :]
            if not relative or relative.endswith("/"):
                continue  # "folder" marker objects
            parts = PurePosixPath(relative).parts
            if ".." in parts:
                raise FileNotFoundError(f"S3 key {object_key!r} escapes its prefix")
            position += 1
            if shard is not None and not shard.takes(position - 1):
                continue
            target = dest_dir.joinpath(*parts)
            target.parent.mkdir(parents=True, exist_ok=True)
            get_file(s3, bucket, object_key, target)
            staged.append(target)
    if not position:
        raise FileNotFoundError(f"no S3 objects found under {uri}")
    return sorted(staged)


def _object_exists(s3: Any, bucket: str, key: str) -> bool:
    try:
        s3.head_object(Bucket=bucket, Key=key)
    except s3.exceptions.ClientError as error:
        if error.response.get("Error", {}).get("Code") in {"404", "NoSuchKey", "NotFound"}:
            return False
        raise
    return True
