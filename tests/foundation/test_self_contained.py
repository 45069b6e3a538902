"""A fresh clone carries everything it needs, and installs nothing it does not use.

Nothing in the repository reads a path outside the checkout (a sibling folder, a workspace
path), the tests' reference files live under tests/fixtures with their origin written down,
every command the README shows resolves to a program the set-up put inside the clone, in a
shell where `uv` is not on PATH, and the lock file brings no GPU library and none of the
SageMaker SDK's optional stacks the code never imports.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest

from tests.foundation.test_readme_commands import path_without_uv, readme_shell_lines, words

REPO = Path(__file__).resolve().parents[2]

# Written so that this file does not match itself.
OUTSIDE_THE_REPO = {
    "a folder beside the checkout": re.compile(r"\.\.[/\\]+shared\b"),
    "an absolute workspace path": re.compile(r"/work/(shared|main)\b"),
    "a Path joined onto a parent folder": re.compile(
        r"\.parents?(\[\d+\])?\s*/\s*[\"']shared[\"']"
    ),
    "an os.path.join through '..'": re.compile(r"[\"']\.\.[\"']\s*,\s*[\"']shared[\"']"),
}

# What the lock must not bring back (0.65 GB together, imported by nothing here): the CUDA
# collectives of the default xgboost wheel, and the stacks behind SDK features this project does
# not use (MLflow tracking, the Feature Store's Iceberg offline store).
UNUSED_HEAVY = re.compile(
    r"nvidia-.*|mlflow.*|sagemaker-mlflow|sqlalchemy|databricks-sdk|pyiceberg"
)


def _repo_files() -> list[Path]:
    """Tracked files plus new, not-ignored ones (what a commit of this tree would carry)."""
    if not (REPO / ".git").exists():
        pytest.skip("not a git checkout")
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO,
        capture_output=True,
        check=True,
    ).stdout.decode()
    return [REPO / name for name in sorted(set(listed.split("\0"))) if name]


def test_no_file_reads_a_path_outside_the_repo() -> None:
    found = []
    for path in _repo_files():
        if not path.is_file():  # deleted in the work tree, not yet in the index
            continue
        text = path.read_bytes().decode("utf-8", errors="ignore")
        for what, pattern in OUTSIDE_THE_REPO.items():
            for match in pattern.finditer(text):
                line = text.count("\n", 0, match.start()) + 1
                found.append(f"{path.relative_to(REPO)}:{line}: {what}: {match.group(0)!r}")
    assert found == [], "\n".join(found)


def test_model_monitor_fixtures_live_in_the_repo_with_their_source(
    model_monitor_fixtures: Path,
) -> None:
    folder = model_monitor_fixtures.resolve()
    assert folder.is_relative_to(REPO / "tests" / "fixtures"), folder
    source = (folder / "SOURCE.md").read_text()
    assert "aws/sagemaker-python-sdk" in source
    assert "Apache License 2.0" in source
    files = sorted(p.name for p in folder.iterdir() if p.name != "SOURCE.md")
    assert files == [
        "actuals.jsonl",
        "capture.jsonl",
        "constraint_violations.json",
        "constraints.json",
        "statistics.json",
    ]
    for name in files:
        assert f"| `{name}` | `tests/data/" in source, f"SOURCE.md names no origin for {name}"


def _resolve(program: str, path: str) -> Path | None:
    """Where a README command's program comes from after the set-up, without uv on PATH."""
    if "/" in program:  # written relative to the clone, e.g. .venv/bin/mlops
        return REPO / program
    found = shutil.which(program, path=path)
    return Path(found) if found else None


@pytest.mark.parametrize("line", readme_shell_lines())
def test_readme_command_resolves_without_uv(line: str) -> None:
    path = path_without_uv()
    program, *args = words(line)
    resolved = _resolve(program, path)
    assert resolved is not None, f"{program!r} is not on a PATH without uv, for: {line}"
    assert resolved.is_file(), f"{resolved} missing, for: {line}"
    assert os.access(resolved, os.X_OK), f"{resolved} is not executable"
    if program == "npx":
        assert args[0] == "cdk", line
        pinned = json.loads((REPO / "package.json").read_text())["devDependencies"]["aws-cdk"]
        assert re.fullmatch(r"\d+\.\d+\.\d+", pinned), f"aws-cdk is not pinned: {pinned}"
        cdk = REPO / "node_modules" / ".bin" / "cdk"
        assert cdk.exists(), "the pinned CDK CLI is missing: `make install` runs npm ci"


def test_cdk_app_runs_without_uv() -> None:
    """`npx cdk synth/deploy` run cdk.json's app: it must not need uv on the user's PATH."""
    app_command = json.loads((REPO / "cdk.json").read_text())["app"]
    program = shlex.split(app_command)[0]
    resolved = _resolve(program, path_without_uv())
    assert resolved is not None, f"cdk.json's app needs {program!r} on PATH"
    assert resolved.is_file(), f"cdk.json's app needs {resolved}"
    assert os.access(resolved, os.X_OK), f"{resolved} is not executable"


def test_the_lock_installs_no_gpu_library_or_unused_sdk_stack() -> None:
    lock = tomllib.loads((REPO / "uv.lock").read_text())
    names = {package["name"] for package in lock["package"]}
    assert sorted(n for n in names if UNUSED_HEAVY.fullmatch(n)) == []
    assert "sagemaker" not in names, "the SDK meta-package: depend on the sub-packages used"
    xgboost = next(p for p in lock["package"] if p["name"] == "xgboost")
    linux_wheels = [w["url"] for w in xgboost.get("wheels", []) if "linux" in w["url"]]
    assert linux_wheels == [], "Linux installs the CPU-only xgboost-cpu wheel"
    assert "xgboost-cpu" in names
