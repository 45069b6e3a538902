"""Load a ``model.tar.gz`` the way the SageMaker XGBoost serving container does.

The container unpacks the artifact into ``/opt/ml/model``, imports the handler module named by
``SAGEMAKER_PROGRAM`` from ``/opt/ml/model/code`` (where ``train.py`` put it, contracts §4),
picks its handlers and calls ``model_fn(model_dir)`` once. Doing the same here means the local
endpoint runs the handlers that were trained *with* this model, not whatever
``inference/inference.py`` says today.

An artifact without ``code/inference.py`` is refused, as the image refuses it: with
``SAGEMAKER_PROGRAM=inference.py`` and ``SAGEMAKER_SUBMIT_DIRECTORY=/opt/ml/model/code`` (what
the registered model sets), the image's ``serving_entrypoint`` calls sagemaker-containers'
``_server.start``, which imports the program through ``_modules.import_module`` *before*
starting gunicorn; ``_files.download_and_extract`` then fails on the missing directory
(``FileNotFoundError`` from ``tarfile.is_tarfile``), or the import fails
(``ImportModuleError``) when ``code/`` lacks the program, and the container exits: the endpoint
never becomes healthy. The image's own default handlers run only in algorithm mode, with no
``SAGEMAKER_PROGRAM`` at all (``sagemaker_xgboost_container/serving.py``, ``main``).

The handler choice is the image's (``sagemaker_xgboost_container/serving.py``,
``_user_module_transformer``): ``transform_fn`` alone, or ``input_fn`` → ``predict_fn`` →
``output_fn``; a module defining both kinds is refused. What a handler answers becomes an HTTP
response in ``container``.

Every way an artifact can fail to load (not a complete gzip tar, no handlers, handlers that do
not import, ``model_fn`` raising) is one ``UserError`` line naming the file inside the archive
and what to do, never a traceback.
"""

from __future__ import annotations

import importlib.util
import itertools
import re
import sys
import tarfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from mlops.core.errors import UserError

DEFAULT_PROGRAM = "inference.py"
CODE_DIR = "code"  # SAGEMAKER_SUBMIT_DIRECTORY=/opt/ml/model/code, relative to the model dir
# What to do about a broken artifact: `mlops pipeline run --local` trains and packs a new one.
_REBUILD = "rebuild it with `mlops pipeline run --local` (contracts §4 lists its files)"
_PIPELINE = ("input_fn", "predict_fn", "output_fn")
_XGBOOST_PREFIX = re.compile(r"^\[\d\d:\d\d:\d\d\] \S+:\d+: ")  # "[13:01:22] src/x.cc:12: "
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
    # A truncated gzip stream ends in EOFError (which click would print as "Aborted."), a
    # damaged one in zlib.error or BadGzipFile (an OSError).
    except (tarfile.TarError, OSError, EOFError, zlib.error) as error:
        raise UserError(
            f"{archive} is not a complete model.tar.gz ({_reason(error)}): download it again "
            f"or {_REBUILD}"
        ) from error
    return model_dir


def load_served_model(
    model_dir: Path, *, program: str = DEFAULT_PROGRAM, source: str | None = None
) -> ServedModel:
    """Import ``code/<program>`` from the unpacked model and run its ``model_fn``.

    ``source`` names the artifact in error messages (default: ``model_dir``).
    """
    where = source or str(model_dir)
    handler_path = model_dir / CODE_DIR / program
    member = f"{CODE_DIR}/{program}"
    if not handler_path.is_file():
        raise UserError(
            f"{where} has no {member}: SageMaker could not start an endpoint on it "
            f"(SAGEMAKER_PROGRAM={program}) and it is not served with the repository's "
            f"handlers instead; {_REBUILD}"
        )
    handlers = _import_handlers(handler_path, f"{member} in {where}")
    if not callable(getattr(handlers, "model_fn", None)):
        raise UserError(f"{member} in {where} defines no model_fn(model_dir); {_REBUILD}")
    transform = _transform(handlers, f"{member} in {where}")
    try:
        model = handlers.model_fn(str(model_dir))
    except Exception as error:  # whatever the handlers raise: one line, not a traceback
        raise UserError(
            f"{where}: {member}'s model_fn could not load the model: "
            f"{type(error).__name__}: {_reason(error, model_dir)}; {_REBUILD}"
        ) from error
    return ServedModel(
        model=model,
        handlers=handlers,
        model_dir=model_dir,
        handler_path=handler_path,
        transform=transform,
    )


def _reason(error: BaseException, model_dir: Path | None = None) -> str:
    """The error's first line, paths inside ``model_dir`` shown as archive members.

    XGBoost's messages start with ``[hh:mm:ss] /source/file.cc:123: `` and go on with a C++
    stack trace: only the sentence in between is kept.
    """
    if isinstance(error, OSError) and error.filename and error.strerror:
        text = f"{error.filename}: {error.strerror}"
    elif isinstance(error, tarfile.ReadError) and "could not be opened" in str(error):
        text = "not a gzip or tar file"  # tarfile lists every compression it tried
    else:
        text = str(error) or type(error).__name__
    text = text.strip().splitlines()[0] if text.strip() else type(error).__name__
    text = _XGBOOST_PREFIX.sub("", text)
    if model_dir is not None:
        text = text.replace(f"{model_dir}/", "").replace(str(model_dir), ".")
    return text


def _transform(handlers: ModuleType, path: str) -> Transform:
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


def _import_handlers(path: Path, shown: str) -> ModuleType:
    """Import ``path`` under a unique name so two endpoints in one process never share code."""
    name = f"_mlops_served_{path.stem}_{next(_module_ids)}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise UserError(f"cannot import handler module {shown}")
    module = importlib.util.module_from_spec(spec)
    code_dir = str(path.parent)
    if code_dir not in sys.path:  # like the container: siblings of the program are importable
        sys.path.append(code_dir)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as error:
        del sys.modules[name]
        raise UserError(
            f"importing {shown} failed: {type(error).__name__}: {_reason(error)}; fix the "
            f"handlers or {_REBUILD}"
        ) from error
    return module
