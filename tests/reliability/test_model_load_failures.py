"""`mlops endpoint serve` on a broken model.tar.gz: one `error:` line, exit 2, nothing left.

Each artifact is the session's real model with one thing broken, served by the CLI in its own
process as a user would, with ``TMPDIR`` pointing at an empty directory: whatever the endpoint
unpacked must be gone when the command has failed, and no endpoint record may claim it runs.
"""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
import tarfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.serving.modelkit import BuiltModel

pytestmark = pytest.mark.slow


@dataclass(frozen=True)
class Breakage:
    """One way to break the artifact and what the user must be told (regexes)."""

    name: str
    says: tuple[str, ...]


BREAKAGES = (
    Breakage(
        "truncated",
        (
            r"is not a complete model\.tar\.gz \(Compressed file ended",
            r"download it again or rebuild it",
        ),
    ),
    Breakage("not-gzip", (r"is not a complete model\.tar\.gz \(not a gzip or tar file\)",)),
    Breakage(
        "corrupt-booster",
        (r"model_fn could not load the model: .*xgboost-model is missing or not a readable",),
    ),
    Breakage(
        "no-feature-spec",
        (r"model_fn could not load the model: .*feature_spec\.json: No such file",),
    ),
    Breakage(
        "no-handlers",
        (
            r"has no code/inference\.py: SageMaker could not start an endpoint on it",
            r"not served with the repository's handlers",
        ),
    ),
)


def _repack(
    source: Path, target: Path, *, drop: str | None = None, replace: tuple[str, bytes] | None = None
) -> Path:
    with tarfile.open(source) as original, tarfile.open(target, "w:gz") as broken:
        for member in original.getmembers():
            if member.name == drop:
                continue
            handle = original.extractfile(member)
            content = handle.read() if handle is not None else b""
            if replace is not None and member.name == replace[0]:
                content = replace[1]
            info = tarfile.TarInfo(member.name)
            info.size = len(content)
            broken.addfile(info, io.BytesIO(content))
    return target


def _broken(name: str, model: BuiltModel, directory: Path) -> Path:
    target = directory / f"{name}.tar.gz"
    data = model.archive.read_bytes()
    if name == "truncated":  # an interrupted download or copy
        target.write_bytes(data[: len(data) // 2])
        return target
    if name == "not-gzip":
        target.write_text("<Error><Code>AccessDenied</Code></Error>")  # a saved error page
        return target
    if name == "corrupt-booster":
        booster = (model.archive.parent / "model" / "xgboost-model").read_bytes()
        return _repack(
            model.archive, target, replace=("xgboost-model", booster[: len(booster) // 3])
        )
    if name == "no-feature-spec":
        return _repack(model.archive, target, drop="feature_spec.json")
    if name == "no-handlers":
        return _repack(model.archive, target, drop="code/inference.py")
    raise AssertionError(name)


@pytest.mark.parametrize("breakage", BREAKAGES, ids=lambda breakage: breakage.name)
def test_broken_artifact_is_one_error_line_and_leaves_nothing_behind(
    breakage: Breakage, reliability_model: BuiltModel, tmp_path: Path, repo_root: Path
) -> None:
    archive = _broken(breakage.name, reliability_model, tmp_path)
    scratch = tmp_path / "tmp"
    scratch.mkdir()

    result = subprocess.run(
        [sys.executable, "-m", "mlops.cli.main", "endpoint", "serve", "--local",
         "--model", str(archive), "--port", "0", "--capture", str(tmp_path / "capture")],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(repo_root), "TMPDIR": str(scratch)},
        capture_output=True,
        text=True,
        timeout=60,
    )  # fmt: skip

    lines = result.stderr.splitlines()
    assert result.returncode == 2, result.stderr
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"error: {archive}"), result.stderr
    for pattern in breakage.says:
        assert re.search(pattern, lines[0]), lines[0]
    assert result.stdout == ""
    assert list(scratch.iterdir()) == []  # the unpacked work directory is gone
    assert not (tmp_path / ".mlops" / "endpoints").exists()
    assert not (tmp_path / "capture").exists()
