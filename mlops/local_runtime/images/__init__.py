"""Local stand-ins for SageMaker's prebuilt images: one locked Python environment per image.

``image_for_uri(uri)`` finds the image a definition names, ``ensure_environment(image.locked)``
returns its environment (created from the lock on first use, cached by the lock's hash). The
folders next to this module hold each image's ``pyproject.toml`` + ``uv.lock``;
``python -m mlops.local_runtime.images.matrix`` prints the README's version matrix from them.
"""

from mlops.local_runtime.images.catalog import (
    ImageSpec,
    UnknownImageError,
    image_environment,
    image_for_uri,
    known_images,
)
from mlops.local_runtime.images.environments import (
    ImageEnvironment,
    ImageEnvironmentError,
    LockedFolder,
    default_cache_dir,
    ensure_environment,
)

__all__ = [
    "ImageEnvironment",
    "ImageEnvironmentError",
    "ImageSpec",
    "LockedFolder",
    "UnknownImageError",
    "default_cache_dir",
    "ensure_environment",
    "image_environment",
    "image_for_uri",
    "known_images",
]
