"""The embedded example dataset's columns: what the generator writes and the example schemas.

Kept apart from the generator (numpy, pyarrow) so that the CDK app can name the example's
features for its drift alarms without importing a data generator. The generated customer table
carries one target per problem type (`TARGETS`); `cdk.json` configures the binary one.
"""

from __future__ import annotations

from mlops.core.problem_types import ProblemType
from mlops.core.settings import DatasetSchema

# The example's own project: the demo registers its versions there, never in a team's project.
EXAMPLE_PROJECT = "churn-mlops"
ID_COLUMN = "customer_id"
TARGET_COLUMN = "churn"

# The target the generator writes for each problem type (and its positive label for binary).
TARGETS: dict[ProblemType, str] = {
    "binary": TARGET_COLUMN,
    "multiclass": "churn_risk",
    "regression": "lifetime_value",
}
POSITIVE_LABEL = "Yes"
RISK_TIERS = ("high", "low", "medium")

FEATURE_COLUMNS = (
    "age",
    "tenure_months",
    "monthly_charges",
    "total_charges",
    "support_calls",
    "num_products",
    "data_usage_gb",
    "last_login_days",
    "senior_citizen",
    "contract",
    "internet_service",
    "payment_method",
    "paperless_billing",
    "region",
)
COLUMNS = (ID_COLUMN, *FEATURE_COLUMNS, TARGET_COLUMN)
FEATURES = FEATURE_COLUMNS


def columns_for(problem_type: ProblemType) -> tuple[str, ...]:
    """The generated table's header for ``problem_type``: id, features, that type's target."""
    return (ID_COLUMN, *FEATURE_COLUMNS, TARGETS[problem_type])


def example_schema(problem_type: ProblemType = "binary") -> DatasetSchema:
    """The schema of the generated table for ``problem_type`` (``cdk.json`` holds the binary)."""
    return DatasetSchema(
        target=TARGETS[problem_type],
        problem_type=problem_type,
        positive_label=POSITIVE_LABEL if problem_type == "binary" else None,
        id_column=ID_COLUMN,
    )


def is_example(schema: DatasetSchema) -> bool:
    """Whether ``schema`` describes the generated table (its features are `FEATURES`)."""
    return (
        schema.target in TARGETS.values()
        and schema.id_column == ID_COLUMN
        and not schema.drop_columns
        and schema.categorical is None
        and schema.numeric is None
    )
