"""Step names and the evaluation property the condition reads.

The names are the definition's contract with its readers: the local executor, the CLI summary,
``start --wait`` output and infra address steps by them. They are re-exported by
`sagemaker_pipelines.definition`, where those readers import them from.
"""

from __future__ import annotations

PREPROCESS = "Preprocess"
DATA_QUALITY = "DataQualityBaseline"
TRAIN = "Train"
EVALUATE = "Evaluate"
CHECK_METRIC = "CheckMetric"
REGISTER = "Register"
FAIL = "AucBelowThreshold"

EVALUATION_PROPERTY_FILE = "EvaluationReport"
AUC_PATH = "binary_classification_metrics.auc.value"
