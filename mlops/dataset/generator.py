"""Deterministic synthetic customer data, the template's embedded default dataset.

The table has what real tabular data has and what the pipeline must cope with: an id column,
numeric and categorical features, blank numeric cells and a real but noisy signal. Its target
depends on the problem type (`mlops.dataset.example.TARGETS`): ``churn`` (Yes/No, ~25 %
positives; XGBoost reaches AUC ≈ 0.85–0.92), ``churn_risk`` (low/medium/high, from the same
churn propensity) or ``lifetime_value`` (monthly charges × expected remaining months). Every
problem type draws the same random numbers, so the features are the same bytes whatever the
target. Rows are generated in fixed-size chunks, each seeded from (seed, chunk index), so the
first N rows are the same bytes whatever the total, and memory stays bounded at any size.
"""

from __future__ import annotations

import stat
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pa_csv

from mlops.core.problem_types import ProblemType
from mlops.dataset.example import POSITIVE_LABEL, TARGETS

CHUNK_ROWS = 100_000
# Bounds of `write_csv`: the design's largest example (10 M rows, about 1.1 GB of CSV) and the
# seeds numpy's SeedSequence takes as one 32-bit word.
MAX_ROWS = 10_000_000
MAX_SEED = 2**32 - 1
# churn_risk tiers: the noisy churn logit cut at these points (about 40 % low, 30 % medium, 30 % high).
_RISK_CUTS = (-2.3, -0.5)
# Tuned so that ~25 % of customers churn and a tuned XGBoost model reaches AUC ≈ 0.88.
_INTERCEPT = -3.3
_SIGNAL_SCALE = 1.35

CONTRACTS = ("Month-to-month", "One year", "Two year")
INTERNET = ("DSL", "Fiber optic", "None")
PAYMENT = ("Electronic check", "Mailed check", "Bank transfer", "Credit card")
REGIONS = ("north", "south", "east", "west", "central")
YES_NO = ("No", POSITIVE_LABEL)


def check_request(rows: int, seed: int) -> None:
    """ValueError naming the argument when ``rows`` or ``seed`` is out of bounds."""
    if not 1 <= rows <= MAX_ROWS:
        raise ValueError(f"rows must be between 1 and {MAX_ROWS:,}, got {rows:,}")
    if not 0 <= seed <= MAX_SEED:
        raise ValueError(f"seed must be between 0 and {MAX_SEED}, got {seed}")


def generate_chunks(
    rows: int, seed: int, chunk_rows: int = CHUNK_ROWS, problem_type: ProblemType = "binary"
) -> Iterator[pa.Table]:
    """Yield the table in chunks of ``chunk_rows`` (the last may be shorter)."""
    check_request(rows, seed)
    for index, start in enumerate(range(0, rows, chunk_rows)):
        # Always draw a full chunk, then cut: a chunk's rows never depend on how many are kept.
        table = _chunk(np.random.default_rng([seed, index]), start, chunk_rows, problem_type)
        yield table.slice(0, min(chunk_rows, rows - start))


