"""The SageMaker images the local runtime can stand in for, read from their folders.

Each folder beside this module describes one prebuilt image: ``pyproject.toml`` pins the
libraries the container-side scripts import at the image's own versions (the pins and their
source are in the file) and ``uv.lock`` locks them; the ``[tool.mlops.image]`` table says how a
definition names the image (ECR repository and tags), its Python version, the image's ``ENV``
lines and where each fact comes from. The local runtime runs a job of that image with that
environment's interpreter, so scripts meet the libraries they meet on SageMaker.
"""

from __future__ import annotations

import functools
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlops.local_runtime.images.environments import (
    ImageEnvironment,
    LockedFolder,
    ensure_environment,
)

IMAGES_DIR = Path(__file__).resolve().parent
_MANIFEST = "pyproject.toml"
_LOCK = "uv.lock"
# Outside the manifest on purpose: the preload list is not part of the environment's lock hash.
_PRELOAD = "preload.txt"


@dataclass(frozen=True)
class ImageSpec:
    """One image: its folder, how URIs name it, its Python, its ENV lines and their sources."""

    name: str
    folder: Path
    repository: str
    tags: tuple[str, ...]
    python: str
    environment: dict[str, str]
    requirements_source: str
    dockerfile_source: str
    launcher: str
    pins: tuple[str, ...]
    scripts: tuple[str, ...] = ()
    preload: tuple[str, ...] = ()

    @property
    def lock_file(self) -> Path:
        return self.folder / _LOCK

    @property
    def locked(self) -> LockedFolder:
        """What `ensure_environment` creates for this image."""
        return LockedFolder(name=self.name, folder=self.folder, python=self.python)

    def locked_versions(self) -> dict[str, str]:
        """Every package of the lock with its version (the environment's exact contents)."""
        lock = tomllib.loads(self.lock_file.read_text())
        return {
            str(package["name"]): str(package["version"])
            for package in lock.get("package", [])
            if "version" in package and package.get("source", {}).get("virtual") is None
        }


class UnknownImageError(LookupError):
    """No local environment stands in for this image URI."""


@functools.cache
def known_images() -> tuple[ImageSpec, ...]:
    """Every image folder next to this module, sorted by name."""
    return tuple(
        _read(folder)
        for folder in sorted(IMAGES_DIR.iterdir())
        if (folder / _MANIFEST).is_file() and (folder / _LOCK).is_file()
    )


def image_for_uri(uri: str) -> ImageSpec:
    """The image a definition's ``ImageUri``/``TrainingImage`` names (any account, region)."""
    repository, _, tag = uri.rsplit("/", 1)[-1].partition(":")
    for image in known_images():
        if image.repository == repository and tag in image.tags:
            return image
    known = ", ".join(f"{i.repository}:{'|'.join(i.tags)}" for i in known_images())
    raise UnknownImageError(f"image {uri} (local environments exist for {known})")


def image_environment(image: ImageSpec, cache_dir: Path | None = None) -> ImageEnvironment:
    """The created environment of ``image`` with the image's ENV lines (what jobs run in)."""
    created = ensure_environment(image.locked, cache_dir)
    return ImageEnvironment(
        locked=created.locked,
        root=created.root,
        environment=image.environment,
        preload=image.preload,
    )


def _read(folder: Path) -> ImageSpec:
    manifest = tomllib.loads((folder / _MANIFEST).read_text())
    table: dict[str, Any] = manifest["tool"]["mlops"]["image"]
    return ImageSpec(
        name=folder.name,
        folder=folder,
        repository=str(table["repository"]),
        tags=tuple(str(tag) for tag in table["tags"]),
        python=str(table["python"]),
        environment={str(k): str(v) for k, v in table.get("environment", {}).items()},
        requirements_source=str(table["requirements"]),
        dockerfile_source=str(table["dockerfile"]),
        launcher=str(table["launcher"]),
        pins=tuple(str(item) for item in manifest["project"]["dependencies"]),
        scripts=tuple(str(item) for item in table.get("scripts", [])),
        preload=_preload(folder / _PRELOAD),
    )


def _preload(path: Path) -> tuple[str, ...]:
    """Module names, one a line (``#`` comments); none when the image has no such file."""
    if not path.is_file():
        return ()
    lines = (line.split("#", 1)[0].strip() for line in path.read_text().splitlines())
    return tuple(line for line in lines if line)
