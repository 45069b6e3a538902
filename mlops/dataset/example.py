"""The embedded example dataset's columns: what the generator writes and the defaults describe.

Kept apart from the generator (numpy, pyarrow) so that the CDK app can name the example's
features for its drift alarms without importing a data generator.
"""

from __future__ import annotations

ID_COLUMN = "customer_id"
TARGET_COLUMN = "churn"

COLUMNS = (
    ID_COLUMN,
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
    TARGET_COLUMN,
)
FEATURES = tuple(column for column in COLUMNS if column not in (ID_COLUMN, TARGET_COLUMN))
