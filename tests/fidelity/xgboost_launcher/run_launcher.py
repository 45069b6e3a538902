"""Run the XGBoost image's training launcher (sagemaker-containers' trainer) on a staged tree.

Started with the reference environment's Python, ``SAGEMAKER_BASE_DIR`` naming the staged
``/opt/ml`` and the container's environment; it exits as the container would. The one patch
is the image's own: its Dockerfile rewrites ``collections.Mapping`` to
``collections.abc.Mapping`` in sagemaker_containers/_mapping.py for Python 3.12.
"""

import collections
import collections.abc

collections.Mapping = collections.abc.Mapping  # type: ignore[attr-defined]  # the image's sed patch
# This file's directory is sys.path[0], as the image's `train` console script's bin dir is, and
# holds the stand-in sagemaker_xgboost_container package the trainer imports.

from sagemaker_containers import _trainer  # noqa: E402

_trainer.train()
