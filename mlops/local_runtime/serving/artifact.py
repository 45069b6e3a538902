"""Load a ``model.tar.gz`` the way the SageMaker XGBoost serving container does.

The container unpacks the artifact into ``/opt/ml/model``, imports the handler module named by
``SAGEMAKER_PROGRAM`` from ``/opt/ml/model/code`` (where ``train.py`` put it, contracts §4),
picks its handlers and calls ``model_fn(model_dir)`` once. Doing the same here means the local
endpoint runs the handlers that were trained *with* this model, not whatever
``inference/inference.py`` says today; the repo's copy is only a fallback for artifacts that
carry no code.

The handler choice is the image's (``sagemaker_xgboost_container/serving.py``,
``_user_module_transformer``): ``transform_fn`` alone, or ``input_fn`` → ``predict_fn`` →
``output_fn``; a module defining both kinds is refused. What a handler answers becomes an HTTP
response in ``container``.
"""

from __future__ import annotations

import importlib.util
import itertools
import sys
import tarfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from mlops.core.errors import UserError

DEFAULT_PROGRAM = "inference.py"
REPO_HANDLERS = Path(__file__).resolve().parents[3] / "inference" / "inference.py"
_PIPELINE = ("input_fn", "predict_fn", "output_fn")
_module_ids = itertools.count(1)

# transform(model, content, content_type, accept) -> whatever the handlers answer
Transform = Callable[[Any, bytes | str, str, str], Any]


@dataclass(frozen=True)
class ServedModel:
    """A loaded model and the transform the container would run; thread-safe to call."""

    model: Any
    handlers: ModuleType
    model_dir: Path
    handler_path: Path
    transform: Transform

    def answer(self, content: bytes | str, content_type: str, accept: str) -> Any:
        """What the handlers return for one request (the container turns it into HTTP)."""
        return self.transform(self.model, content, content_type, accept)


def unpack_model(archive: Path, model_dir: Path) -> Path:
    """Extract ``archive`` into ``model_dir`` (refusing paths that escape it) and return it."""
    if not archive.is_file():
        raise UserError(f"model artifact {archive} does not exist")
    model_dir.mkdir(parents=True, exist_ok=True)
    try:
        with tarfile.open(archive, "r:*") as tar:
            tar.extractall(model_dir, filter="data")
    except (tarfile.TarError, OSError) as error:
        raise UserError(f"{archive} is not a readable model.tar.gz: {error}") from error
    return model_dir


def load_served_model(model_dir: Path, *, program: str = DEFAULT_PROGRAM) -> ServedModel:
    """Import ``code/<program>`` from the unpacked model (or the repo's handlers) and load it."""
    handler_path = model_dir / "code" / program
    if not handler_path.is_file():
        handler_path = REPO_HANDLERS
    handlers = _import_handlers(handler_path)
    if not callable(getattr(handlers, "model_fn", None)):
        raise UserError(f"{handler_path} defines no model_fn(model_dir)")
    transform = _transform(handlers, handler_path)
    model = handlers.model_fn(str(model_dir))
    return ServedModel(
        model=model,
        handlers=handlers,
        model_dir=model_dir,
        handler_path=handler_path,
        transform=transform,
    )


def _transform(handlers: ModuleType, path: Path) -> Transform:
    transform_fn = getattr(handlers, "transform_fn", None)
    defined = [name for name in _PIPELINE if getattr(handlers, name, None) is not None]
    if transform_fn is not None and defined:
        raise UserError(
            f"{path}: transform_fn cannot be combined with {', '.join(defined)} "
            "(the serving container refuses that module)"
        )
    if transform_fn is not None:
        return transform_fn  # type: ignore[no-any-return]
    if len(defined) < len(_PIPELINE):
        missing = sorted(set(_PIPELINE) - set(defined))
        raise UserError(
            f"{path} lacks {', '.join(missing)} (or a transform_fn): the local endpoint does not "
            "reproduce the container's default XGBoost encoders"
        )
    input_fn, predict_fn, output_fn = (getattr(handlers, name) for name in _PIPELINE)

    def pipeline(model: Any, content: bytes | str, content_type: str, accept: str) -> Any:
        return output_fn(predict_fn(input_fn(content, content_type), model), accept)

    return pipeline


def _import_handlers(path: Path) -> ModuleType:
    """Import ``path`` under a unique name so two endpoints in one process never share code."""
    name = f"_mlops_served_{path.stem}_{next(_module_ids)}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise UserError(f"cannot import handler module {path}")
    module = importlib.util.module_from_spec(spec)
    code_dir = str(path.parent)
    if code_dir not in sys.path:  # like the container: siblings of the program are importable
        sys.path.append(code_dir)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as error:
        del sys.modules[name]
        raise UserError(f"importing {path} failed: {type(error).__name__}: {error}") from error
    return module
