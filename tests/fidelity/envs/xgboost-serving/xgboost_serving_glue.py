"""The XGBoost image's script-mode serving glue, for the serving contract test only.

Runs inside the isolated reference environment (Python 3.12 + sagemaker-containers), never in
the project's. It is the smallest faithful equivalent of the single-model path of
``src/sagemaker_xgboost_container/serving.py`` in aws/sagemaker-xgboost-container (the module
the image names in ``SAGEMAKER_SERVING_MODULE=sagemaker_xgboost_container.serving:main``; the
image's Dockerfile in aws/deep-learning-containers builds it as a wheel from that repository,
and it is not published on PyPI):

- ``main(environ, start_response)`` is the WSGI app gunicorn serves. On first use it reads
  ``ServingEnv().module_name`` (``SAGEMAKER_PROGRAM``), imports that module, builds a
  sagemaker-containers ``Transformer`` from its handlers, calls ``initialize()`` (which runs
  ``model_fn(model_dir)``) and wraps ``transformer.transform`` in a ``worker.Worker`` (Flask).
- the handler selection is ``_user_module_transformer``'s: ``transform_fn`` alone, or
  ``input_fn`` / ``predict_fn`` / ``output_fn``; defining both kinds is an error;
- logging is configured at import as ``serving.py`` does it (INFO, its format).

Left out, loudly: the image's own default ``input_fn`` / ``output_fn`` (its XGBoost encoders,
used only when the script lacks them) and algorithm mode (no ``SAGEMAKER_PROGRAM``); the
contract test always serves ``inference.py``, which defines its handlers.
"""

from __future__ import annotations

import importlib
import logging
from typing import Any

from sagemaker_containers.beta.framework import env, transformer, worker

# serving.py configures logging at import, so the handlers' log lines reach the endpoint log.
logging.basicConfig(format="%(asctime)s %(levelname)s - %(name)s - %(message)s", level=logging.INFO)

_app: Any = None


def _not_reproduced(name: str) -> Any:
    def missing(*args: Any) -> Any:
        raise NotImplementedError(
            f"the image's default {name} (its XGBoost encoders) is not reproduced by this glue"
        )

    return missing


def _user_module_transformer(user_module: Any) -> Any:
    model_fn = getattr(user_module, "model_fn", transformer.default_model_fn)
    input_fn = getattr(user_module, "input_fn", None)
    predict_fn = getattr(user_module, "predict_fn", None)
    output_fn = getattr(user_module, "output_fn", None)
    transform_fn = getattr(user_module, "transform_fn", None)
    if transform_fn and (input_fn or predict_fn or output_fn):
        raise ValueError(
            "Cannot use transform_fn implementation with input_fn, predict_fn, and/or output_fn"
        )
    if transform_fn is not None:
        return transformer.Transformer(model_fn=model_fn, transform_fn=transform_fn)
    return transformer.Transformer(
        model_fn=model_fn,
        input_fn=input_fn or _not_reproduced("input_fn"),
        predict_fn=predict_fn or _not_reproduced("predict_fn"),
        output_fn=output_fn or _not_reproduced("output_fn"),
    )


def main(environ: dict[str, Any], start_response: Any) -> Any:
    """The WSGI entry point, as ``sagemaker_xgboost_container.serving:main``."""
    global _app
    if _app is None:
        serving_env = env.ServingEnv()
        if serving_env.module_name is None:
            raise NotImplementedError("algorithm mode (no SAGEMAKER_PROGRAM) is not reproduced")
        user_module = importlib.import_module(serving_env.module_name)
        user_transformer = _user_module_transformer(user_module)
        user_transformer.initialize()
        _app = worker.Worker(
            transform_fn=user_transformer.transform, module_name=serving_env.module_name
        )
    return _app(environ, start_response)
