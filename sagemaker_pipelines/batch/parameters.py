"""The batch pipeline's parameters: what an execution may change without a new deployment.

The transform's contract knobs (content types, batching, the DataProcessing filters) are
parameters so that one deployed pipeline serves every input layout, and so that a local run
can exercise each of them with ``--param``. Defaults come from the settings: a batch input row
is a row of the dataset without its target, the columns that are not features first
(`leading_columns`: ``dataset.id_column``, then ``dataset.drop_columns``), then the features in
the model's order. The default ``InputFilter`` drops the leading columns before the model sees
the row and ``JoinSource=Input`` puts them back next to the prediction.
"""

from __future__ import annotations

from mlops.core.media import CSV, JSON, JSONLINES, REQUEST_TYPES
from mlops.core.names import BATCH_INPUT_PREFIX
from mlops.core.settings import DatasetSchema, ProjectSettings
from sagemaker_pipelines.parameters import ParameterSpec

MODEL_PACKAGE_ARN = "ModelPackageArn"
INPUT_DATA_URL = "InputDataUrl"
INSTANCE_TYPE = "TransformInstanceType"
INSTANCE_COUNT = "TransformInstanceCount"
CONTENT_TYPE = "ContentType"
ACCEPT = "Accept"
SPLIT_TYPE = "SplitType"
BATCH_STRATEGY = "BatchStrategy"
ASSEMBLE_WITH = "AssembleWith"
MAX_PAYLOAD_MB = "MaxPayloadInMB"
MAX_CONCURRENT = "MaxConcurrentTransforms"
INPUT_FILTER = "InputFilter"
OUTPUT_FILTER = "OutputFilter"
JOIN_SOURCE = "JoinSource"

# MaxPayloadInMB's default in the API (CreateTransformJob); the request payload limit of a
# real-time endpoint is the same 6 MB.
DEFAULT_MAX_PAYLOAD_MB = 6
# Two requests at a time keep both vCPUs of an ml.m5.large busy: the handlers predict with one
# OpenMP thread per request (contracts §5).
DEFAULT_MAX_CONCURRENT = 2


def default_input_uri(data_bucket: str) -> str:
    """Where the batch pipeline reads by default: ``s3://<data bucket>/batch/input/``."""
    return f"s3://{data_bucket}/{BATCH_INPUT_PREFIX}/"


def leading_columns(schema: DatasetSchema) -> tuple[str, ...]:
    """The columns a batch input row carries before its features: the id, then the others."""
    return ((schema.id_column,) if schema.id_column else ()) + tuple(schema.drop_columns)


def excluded_feature_indexes(schema: DatasetSchema) -> str:
    """The leading columns as a monitoring job's ``ExcludeFeaturesAttribute`` ("indexes or
    names of the features to be excluded from analysis"): a batch monitoring job reads the
    captured input objects whole, ids included, so it must skip them to see the features in
    the baseline's positions. Comma-separated indexes; empty when there are none."""
    return ",".join(str(index) for index in range(len(leading_columns(schema))))


def skip_columns_filter(count: int) -> str:
    """The ``InputFilter`` that drops the first ``count`` fields of a CSV row."""
    return f"$[{count}:]" if count else "$"


def batch_parameter_specs(settings: ProjectSettings, *, input_uri: str) -> list[ParameterSpec]:
    """Every batch parameter, in declaration order, with its default and allowed values.

    ``ModelPackageArn`` has an empty default: whoever starts an execution names the version
    (``mlops batch`` and the batch stack's starter resolve the newest approved one), and an
    execution started without one fails at CreateModel with the API's own length error.
    """
    return [
        ParameterSpec(MODEL_PACKAGE_ARN, "String", ""),
        ParameterSpec(INPUT_DATA_URL, "String", input_uri),
        ParameterSpec(INSTANCE_TYPE, "String", settings.instances.endpoint_type),
        ParameterSpec(INSTANCE_COUNT, "Integer", 1),
        ParameterSpec(CONTENT_TYPE, "String", CSV, allowed=REQUEST_TYPES),
        ParameterSpec(ACCEPT, "String", CSV, allowed=(CSV, JSONLINES, JSON)),
        ParameterSpec(SPLIT_TYPE, "String", "Line", allowed=("Line", "None")),
        ParameterSpec(
            BATCH_STRATEGY, "String", "MultiRecord", allowed=("MultiRecord", "SingleRecord")
        ),
        ParameterSpec(ASSEMBLE_WITH, "String", "Line", allowed=("Line", "None")),
        ParameterSpec(MAX_PAYLOAD_MB, "Integer", DEFAULT_MAX_PAYLOAD_MB),
        ParameterSpec(MAX_CONCURRENT, "Integer", DEFAULT_MAX_CONCURRENT),
        ParameterSpec(
            INPUT_FILTER, "String", skip_columns_filter(len(leading_columns(settings.dataset)))
        ),
        ParameterSpec(OUTPUT_FILTER, "String", "$"),
        ParameterSpec(JOIN_SOURCE, "String", "Input", allowed=("Input", "None")),
    ]
