"""A CSV's resolved schema, remembered per (file, schema) so the inner loop reads it once.

`resolve_csv` reads a 10,000-row sample and the whole target column with pandas before every
`mlops pipeline run`: 0.4 s at 20,000 rows (most of it importing pandas into the CLI), about
1 s at 1,000,000. A data scientist re-running after an edit to a training script passes the
same file again, so the result is kept under ``<cache dir>/<key>.json`` with the key a
SHA-256 over the file's identity (resolved path, size, inode, modification and change times
in nanoseconds), the schema as configured and the source of the modules whose rules decide
the result. Any edit of the file (new mtime/ctime), another schema or another rule misses the
cache, and a mismatch is never cached: `resolve_csv` raises it again on every run.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
from pathlib import Path
from typing import Any

from mlops.core.files import keep_newest, write_text_atomically
from mlops.core.settings import DatasetSchema
from mlops.dataset.resolved import ResolvedSchema, TargetProfile

CACHE_DIR = "schemas"  # under the local state directory (.mlops/)
_FORMAT = "resolved-schema-1"
KEEP_ENTRIES = 64
_PACKAGE = Path(__file__).resolve().parent
# The modules whose code decides a resolution: a change of either gives a new key.
_RULE_SOURCES = (
    _PACKAGE / "schema.py",
    _PACKAGE / "resolved.py",
    _PACKAGE.parent / "core" / "problem_types.py",
)


def resolve_csv_cached(schema: DatasetSchema, path: Path, cache_dir: Path) -> ResolvedSchema:
    """`resolve_csv(schema, path)`, read from ``cache_dir`` when this file and schema were
    resolved before (module doc)."""
    entry = cache_dir / f"{cache_key(schema, path)}.json"
    with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
        return _from_document(json.loads(entry.read_text(encoding="utf-8")))
    from mlops.dataset.schema import resolve_csv  # pandas: only when the cache cannot answer

    resolved = resolve_csv(schema, path)
    # A concurrent run reads the old entry or the new one, whole; the newest KEEP_ENTRIES
    # stay. A cache that cannot be written only costs the next run time.
    with contextlib.suppress(OSError):
        write_text_atomically(entry, json.dumps(dataclasses.asdict(resolved)))
        keep_newest(cache_dir, "*.json", KEEP_ENTRIES)
    return resolved


def _from_document(document: dict[str, Any]) -> ResolvedSchema:
    """The stored `ResolvedSchema` back (JSON turned its tuples into lists)."""
    profile = document["profile"]
    return ResolvedSchema(
        target=document["target"],
        profile=TargetProfile(
            problem_type=profile["problem_type"],
            problem_type_reason=profile["problem_type_reason"],
            positive_label=profile["positive_label"],
            positive_label_reason=profile["positive_label_reason"],
            classes=tuple((str(label), int(rows)) for label, rows in profile["classes"]),
            rows=int(profile["rows"]),
        ),
        id_column=document["id_column"],
        features=tuple(document["features"]),
        numeric=tuple(document["numeric"]),
        categorical=tuple(document["categorical"]),
        dropped=tuple(document["dropped"]),
        blank_features=tuple(document["blank_features"]),
    )


def cache_key(schema: DatasetSchema, path: Path) -> str:
    """SHA-256 of the file's identity, the schema and the rules' source (module doc)."""
    status = path.stat()
    identity = {
        "path": str(path.resolve()),
        "size": status.st_size,
        "inode": status.st_ino,
        "device": status.st_dev,
        "modified_ns": status.st_mtime_ns,
        "changed_ns": status.st_ctime_ns,
        "schema": schema.model_dump(mode="json"),
    }
    digest = hashlib.sha256(_FORMAT.encode())
    digest.update(json.dumps(identity, sort_keys=True).encode())
    for source in _RULE_SOURCES:
        digest.update(source.read_bytes())
    return digest.hexdigest()
