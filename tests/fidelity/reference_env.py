"""Isolated Python environments holding the references the fidelity tests compare against.

Each environment is a small uv project under ``tests/fidelity/envs/<name>/`` (``pyproject.toml``
+ ``uv.lock``) whose pins cannot live in the project's own environment: the XGBoost image's
serving stack (Python 3.12, Flask 3, sagemaker-containers) and the AWS CLI v1 (which pins
botocore exactly). ``ensure_env`` builds one on first use with ``uv sync --frozen`` under
``<repo>/.cache/fidelity/<name>-<key>/``, where the key hashes the lock, the project file and the
interpreter version, so a changed lock builds a fresh environment and an unchanged one is reused
(a warm call costs a stat). Builds are serialised with a file lock (pytest-xdist workers share
the cache) and an environment counts as built only once its completion marker is written, so a
half-built one (an interrupted run) is rebuilt, never used. (It is built in place: a venv's
scripts name their interpreter by absolute path, so it cannot be built elsewhere and moved.)
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
import shutil
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
ENVS = Path(__file__).resolve().parent / "envs"
CACHE = REPO_ROOT / ".cache" / "fidelity"
_COMPLETE = ".complete"
_SYNC_TIMEOUT_SECONDS = 900


class ReferenceEnvError(RuntimeError):
    """The environment could not be built: the message says what failed."""


@dataclass(frozen=True)
class ReferenceEnv:
    """A built environment: its root and how long it took to get it."""

    name: str
    root: Path
    seconds: float
    built: bool  # False: it was in the cache

    def bin(self, program: str) -> Path:
        return self.root / "bin" / program


def uv_binary() -> Path | None:
    """``uv`` on PATH, else the one the Makefile installs into ``.tools/``."""
    found = shutil.which("uv")
    if found:
        return Path(found)
    local = REPO_ROOT / ".tools" / "bin" / "uv"
    return local if local.is_file() else None


def find_python(version: str) -> Path | None:
    """An interpreter of ``version`` (``3.12``) on this machine, without downloading one.

    Looks in pyenv's versions (``$PYENV_ROOT`` or ``~/.pyenv``), newest patch first, then for
    ``python3.12`` on PATH, then asks uv (which knows system and uv-managed interpreters).
    """
    pyenv = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    candidates = sorted(
        pyenv.glob(f"{version}.*/bin/python{version}"),
        key=lambda path: [int(part) for part in re.findall(r"\d+", path.parts[-3])],
        reverse=True,
    )
    on_path = shutil.which(f"python{version}")
    if on_path:
        candidates.append(Path(on_path))
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    uv = uv_binary()
    if uv is None:
        return None
    found = subprocess.run(
        [str(uv), "python", "find", "--no-python-downloads", version],
        capture_output=True,
        text=True,
        check=False,
    )
    path = Path(found.stdout.strip()) if found.returncode == 0 else None
    return path if path is not None and path.is_file() else None


def ensure_env(
    name: str, python: Path, *, after_sync: Callable[[Path], None] | None = None
) -> ReferenceEnv:
    """The environment of ``envs/<name>`` for ``python``, built if the cache lacks it.

    ``after_sync(root)`` runs once after a build, before the environment is published (for
    the patches an image applies after installing, so they are part of what is cached).
    """
    started = time.monotonic()
    project = ENVS / name
    key = _key(project, python)
    target = CACHE / f"{name}-{key}"
    if (target / _COMPLETE).is_file():
        return ReferenceEnv(name, target, time.monotonic() - started, built=False)
    uv = uv_binary()
    if uv is None:
        raise ReferenceEnvError(
            "uv not found (neither on PATH nor at .tools/bin/uv): run `make install`"
        )
    CACHE.mkdir(parents=True, exist_ok=True)
    with open(CACHE / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another worker may be building the same env
        if not (target / _COMPLETE).is_file():
            _build(uv, project, python, target, after_sync)
            _drop_stale(name, keep=target)
    return ReferenceEnv(name, target, time.monotonic() - started, built=True)


def _key(project: Path, python: Path) -> str:
    digest = hashlib.sha256()
    for part in ("pyproject.toml", "uv.lock"):
        digest.update((project / part).read_bytes())
    digest.update(_python_version(python).encode())
    return digest.hexdigest()[:16]


def _python_version(python: Path) -> str:
    answer = subprocess.run(
        [str(python), "-c", "import sys; print(sys.version)"],
        capture_output=True,
        text=True,
        check=False,
    )
    if answer.returncode != 0:
        raise ReferenceEnvError(f"{python} does not run: {answer.stderr.strip()}")
    return answer.stdout.strip()


def _build(
    uv: Path,
    project: Path,
    python: Path,
    target: Path,
    after_sync: Callable[[Path], None] | None,
) -> None:
    shutil.rmtree(target, ignore_errors=True)  # what an interrupted build left
    environment = {
        key: value
        for key, value in os.environ.items()
        if key not in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME")
    }
    environment["UV_PROJECT_ENVIRONMENT"] = str(target)
    command = [
        str(uv),
        "sync",
        "--frozen",
        "--no-python-downloads",
        "--project",
        str(project),
        "--python",
        str(python),
    ]
    try:
        done = subprocess.run(
            command,
            env=environment,
            capture_output=True,
            text=True,
            timeout=_SYNC_TIMEOUT_SECONDS,
            check=False,
        )
    except subprocess.TimeoutExpired as error:
        raise ReferenceEnvError(f"`uv sync` of {project.name} timed out") from error
    if done.returncode != 0:
        tail = "\n".join(done.stderr.strip().splitlines()[-15:])
        raise ReferenceEnvError(f"`uv sync` of {project.name} failed:\n{tail}")
    if after_sync is not None:
        after_sync(target)
    (target / _COMPLETE).write_text(f"built for {python} by uv sync --frozen\n")


def _drop_stale(name: str, *, keep: Path) -> None:
    """Remove environments of ``name`` built from an older lock (only the current one is kept)."""
    for other in CACHE.glob(f"{name}-*"):
        if other != keep and other.is_dir():
            shutil.rmtree(other, ignore_errors=True)


def site_packages(root: Path) -> Path:
    """``lib/pythonX.Y/site-packages`` of an environment."""
    found = sorted(root.glob("lib/python3.*/site-packages"))
    if not found:
        raise ReferenceEnvError(f"{root} has no site-packages")
    return found[0]
