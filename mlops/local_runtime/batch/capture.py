"""A transform job's data capture: manifests of what it read and wrote, not copies.

SageMaker Developer Guide, "Capture data from batch transform job": under the job's
``DataCaptureConfig.DestinationS3Uri`` there are two folders, ``input/`` and ``output/``;
"to avoid data duplication, the captured data … are manifests", each listing the S3 locations
of the job's objects as a manifest file does — a JSON array whose first element is
``{"prefix": "s3://<input S3 uri>/"}`` followed by keys relative to it (``output/``: the
``.out`` objects under the output path). Manifests are filed under a ``yyyy/mm/dd/hh/`` prefix
of the job's start time (UTC), which is how a monitoring schedule picks the batches of its
window. The guide does not give the manifest's file name; here it is ``<job name>.jsonl``.
Only objects that completed are listed, so a job's two manifests pair input and output objects
element by element.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from mlops.core.s3uri import Location, is_s3, split_s3_uri
from mlops.local_runtime.batch.objects import OUTPUT_SUFFIX, folder_of

INPUT_FOLDER = "input"
OUTPUT_FOLDER = "output"
MANIFEST_SUFFIX = ".jsonl"


@dataclass(frozen=True)
class CapturedBatch:
    """One job's capture read back: its input objects and their outputs, in pairs."""

    job_name: str
    hour: str  # "yyyy/mm/dd/hh"
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]


def write_capture_manifests(
    capture: Location,
    *,
    job_name: str,
    started: datetime,
    source: Location,
    destination: Location,
    completed: list[str],
    s3: Any = None,
) -> tuple[str, ...]:
    """Write the input and output manifests of a job; returns where they went."""
    hour = started.strftime("%Y/%m/%d/%H")
    output_prefix = str(destination).rstrip("/") + "/"
    manifests = {
        INPUT_FOLDER: [{"prefix": folder_of(source)}, *completed],
        OUTPUT_FOLDER: [{"prefix": output_prefix}, *(name + OUTPUT_SUFFIX for name in completed)],
    }
    written: list[str] = []
    for folder, manifest in manifests.items():
        relative = f"{folder}/{hour}/{job_name}{MANIFEST_SUFFIX}"
        body = json.dumps(manifest).encode("utf-8")
        if is_s3(capture):
            bucket, prefix = split_s3_uri(str(capture))
            key = f"{prefix.strip('/')}/{relative}" if prefix.strip("/") else relative
            s3.put_object(Bucket=bucket, Key=key, Body=body)
            written.append(f"s3://{bucket}/{key}")
        else:
            path = Path(capture) / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(body)
            written.append(str(path))
    return tuple(written)


def read_captured_batches(capture: Location, s3: Any = None) -> list[CapturedBatch]:
    """Every job captured under ``capture``, oldest hour first (input/output paired)."""
    inputs = _manifests(capture, INPUT_FOLDER, s3)
    outputs = _manifests(capture, OUTPUT_FOLDER, s3)
    batches: list[CapturedBatch] = []
    for (hour, job), listed in sorted(inputs.items()):
        produced = outputs.get((hour, job))
        if produced is None or len(produced) != len(listed):
            raise ValueError(
                f"capture of job {job} ({hour}): the input and output manifests do not pair up"
            )
        batches.append(CapturedBatch(job, hour, tuple(listed), tuple(produced)))
    return batches


def _manifests(capture: Location, folder: str, s3: Any) -> dict[tuple[str, str], list[str]]:
    found: dict[tuple[str, str], list[str]] = {}
    for relative, body in _files(capture, folder, s3):
        hour, _, name = relative.rpartition("/")
        if not name.endswith(MANIFEST_SUFFIX):
            continue
        document = json.loads(body)
        if not isinstance(document, list) or not document or "prefix" not in document[0]:
            raise ValueError(f"{folder}/{relative} is not a manifest")
        prefix = str(document[0]["prefix"])
        found[(hour, name.removesuffix(MANIFEST_SUFFIX))] = [
            prefix + str(item) for item in document[1:]
        ]
    return found


def _files(capture: Location, folder: str, s3: Any) -> list[tuple[str, bytes]]:
    """(path under ``<capture>/<folder>/``, content) of every file there."""
    if is_s3(capture):
        bucket, prefix = split_s3_uri(str(capture))
        root = f"{prefix.strip('/')}/{folder}/" if prefix.strip("/") else f"{folder}/"
        files: list[tuple[str, bytes]] = []
        paginator = s3.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=bucket, Prefix=root):
            for item in page.get("Contents", []):
                key = str(item["Key"])
                body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
                files.append((key[len(root) :], body))
        return files
    base = Path(capture) / folder
    if not base.is_dir():
        return []
    return [
        (path.relative_to(base).as_posix(), path.read_bytes())
        for path in sorted(base.rglob("*"))
        if path.is_file()
    ]
