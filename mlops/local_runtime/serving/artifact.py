"""Load a ``model.tar.gz`` the way the SageMaker XGBoost serving container does.

The container unpacks the artifact into ``/opt/ml/model``, imports the handler module named by
``SAGEMAKER_PROGRAM`` from ``/opt/ml/model/code`` (where ``train.py`` put it, contracts §4) and
calls ``model_fn`` once. Doing the same here means the local endpoint runs the handlers that
were trained *with* this model, not whatever ``inference/inference.py`` says today; the repo's
copy is only a fallback for artifacts that carry no code.
"""

from __future__ import annotations

import importlib.util
import inspect
import itertools
import sys
import tarfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from mlops.errors import UserError

DEFAULT_PROGRAM = "inference.py"
REPO_HANDLERS = Path(__file__).resolve().parents[3] / "inference" / "inference.py"
_module_ids = itertools.count(1)


@dataclass(frozen=True)
class ServedModel:
    """A loaded model and its handler functions; ``invoke`` is safe to call from many threads."""

    model: Any
    handlers: ModuleType
    model_dir: Path
    handler_path: Path

    def invoke(
        self, body: bytes, content_type: str | None, accept: str | None
    ) -> tuple[bytes, str]:
        """Run one request through the handlers: ``(response body, response content type)``."""
        transform_fn = getattr(self.handlers, "transform_fn", None)
        if transform_fn is not None:
            result = transform_fn(self.model, body, content_type, accept)
        else:
            data = self.handlers.input_fn(body, content_type)
            prediction = self.handlers.predict_fn(data, self.model)
            result = self.handlers.output_fn(prediction, accept)
        if isinstance(result, tuple):
            payload, response_type = result
        else:  # the container then answers with the Accept type (or its default)
            payload, response_type = result, accept or "application/json"
        if isinstance(payload, str):
            payload = payload.encode("utf-8")
        return bytes(payload), str(response_type)


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
    has_transform = callable(getattr(handlers, "transform_fn", None))
    missing = [
        name
        for name in ("input_fn", "predict_fn", "output_fn")
        if not callable(getattr(handlers, name, None))
    ]
    if has_transform and len(missing) < 3:
        raise UserError(
            f"{handler_path}: transform_fn cannot be combined with input/predict/output_fn"
        )
    if not has_transform and missing:
        raise UserError(
            f"{handler_path} lacks {', '.join(missing)}: the local endpoint needs the handlers "
            "(the container's defaults parse only CSV/libsvm into a DMatrix)"
        )
    model = _call(handlers.model_fn, str(model_dir))
    return ServedModel(
        model=model, handlers=handlers, model_dir=model_dir, handler_path=handler_path
    )


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


def _call(function: Callable[..., Any], *args: Any) -> Any:
    """Call a handler; like the toolkit, pass a trailing ``context`` (None) if it takes one."""
    parameters = len(inspect.signature(function).parameters)
    if parameters == len(args) + 1:
        return function(*args, None)
    return function(*args)
