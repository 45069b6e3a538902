"""The container-side code exactly as SageMaker receives it.

The training job's ``sagemaker_submit_directory`` is a tarball holding ``train.py`` and
``inference.py`` side by side (train.py copies inference.py into ``model/code/`` so the
model artifact is servable as is). The tarball is byte-deterministic so that the CDK asset
hash — and therefore the S3 URI the pipeline definition references — only changes when the
code does. Processing scripts are single files, referenced by path.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from mlops.core.archive import pack_files
from mlops.core.problem_types import ProblemType, problem_type_spec

PROJECT_ROOT = Path(__file__).resolve().parent.parent
TRAINING_DIR = PROJECT_ROOT / "training"
INFERENCE_DIR = PROJECT_ROOT / "inference"

TRAIN_SCRIPT = TRAINING_DIR / "train.py"
INFERENCE_SCRIPT = INFERENCE_DIR / "inference.py"
PREPROCESS_SCRIPT = TRAINING_DIR / "preprocess.py"
EVALUATE_SCRIPT = TRAINING_DIR / "evaluate.py"
CLARIFY_SCRIPT = TRAINING_DIR / "clarify.py"

TRAINING_ENTRY_POINT = "train.py"
SOURCEDIR_TARBALL = "sourcedir.tar.gz"

_NUMBER = r"([-+]?[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)"


def training_metric_definitions(problem_type: ProblemType) -> dict[str, str]:
    """SageMaker MetricDefinitions for train.py's log, per problem type.

    xgboost's "[12]<TAB>train-auc:0.91<TAB>train-logloss:0.3<TAB>validation-auc:0.88…" lines
    (the tab reads "#011" in CloudWatch; the regexes do not care) and the closing "[best]"
    line, so the last value SageMaker records is the best round's. The metrics are those
    train.py evaluates for the problem type (``problem_types.training_metrics``).
    """
    return {
        f"{split}:{metric}": rf"{split}-{metric}:{_NUMBER}"
        for split in ("train", "validation")
        for metric in problem_type_spec(problem_type).training_metrics
    }


def training_source_files() -> dict[str, Path]:
    """Archive name → file for the training sourcedir; fails loudly if one is missing."""
    members = {TRAIN_SCRIPT.name: TRAIN_SCRIPT, INFERENCE_SCRIPT.name: INFERENCE_SCRIPT}
    for path in members.values():
        if not path.is_file():
            raise FileNotFoundError(f"{path} is missing; the training sourcedir needs it")
    return members


def write_training_source_dir(dest: Path) -> Path:
    """Copy train.py and inference.py into ``dest`` (created if needed); returns ``dest``."""
    dest.mkdir(parents=True, exist_ok=True)
    for name, path in training_source_files().items():
        shutil.copyfile(path, dest / name)
    return dest


def write_sourcedir_tarball(dest_file: Path) -> Path:
    """Write the deterministic ``sourcedir.tar.gz`` to ``dest_file``; returns ``dest_file``."""
    with tempfile.TemporaryDirectory() as scratch:
        source = write_training_source_dir(Path(scratch))
        members = {name: source / name for name in training_source_files()}
        return pack_files(members, dest_file)


def processing_scripts() -> dict[str, Path]:
    """The single-file processing scripts by step: what ProcessingStep ``code=`` points at."""
    return {"preprocess": PREPROCESS_SCRIPT, "evaluate": EVALUATE_SCRIPT, "clarify": CLARIFY_SCRIPT}
