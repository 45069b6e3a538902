"""The pipeline definition, built once per change of what determines it.

`build_definition` is deterministic and offline (contracts §10), so its output is a function of
its inputs: the settings, the caller's strings (role, bucket, default input, code URIs, key),
the source of the modules that build it and the installed SDK. A local run spends 5-10 s
importing the SDK to build it; the JSON is cached under ``<state dir>/definitions/<key>.json``
with the key a SHA-256 over all of that, so the next run with the same inputs reads it back
instead — byte for byte what a build returns (a test pins it). Any change of a setting, a code
asset (its URI holds its content hash), a builder module, the SDK or Python gives a new key.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import importlib.metadata
import json
import os
import sys
from pathlib import Path

from mlops.core.files import keep_newest, write_text_atomically
from mlops.core.settings import ProjectSettings
from sagemaker_pipelines.definition import CodeLocations

CACHE_DIR = "definitions"
KEEP_ENTRIES = 32
_FORMAT = "definition-cache-1"
_REPO = Path(__file__).resolve().parents[3]
# Packages whose source builds the definition: the builders and the settings and names they read.
_SOURCE_PACKAGES = ("sagemaker_pipelines", "mlops/core")
# Installed distributions whose code or data the build uses (image URIs come from the SDK).
_DISTRIBUTION_PREFIXES = ("sagemaker", "boto3", "botocore")


def cached_definition(
    settings: ProjectSettings,
    *,
    cache_dir: Path,
    role_arn: str,
    artifact_bucket: str,
    default_input_uri: str,
    code: CodeLocations,
    kms_key_arn: str | None = None,
) -> str:
    """`build_definition`'s JSON for these arguments, built only when not cached yet."""
    key = definition_key(
        settings,
        role_arn=role_arn,
        artifact_bucket=artifact_bucket,
        default_input_uri=default_input_uri,
        code=code,
        kms_key_arn=kms_key_arn,
    )
    path = cache_dir / f"{key}.json"
    with contextlib.suppress(OSError):
        return path.read_text(encoding="utf-8")
    from sagemaker_pipelines.definition import build_definition

    text = build_definition(
        settings,
        role_arn=role_arn,
        artifact_bucket=artifact_bucket,
        default_input_uri=default_input_uri,
        code=code,
        kms_key_arn=kms_key_arn,
    )
    # A concurrent run reads the old entry or the new one, whole; the newest KEEP_ENTRIES stay.
    write_text_atomically(path, text)
    keep_newest(cache_dir, "*.json", KEEP_ENTRIES)
    return text


def definition_key(
    settings: ProjectSettings,
    *,
    role_arn: str,
    artifact_bucket: str,
    default_input_uri: str,
    code: CodeLocations,
    kms_key_arn: str | None = None,
) -> str:
    """SHA-256 of everything the definition is a function of (module doc)."""
    digest = hashlib.sha256(_FORMAT.encode())
    arguments = {
        "settings": settings.model_dump(mode="json"),
        "role_arn": role_arn,
        "artifact_bucket": artifact_bucket,
        "default_input_uri": default_input_uri,
        "code": dataclasses.asdict(code),
        "kms_key_arn": kms_key_arn,
        "python": list(sys.version_info[:2]),
        "distributions": _distribution_versions(),
        "environment": {k: v for k, v in sorted(os.environ.items()) if k.startswith("SAGEMAKER")},
    }
    digest.update(json.dumps(arguments, sort_keys=True, default=str).encode())
    for package in _SOURCE_PACKAGES:
        for source in sorted((_REPO / package).rglob("*.py")):
            digest.update(str(source.relative_to(_REPO)).encode())
            digest.update(source.read_bytes())
    return digest.hexdigest()


def _distribution_versions() -> dict[str, str]:
    versions: dict[str, str] = {}
    for distribution in importlib.metadata.distributions():
        name = str(distribution.metadata["Name"] or "").lower()
        if name.startswith(_DISTRIBUTION_PREFIXES):
            versions[name] = distribution.version
    return versions
