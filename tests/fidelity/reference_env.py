"""Isolated environments holding the references the fidelity tests compare against.

Each is a small uv project under ``tests/fidelity/envs/<name>/`` (``pyproject.toml`` +
``uv.lock``) whose pins cannot live in the project's own environment: the XGBoost image's
serving stack and its training launcher (Python 3.12, sagemaker-containers), and the AWS CLI v1
(which pins botocore exactly). They are created by the same mechanism as the per-image job
environments (`mlops.local_runtime.images.environments`: ``uv sync --frozen`` on first use,
keyed by the lock's hash, under a file lock, published by a completion marker), cached under
``<repo>/.cache/fidelity/`` (git-ignored).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from mlops.local_runtime.images.environments import (
    ImageEnvironmentError,
    LockedFolder,
    ensure_environment,
    find_python,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
ENVS = Path(__file__).resolve().parent / "envs"
CACHE = REPO_ROOT / ".cache" / "fidelity"

ReferenceEnvError = ImageEnvironmentError
__all__ = [
    "ENVS",
    "REPO_ROOT",
    "ReferenceEnv",
    "ReferenceEnvError",
    "ensure_env",
    "find_python",
    "site_packages",
]


@dataclass(frozen=True)
class ReferenceEnv:
    """A created environment and how long it took to get it (a stat when cached)."""

    name: str
    root: Path
    seconds: float

    def bin(self, program: str) -> Path:
        return self.root / "bin" / program


def ensure_env(
    name: str, python_version: str, *, after_sync: Callable[[Path], None] | None = None
) -> ReferenceEnv:
    """The environment of ``envs/<name>`` on a local Python ``python_version`` (``"3.12"``);
    ``after_sync(root)`` runs once after creating it (an image's post-install fix-ups)."""
    started = time.monotonic()
    created = ensure_environment(
        LockedFolder(name, ENVS / name, python_version), CACHE, after_create=after_sync
    )
    return ReferenceEnv(name, created.root, time.monotonic() - started)


def site_packages(root: Path) -> Path:
    """``lib/pythonX.Y/site-packages`` of an environment."""
    found = sorted(root.glob("lib/python3.*/site-packages"))
    if not found:
        raise ReferenceEnvError(f"{root} has no site-packages")
    return found[0]
