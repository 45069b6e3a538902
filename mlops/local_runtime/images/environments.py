"""Per-image Python environments, created from their locks on first use and then reused.

An environment lives in ``<cache>/<image>-<lock hash>/``: a changed pin or lock makes a new
directory, an unchanged one is reused as is (a second call costs a stat). Creation runs
``uv sync --frozen`` against the image folder's ``uv.lock`` with a local Python of the image's
minor version (uv is never allowed to download one), under a file lock so that parallel test
workers or CLI calls build it once; a ``.complete`` marker written last means a crash midway is
rebuilt, never used half-made.

Installed modules are byte-compiled at creation (``uv sync --compile-bytecode``), as pip does
when an image is built: the images set ``PYTHONDONTWRITEBYTECODE=1``, so a job never writes
``.pyc`` files itself, and without them every job recompiled the sources of numpy, pandas,
scikit-learn and xgboost it imports (about 7 s a step on the 2-core reference machine).

The cache is ``$MLOPS_IMAGE_ENVS`` when set, else ``.mlops/image-envs`` in the repository
checkout (git-ignored with the rest of ``.mlops/``), else ``~/.cache/mlops/image-envs``.
"""

from __future__ import annotations

import glob
import hashlib
import os
import shutil
import subprocess  # nosec B404 - runs uv with fixed arguments
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from mlops.core.files import exclusive

CACHE_ENV = "MLOPS_IMAGE_ENVS"
_REPO_ROOT = Path(__file__).resolve().parents[3]
_COMPLETE = ".complete"
# How environments are built; part of the cache key, so a change of recipe rebuilds them.
_RECIPE = "compiled-bytecode"
_CREATE_TIMEOUT_SECONDS = 1800.0


class ImageEnvironmentError(RuntimeError):
    """The environment of an image cannot be created (no uv, no suitable Python, uv failed)."""


@dataclass(frozen=True)
class LockedFolder:
    """A folder holding ``pyproject.toml`` + ``uv.lock`` and the Python minor version to use:
    an image's libraries, or a reference toolkit a test compares against."""

    name: str
    folder: Path
    python: str

    @property
    def lock_hash(self) -> str:
        """Content hash of manifest + lock: a changed pin gives a new environment."""
        digest = hashlib.sha256()
        for file in ("pyproject.toml", "uv.lock"):
            digest.update((self.folder / file).read_bytes())
        digest.update(_RECIPE.encode())
        return digest.hexdigest()[:16]


@dataclass(frozen=True)
class ImageEnvironment:
    """A created environment: its interpreter and its ``bin`` directory (first on PATH)."""

    locked: LockedFolder
    root: Path
    environment: Mapping[str, str] = field(default_factory=dict)  # the image's ENV lines
    # Modules the image's scripts import, which the warm runtime imports once (`jobs.warm`).
    preload: tuple[str, ...] = ()

    @property
    def bin_dir(self) -> Path:
        return self.root / "bin"

    @property
    def python(self) -> Path:
        return self.bin_dir / "python3"


def default_cache_dir() -> Path:
    """Where environments are kept (see module doc)."""
    override = os.environ.get(CACHE_ENV)
    if override:
        return Path(override)
    if (_REPO_ROOT / "pyproject.toml").is_file() and (_REPO_ROOT / "mlops").is_dir():
        return _REPO_ROOT / ".mlops" / "image-envs"
    return Path.home() / ".cache" / "mlops" / "image-envs"


def ensure_environment(
    locked: LockedFolder,
    cache_dir: Path | None = None,
    *,
    after_create: Callable[[Path], None] | None = None,
) -> ImageEnvironment:
    """The environment of ``locked`` (e.g. ``image.locked``), created from its lock if it does
    not exist yet. ``after_create(root)`` runs once after a creation, before the environment
    counts as complete: for the fix-ups an image's Dockerfile applies after installing, so they
    are part of what is cached."""
    cache = (cache_dir or default_cache_dir()).resolve()
    root = cache / f"{locked.name}-{locked.lock_hash}"
    environment = ImageEnvironment(locked=locked, root=root)
    if (root / _COMPLETE).is_file():
        return environment
    cache.mkdir(parents=True, exist_ok=True)
    with exclusive(cache / f".{locked.name}.lock"):
        if (root / _COMPLETE).is_file():  # another process built it while we waited
            return environment
        shutil.rmtree(root, ignore_errors=True)
        started = time.monotonic()
        _create(locked, root)
        if after_create is not None:
            after_create(root)
        (root / _COMPLETE).write_text(f"created in {time.monotonic() - started:.1f} s\n")
        for stale in cache.glob(f"{locked.name}-*"):  # environments of an older lock
            if stale != root and stale.is_dir():
                shutil.rmtree(stale, ignore_errors=True)
    return environment


def find_uv() -> Path:
    """``uv`` on PATH, else the one the Makefile installs into ``.tools/``."""
    found = shutil.which("uv")
    if found:
        return Path(found)
    bundled = _REPO_ROOT / ".tools" / "bin" / "uv"
    if bundled.is_file():
        return bundled
    raise ImageEnvironmentError("uv is needed to create the image environments: run `make install`")


def find_python(version: str) -> Path:
    """A working local CPython ``version`` (``3.12``): pyenv's, or one on PATH.

    Each candidate is run once: a pyenv shim on PATH exists but fails when that version is not
    selected, and must not be picked.
    """
    name = f"python{version}"
    pyenv_root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv"))
    candidates = sorted(
        glob.glob(str(pyenv_root / "versions" / f"{version}.*" / "bin" / name)), reverse=True
    )
    candidates += [shutil.which(name) or ""]
    candidates += [f"/usr/bin/{name}", f"/usr/local/bin/{name}", f"/opt/homebrew/bin/{name}"]
    for candidate in candidates:
        if candidate and _runs_as(Path(candidate), version):
            return Path(candidate)
    raise ImageEnvironmentError(
        f"Python {version} is needed for the image environments (the images run it): install "
        f"it (e.g. `pyenv install {version}`) so that {name} is on PATH"
    )


def _runs_as(python: Path, version: str) -> bool:
    if not (python.is_file() and os.access(python, os.X_OK)):
        return False
    try:
        result = subprocess.run(  # noqa: S603  # nosec B603 - a local interpreter, no shell
            [str(python), "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return result.returncode == 0 and result.stdout.strip() == version


def _create(image: LockedFolder, root: Path) -> None:
    uv = find_uv()
    python = find_python(image.python)
    env = {
        **os.environ,
        "UV_PROJECT_ENVIRONMENT": str(root),
        "UV_PYTHON_DOWNLOADS": "never",
        "VIRTUAL_ENV": str(root),
    }
    env.pop("UV_FROZEN", None)
    command = [
        str(uv),
        "sync",
        "--frozen",
        "--compile-bytecode",
        "--no-install-project",
        "--no-dev",
        "--python",
        str(python),
        "--project",
        str(image.folder),
    ]
    result = subprocess.run(  # noqa: S603  # nosec B603 - fixed arguments, no shell
        command,
        env=env,
        capture_output=True,
        text=True,
        timeout=_CREATE_TIMEOUT_SECONDS,
        check=False,
    )
    if result.returncode != 0:
        shutil.rmtree(root, ignore_errors=True)
        tail = "\n".join(result.stderr.strip().splitlines()[-5:])
        raise ImageEnvironmentError(f"creating the {image.name} environment failed:\n{tail}")