def check_destination(path: Path) -> None:
    """Refuse a destination that is not a regular file: the write replaces it by renaming, and
    replacing a directory, device (``/dev/full``), pipe or socket is never what was meant."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return
    if stat.S_ISDIR(mode):
        raise IsADirectoryError(
            f"{path} is a directory; give a file path such as {path / 'data.csv'}"
        )
    if not stat.S_ISREG(mode):
        raise FileExistsError(
            f"{path} is not a regular file (a device, pipe or socket); give a file path"
        )


def write_csv(path: Path, rows: int, seed: int, problem_type: ProblemType = "binary") -> int:
    """Write ``rows`` rows with a header to ``path`` atomically; returns the bytes written.

    The rows go to a hidden ``.<name>.partial`` beside ``path``, renamed over it when complete
    and removed when anything (an error, Ctrl-C, a SIGTERM turned into one) stops the write.
    """
    check_request(rows, seed)
    check_destination(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    try:
        with pa.OSFile(str(partial), "wb") as sink:
            writer: pa_csv.CSVWriter | None = None
            for table in generate_chunks(rows, seed, problem_type=problem_type):
                if writer is None:
                    writer = pa_csv.CSVWriter(
                        sink,
                        table.schema,
                        write_options=pa_csv.WriteOptions(quoting_style="needed"),
                    )
                writer.write_table(table)
            if writer is not None:
                writer.close()
        partial.replace(path)
    finally:
        partial.unlink(missing_ok=True)
    return path.stat().st_size


def _chunk(
    rng: np.random.Generator, start: int, count: int, problem_type: ProblemType = "binary"
) -> pa.Table:
    contract = rng.choice(3, size=count, p=[0.55, 0.25, 0.20])
    internet = rng.choice(3, size=count, p=[0.35, 0.45, 0.20])
    payment = rng.choice(4, size=count, p=[0.34, 0.22, 0.22, 0.22])
    region = rng.choice(5, size=count)
    paperless = rng.random(count) < 0.6
    senior = (rng.random(count) < 0.16).astype(np.int64)
    age = np.clip(rng.normal(45, 14, count), 18, 90).astype(np.int64)
    tenure = np.clip(rng.gamma(1.6, 18.0, count) * (1 + contract * 0.6), 0, 72).astype(np.int64)
    base_charge = np.array([45.0, 80.0, 20.0])[internet]
    monthly = np.round(base_charge + rng.normal(0, 12, count) + 5 * (payment == 0), 2)
    monthly = np.clip(monthly, 15.0, None)
    total = np.round(monthly * tenure * rng.uniform(0.95, 1.05, count), 2)
    support_calls = rng.poisson(1.2 + 1.5 * (internet == 1), count)
    num_products = rng.integers(1, 6, count)
    usage = np.round(rng.lognormal(2.5 + 0.5 * (internet == 1), 0.6, count), 2)
    last_login = rng.exponential(12 + 10 * (contract == 0), count).astype(np.int64)

    signal = (
        1.25 * (contract == 0)
        - 0.9 * (contract == 2)
        - 0.032 * tenure
        + 0.018 * (monthly - 60)
        + 0.38 * support_calls
        + 0.55 * (internet == 1)
        + 0.45 * (payment == 0)
        + 0.3 * senior
        - 0.22 * (num_products - 3)
        + 0.025 * last_login
        + 0.25 * paperless
    )
    logit = _INTERCEPT + _SIGNAL_SCALE * signal + rng.normal(0, 0.3, count)
    churn = rng.random(count) < 1 / (1 + np.exp(-logit))

    total_missing = (rng.random(count) < 0.02) | (tenure == 0)
    usage_missing = rng.random(count) < 0.05
    ids = np.char.add("C", np.char.zfill(np.arange(start + 1, start + count + 1).astype(str), 8))
    # Drawn after everything else, for every problem type, so that no other column changes.
    risk_noise = rng.normal(0, 0.5, count)
    value_noise = rng.lognormal(0, 0.15, count)

    if problem_type == "binary":
        target = pa.array(np.array(YES_NO)[churn.astype(np.int64)])
    elif problem_type == "multiclass":
        tier = np.digitize(logit + risk_noise, _RISK_CUTS)
        target = pa.array(np.array(("low", "medium", "high"))[tier])
    else:
        remaining_months = 6 + 48 / (1 + np.exp(logit))  # a likely churner stays ~6 months
        target = pa.array(np.round(monthly * remaining_months * value_noise, 2))
    return pa.table(
        {
            "customer_id": pa.array(ids),
            "age": pa.array(age),
            "tenure_months": pa.array(tenure),
            "monthly_charges": pa.array(monthly),
            "total_charges": pa.array(total, mask=total_missing),
            "support_calls": pa.array(support_calls.astype(np.int64)),
            "num_products": pa.array(num_products.astype(np.int64)),
            "data_usage_gb": pa.array(usage, mask=usage_missing),
            "last_login_days": pa.array(last_login),
            "senior_citizen": pa.array(senior),
            "contract": pa.array(np.array(CONTRACTS)[contract]),
            "internet_service": pa.array(np.array(INTERNET)[internet]),
            "payment_method": pa.array(np.array(PAYMENT)[payment]),
            "paperless_billing": pa.array(np.array(YES_NO)[paperless.astype(np.int64)]),
            "region": pa.array(np.array(REGIONS)[region]),
            TARGETS[problem_type]: target,
        }
    )
