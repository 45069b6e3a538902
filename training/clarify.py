"""Bias and explainability baselines (processing job in the SageMaker XGBoost 3.2-0 image;
numpy, pandas, xgboost and, for the flip test, scikit-learn — all shipped in that image).

Inputs: ``model.tar.gz`` (contracts §4) under the model directory and the encoded test split
(§2: no header, label first). Output directory, by ``--analysis``:

- ``bias``: ``analysis.json`` — SageMaker Clarify's layout (``pre_training_bias_metrics`` and
  ``post_training_bias_metrics``: ``label``, ``label_value_or_threshold``, ``facets`` →
  ``[{value_or_threshold, metrics: [{name, description, value[, error]}]}]``), the metrics
  Clarify computes (pre-training CDDL, CI, DPL, JS, KL, KS, LP, TVD; post-training AD, CDDPL,
  DAR, DCA, DCR, DI, DPPL, DRR, FT, RD, TE) with AWS's open-source ``smclarify`` formulas and
  edge cases (a metric that cannot be computed has ``value: null`` and an ``error``);
  ``constraints.json`` — the same layout with each value moved to the worse side by a few
  bootstrap standard deviations (what the bias drift monitor checks live data against);
  ``analysis_config.json`` — the bias monitor's analysis configuration (``headers``,
  ``label``, ``label_values_or_threshold``, ``facet``, ``group_variable``).
- ``explainability``: ``analysis.json`` — ``explanations.kernel_shap.<label>`` with
  ``global_shap_values`` per raw input feature and ``expected_value`` (the key Clarify and its
  monitor read), computed exactly with XGBoost's TreeSHAP (``pred_contribs``) on the encoded
  rows, one-hot columns summed back into their feature, in the model's margin (log-odds for a
  binary model: Clarify's ``use_logit``); ``analysis_config.json`` — the explainability
  monitor's configuration (``headers``, ``methods.shap`` with a one-row baseline of training
  medians and modes, ``predictor``).

Both analyses read at most ``--max-rows`` rows of the test split (default `BASELINE_MAX_ROWS`, a
seeded uniform sample when the split is larger): global SHAP importances and bias metrics of
10,000 rows differ from the whole split's by far less than the bootstrap spread of a 500-row
monitoring window the constraints allow for, while TreeSHAP and the flip test's k-NN grow with
every row (1M input rows: 99 s and 19 s on 2 cores for the whole 150,000-row split).

The module is self-contained (it imports nothing from this repository), so the local monitor
(``monitoring``) imports the same functions for live traffic: a baseline and a monitoring run
measure with one implementation. A failure writes the reason to ``/opt/ml/output/message``
(DescribeProcessingJob's ExitMessage; also the last stderr line) and exits 1.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import os
import sys
import tarfile
import tempfile
import traceback
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

DEFAULT_ROOT = "/opt/ml/processing"
MODEL_ARCHIVE = "model.tar.gz"
MODEL_FILE = "xgboost-model"
SPEC_FILE = "feature_spec.json"
ANALYSIS_FILE = "analysis.json"
CONSTRAINTS_FILE = "constraints.json"
CONFIG_FILE = "analysis_config.json"
VERSION = "1.0"
PRE_TRAINING = "pre_training_bias_metrics"
POST_TRAINING = "post_training_bias_metrics"
# smclarify's docstring titles: the `description` Clarify writes next to each metric.
DESCRIPTIONS = {
    "CDDL": "Conditional Demographic Disparity in Labels (CDDL)",
    "CI": "Class Imbalance (CI)",
    "DPL": "Difference in Positive Proportions in Labels (DPL)",
    "JS": "Jensen-Shannon Divergence (JS)",
    "KL": "Kullback-Liebler Divergence (KL)",
    "KS": "Kolmogorov-Smirnov Distance (KS)",
    "LP": "L-p Norm (LP)",
    "TVD": "Total Variation Distance (TVD)",
    "AD": "Accuracy Difference (AD)",
    "CDDPL": "Conditional Demographic Disparity in Predicted Labels (CDDPL)",
    "DAR": "Difference in Acceptance Rates (DAR)",
    "DCA": "Difference in Conditional Acceptance (DCA)",
    "DCR": "Difference in Conditional Rejection (DCR)",
    "DI": "Disparate Impact (DI)",
    "DPPL": "Difference in Positive Proportions in Predicted Labels (DPPL)",
    "DRR": "Difference in Rejection Rates (DRR)",
    "FT": "Flip Test (FT)",
    "RD": "Recall Difference (RD)",
    "TE": "Treatment Equality (TE)",
}
PRE_TRAINING_METRICS = ("CDDL", "CI", "DPL", "JS", "KL", "KS", "LP", "TVD")
POST_TRAINING_METRICS = ("AD", "CDDPL", "DAR", "DCA", "DCR", "DI", "DPPL", "DRR", "FT", "RD", "TE")
# The value of each metric for a perfectly balanced outcome: a bias drift is a value further
# from it than the baseline allows (Disparate Impact is a ratio, balanced at 1).
FAIR_VALUE = {name: (1.0 if name == "DI" else 0.0) for name in DESCRIPTIONS}
INFINITY = float("inf")
# Flip test: smclarify's k-NN settings (5 neighbours, 1 when the advantaged group is tiny).
FT_NEIGHBORS = 5
FT_MIN_NEIGHBORS = 1
FT_SAMPLES_THRESHOLD = 9
# The flip test's k-NN on a small problem (a bootstrap resample: ~80 queries x ~420 rows) is
# answered here when no query's answer depends on how a tie at the k-th distance is broken
# (scikit-learn's order of work, so its pick among tied rows, depends on its thread count):
# distances within FT_DISTANCE_SLACK x the squared norms of the k-th count as tied, thousands
# of times any rounding error of either computation. Otherwise, and above FT_DIRECT_MAX_PAIRS
# query x row pairs, scikit-learn answers. Its OpenMP k-NN costs ~2 ms a resample on an idle
# machine but up to ~85 ms while another job shares the two cores.
FT_DISTANCE_SLACK = 1e-10
FT_DIRECT_MAX_PAIRS = 1_000_000
# Suggested constraints: each bound sits this many standard deviations (at least SLACK) beyond
# the baseline value on the worse side, the deviations those of a WINDOW_ROWS-row window
# (bootstrap resamples of that size): a monitoring window is often smaller than the test split,
# and its noise, not the baseline's, is what a bound must tolerate.
CONSTRAINT_SIGMAS = 4.0
CONSTRAINT_SLACK = 0.05
BOOTSTRAP_ROUNDS = 30
WINDOW_ROWS = 500
AGG_METHODS = ("mean_abs", "median", "mean_sq")
SHAP_NUM_SAMPLES = 100
BASELINE_MAX_ROWS = 10_000
SAMPLE_SEED = 0
# A tree's TreeSHAP contributions to a row depend only on the branch the row takes at each of
# the tree's split nodes. From this many rows on, `tree_contributions` explains each distinct
# set of branches of a boosting round once (10,000 churn rows take about a third as many
# distinct ways through a depth-6 tree); below it the per-round calls cost more than they save.
SHARED_BRANCHES_MIN_ROWS = 2_000
EXPLANATION_METHOD = "kernel_shap"  # the key Clarify's analysis.json and its monitor use


class ClarifyError(Exception):
    """Bad inputs or settings; the message is the job's failure reason."""


# --------------------------------------------------------------------------- settings


@dataclass(frozen=True)
class Facet:
    """A sensitive attribute as Clarify's ``facet`` entry names it: the column and, optionally,
    ``value_or_threshold`` — the sensitive group's values, or (numeric column) the threshold
    above which a value is in the group; without it, one group per value. Which of the two
    the values mean depends on the column's data, as in Clarify (`column_kind`)."""

    name: str
    value_or_threshold: tuple[Any, ...] | None = None

    @classmethod
    def from_config(cls, entry: Mapping[str, Any]) -> Facet:
        given = entry.get("value_or_threshold")
        if given is None or given == []:
            return cls(str(entry["name_or_index"]))
        return cls(
            str(entry["name_or_index"]), tuple(given if isinstance(given, list) else [given])
        )

    def to_config(self) -> dict[str, Any]:
        entry: dict[str, Any] = {"name_or_index": self.name}
        if self.value_or_threshold:
            entry["value_or_threshold"] = list(self.value_or_threshold)
        return entry


@dataclass(frozen=True)
class LabelRule:
    """Clarify's ``label_values_or_threshold``: the positive label values, or (numeric labels,
    e.g. a regression target) the threshold above which an outcome is positive."""

    values_or_threshold: tuple[Any, ...]

    @classmethod
    def from_config(cls, given: Any) -> LabelRule:
        items = tuple(given if isinstance(given, list) else [given])
        if not items:
            raise ClarifyError("label_values_or_threshold is empty")
        return cls(items)

    def to_config(self) -> list[Any]:
        return list(self.values_or_threshold)


CATEGORICAL = "categorical"
CONTINUOUS = "continuous"
# smclarify: an integer column with at least this share of distinct values is continuous.
UNIQUENESS_THRESHOLD = 0.05


def column_kind(values: Sequence[Any] | np.ndarray, given: Sequence[Any] | None) -> str:
    """Whether Clarify treats a column as categorical or continuous (smclarify's rules on the
    column as pandas reads it from CSV): several configured values → categorical; text →
    categorical (unless it is all integers, distinct enough); decimals (or a blank among
    numbers) → continuous; integers → continuous when ≥ 5 % of them are distinct."""
    if given is not None and len(given) > 1:
        return CATEGORICAL
    present, numbers = _presence_and_numbers(values)
    if not present.any():
        return CATEGORICAL
    if np.isnan(numbers[present]).any():
        return CATEGORICAL  # some cell is not a number: a text column
    finite = numbers[np.isfinite(numbers)]
    integral = bool(np.all(finite == np.round(finite)))
    has_blank = not present.all()
    if not integral or has_blank:
        return CONTINUOUS
    uniqueness = len(np.unique(finite)) / len(finite)
    return CONTINUOUS if uniqueness >= UNIQUENESS_THRESHOLD else CATEGORICAL


def _presence_and_numbers(values: Sequence[Any] | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Which cells are not blank, and every cell as a float (NaN: blank or not a number).

    A bootstrap classifies hundreds of resampled columns, so a numeric array is judged whole
    and a text one once per distinct value; anything else (a list) cell by cell.
    """
    if isinstance(values, np.ndarray) and values.ndim == 1:
        if _fixed_width_number(values):
            numbers = values.astype(np.float64)
            present = ~np.isnan(numbers) if values.dtype.kind == "f" else np.ones(len(values), bool)
            return present, numbers
        if values.dtype.kind in "USO":
            cells, inverse = _distinct_cells(values)
            present = np.asarray([not _blank(value) for value in cells], dtype=bool)
            numbers = np.asarray([_float_or_nan(value) for value in cells], dtype=np.float64)
            return present[inverse], numbers[inverse]
    cells = np.asarray(values, dtype=object).tolist()
    present = np.asarray([not _blank(value) for value in cells], dtype=bool)
    return present, _as_float(values)


def _fixed_width_number(array: np.ndarray) -> bool:
    """Booleans, integers and floats up to 64 bits: one bit pattern, one Python value."""
    return array.dtype.kind in "biuf" and array.dtype.itemsize <= 8


def _distinct_cells(array: np.ndarray) -> tuple[list[Any], np.ndarray]:
    """(the distinct cells, as iterating the array yields them; each cell's index into them)
    of a 1-D text or object array. Text arrays compare by value; in an object array only
    ``str`` cells are merged (whatever else is there may compare equal yet print otherwise,
    as ``0.0`` and ``-0.0`` do), each other cell stands alone."""
    if array.dtype.kind in "US":
        distinct, inverse = np.unique(array, return_inverse=True)
        return list(distinct), inverse.reshape(-1)
    cells: list[Any] = []
    first: dict[str, int] = {}
    inverse = np.empty(len(array), dtype=np.intp)
    for row, value in enumerate(array.tolist()):
        if type(value) is str:
            at = first.get(value)
            if at is None:
                at = first[value] = len(cells)
                cells.append(value)
        else:
            at = len(cells)
            cells.append(value)
        inverse[row] = at
    return cells, inverse


def _blank(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, float):
        return math.isnan(value)
    return isinstance(value, str) and not value.strip()


def canonical(value: Any) -> str:
    """A value as text that compares equal however it travelled (``1``, ``"1"``, ``1.0``)."""
    if value is None:
        return ""
    if isinstance(value, float) and math.isnan(value):
        return ""
    text = str(value).strip()
    try:
        number = float(text)
    except ValueError:
        return text
    return f"{number:.15g}" if math.isfinite(number) else text


def _canonical_texts(values: Sequence[Any] | np.ndarray) -> np.ndarray:
    """``canonical`` of every cell (an object array), computed once per distinct cell: a
    numeric array's cells are distinct by bit pattern, a text array's by value."""
    if isinstance(values, np.ndarray) and values.ndim == 1:
        if _fixed_width_number(values):
            bits = np.ascontiguousarray(values).view(f"u{values.dtype.itemsize}")
            _, first, inverse = np.unique(bits, return_index=True, return_inverse=True)
            texts = [canonical(value) for value in values[first]]
            return np.asarray(texts, dtype=object)[inverse.reshape(-1)]
        if values.dtype.kind in "USO":
            cells, inverse = _distinct_cells(values)
            return np.asarray([canonical(value) for value in cells], dtype=object)[inverse]
    return np.asarray([canonical(value) for value in values], dtype=object)


# --------------------------------------------------------------------------- groups


@dataclass(frozen=True)
class FacetGroup:
    """One sensitive group of a facet: its ``value_or_threshold`` text and membership."""

    label: str
    sensitive: np.ndarray


def facet_groups(values: Sequence[Any] | np.ndarray, facet: Facet) -> list[FacetGroup]:
    """The facet's sensitive group(s), as smclarify forms them.

    Categorical: membership of the configured values (compared as canonical text); without
    values one group per distinct value, in order of first appearance. Continuous: the
    interval ``(threshold, max]`` (a blank cell is outside it).
    """
    given = facet.value_or_threshold
    if column_kind(values, given) == CONTINUOUS:
        if not given:
            raise ClarifyError(
                f"facet {facet.name!r} is numeric: give a threshold as value_or_threshold"
            )
        low, high = _interval(values, float(given[0]))
        numbers = _as_float(values)
        member = np.isfinite(numbers) & (numbers > low) & (numbers <= high)
        return [FacetGroup(f"({_num(low)}, {_num(high)}]", member)]
    texts = _canonical_texts(values)
    if given:
        wanted = [canonical(value) for value in given]
        return [FacetGroup(",".join(wanted), np.isin(texts, wanted))]
    seen = list(dict.fromkeys(text for text in texts.tolist()))
    return [FacetGroup(text, texts == text) for text in seen]


def positive_outcomes(
    values: Sequence[Any] | np.ndarray, rule: LabelRule, *, kind: str | None = None
) -> np.ndarray:
    """Boolean positives of labels (or predicted labels, with the labels' ``kind``)."""
    given = rule.values_or_threshold
    if (kind or column_kind(values, given)) == CONTINUOUS:
        numbers = _as_float(values)
        return np.isfinite(numbers) & (numbers > float(given[0]))
    texts = _canonical_texts(values)
    return np.isin(texts, [canonical(value) for value in given])


def label_value_or_threshold(
    values: Sequence[Any] | np.ndarray, rule: LabelRule, *, kind: str | None = None
) -> str:
    """``label_value_or_threshold`` as Clarify writes it: the values, or ``(t, max]``
    (``kind``: the labels' `column_kind`, when the caller has it)."""
    given = rule.values_or_threshold
    if (kind or column_kind(values, given)) == CONTINUOUS:
        low, high = _interval(values, float(given[0]))
        return f"({_num(low)}, {_num(high)}]"
    return ",".join(canonical(value) for value in given)


def _interval(values: Sequence[Any] | np.ndarray, threshold: float) -> tuple[float, float]:
    numbers = _as_float(values)
    finite = numbers[np.isfinite(numbers)]
    top = float(finite.max()) if finite.size else threshold
    low, high = sorted([threshold, top])
    return low, high


def _num(value: float) -> str:
    """A bound as pandas' Interval prints it (``0.5``, ``1.0``, ``130.2``)."""
    return repr(float(value))


def _as_float(values: Sequence[Any] | np.ndarray) -> np.ndarray:
    array = np.asarray(values)
    if array.dtype.kind in "fiub":
        return array.astype(np.float64)
    if array.ndim == 1 and array.dtype.kind in "USO":
        cells, inverse = _distinct_cells(array)
        return np.asarray([_float_or_nan(value) for value in cells], dtype=np.float64)[inverse]
    out = np.full(len(array), np.nan)
    for index, value in enumerate(array.tolist()):
        out[index] = _float_or_nan(value)
    return out


def _float_or_nan(value: Any) -> float:
    try:
        return float(value) if value not in (None, "") else np.nan
    except (TypeError, ValueError):
        return np.nan


# --------------------------------------------------------------------------- metrics


def _divide(a: float, b: float) -> float:
    """smclarify's division: 0/0 = 0, x/0 = ±infinity."""
    if b == 0 and a == 0:
        return 0.0
    if b == 0:
        return -INFINITY if a < 0 else INFINITY
    return a / b


class _Counts:
    """Group sizes and confusion counts of one facet group, computed once per metric set."""

    def __init__(
        self, sensitive: np.ndarray, positive: np.ndarray, predicted: np.ndarray | None
    ) -> None:
        d, a = sensitive, ~sensitive
        self.na, self.nd = int(a.sum()), int(d.sum())
        self.na1, self.nd1 = int((a & positive).sum()), int((d & positive).sum())
        if predicted is None:
            return
        self.na1hat, self.nd1hat = int((a & predicted).sum()), int((d & predicted).sum())
        self.na0hat, self.nd0hat = self.na - self.na1hat, self.nd - self.nd1hat
        self.na0, self.nd0 = self.na - self.na1, self.nd - self.nd1
        self.tp_a = int((a & positive & predicted).sum())
        self.tp_d = int((d & positive & predicted).sum())
        self.tn_a = int((a & ~positive & ~predicted).sum())
        self.tn_d = int((d & ~positive & ~predicted).sum())
        self.fp_a, self.fp_d = self.na1hat - self.tp_a, self.nd1hat - self.tp_d
        self.fn_a, self.fn_d = self.na1 - self.tp_a, self.nd1 - self.tp_d

    def require_both(self, what: str = "") -> None:
        if self.nd == 0:
            raise ValueError(f"{what}Facet set is empty")
        if self.na == 0:
            raise ValueError(f"{what}Negated Facet set is empty")


def _difference(first: float, second: float) -> float:
    """``first - second``, 0 where both are infinite (smclarify's rule for ratio differences)."""
    if first == second and first == INFINITY:
        return 0.0
    return first - second


def _label_distributions(sensitive: np.ndarray, positive: np.ndarray) -> tuple[np.ndarray, ...]:
    """smclarify's aligned, non-zero label distributions of the two groups (labels: bool)."""
    pa: list[float] = []
    pd_: list[float] = []
    a, d = ~sensitive, sensitive
    na, nd = int(a.sum()), int(d.sum())
    for outcome in (False, True):
        share_a = int((a & (positive == outcome)).sum()) / na if na else 0.0
        share_d = int((d & (positive == outcome)).sum()) / nd if nd else 0.0
        if share_a and share_d:
            pa.append(share_a)
            pd_.append(share_d)
    if not pa:
        raise ValueError("No instance of common facet found, dataset may be too small")
    return np.asarray(pa), np.asarray(pd_)


def _cdd(sensitive: np.ndarray, outcome: np.ndarray, group: np.ndarray | None) -> float:
    """Conditional demographic disparity of ``outcome`` over the subgroups of ``group``."""
    if group is None or len(group) == 0:
        raise ValueError("Group variable is empty or not provided")
    if not outcome.any():
        raise ValueError("No positive labels in set")
    if outcome.all():
        raise ValueError("No negative labels in set")
    weighted = 0.0
    total = 0
    for subgroup in np.unique(group):
        member = group == subgroup
        count = int(member.sum())
        accepted = int((outcome & member).sum())
        rejected = int((~outcome & member).sum())
        share_accepted = int((outcome & sensitive & member).sum()) / accepted if accepted else 0
        share_rejected = int((~outcome & sensitive & member).sum()) / rejected if rejected else 0
        weighted += count * (share_rejected - share_accepted)
        total += count
    return _divide(weighted, total)


def _pre_training(
    name: str, c: _Counts, sensitive: np.ndarray, positive: np.ndarray, group: np.ndarray | None
) -> float:
    if name == "CI":
        if c.na == 0:
            raise ValueError("CI: negated facet set is empty.")
        if c.nd == 0:
            raise ValueError("CI: facet set is empty.")
        return float(c.na - c.nd) / (c.na + c.nd)
    if name == "DPL":
        if c.na == 0:
            raise ValueError("Negative facet set is empty.")
        if c.nd == 0:
            raise ValueError("Facet set is empty.")
        return c.na1 / c.na - c.nd1 / c.nd
    if name == "CDDL":
        return _cdd(sensitive, positive, group)
    pa, pd_ = _label_distributions(sensitive, positive)
    if name == "KL":
        return float(np.sum(pa * np.log(pa / pd_)))
    if name == "JS":
        mean = 0.5 * (pa + pd_)
        return float(0.5 * (np.sum(pa * np.log(pa / mean)) + np.sum(pd_ * np.log(pd_ / mean))))
    if name == "LP":
        return float(np.linalg.norm(pa - pd_, 2))
    if name == "TVD":
        return float(0.5 * np.linalg.norm(pa - pd_, 1))
    if name == "KS":
        return float(np.linalg.norm(pa - pd_, np.inf))
    raise KeyError(name)


def _post_training(
    name: str,
    c: _Counts,
    sensitive: np.ndarray,
    predicted: np.ndarray,
    group: np.ndarray | None,
    features: np.ndarray | None,
) -> float:
    if name == "DPPL":
        if c.na == 0:
            raise ValueError("Negative facet set is empty.")
        if c.nd == 0:
            raise ValueError("Facet set is empty.")
        return c.na1hat / c.na - c.nd1hat / c.nd
    if name == "DI":
        if c.na == 0:
            raise ValueError("Negated facet set is empty")
        if c.nd == 0:
            raise ValueError("Facet set is empty")
        return _divide(c.nd1hat / c.nd, c.na1hat / c.na)
    if name == "CDDPL":
        return _cdd(sensitive, predicted, group)
    if name == "FT":
        return _flip_test(sensitive, predicted, features)
    c.require_both({"DCA": "DCO: ", "DCR": "DCO: ", "DAR": "DLR: ", "DRR": "DLR: "}.get(name, ""))
    if name == "DCA":
        return _difference(_divide(c.na1, c.na1hat), _divide(c.nd1, c.nd1hat))
    if name == "DCR":
        return _difference(_divide(c.nd0, c.nd0hat), _divide(c.na0, c.na0hat))
    if name == "DAR":
        return _difference(_divide(c.tp_a, c.na1hat), _divide(c.tp_d, c.nd1hat))
    if name == "DRR":
        return _difference(_divide(c.tn_d, c.nd0hat), _divide(c.tn_a, c.na0hat))
    if name == "RD":
        return _difference(_divide(c.tp_a, c.tp_a + c.fn_a), _divide(c.tp_d, c.tp_d + c.fn_d))
    if name == "AD":
        return _difference(_divide(c.tp_a + c.tn_a, c.na), _divide(c.tp_d + c.tn_d, c.nd))
    if name == "TE":
        return _difference(_divide(c.fn_d, c.fp_d), _divide(c.fn_a, c.fp_a))
    raise KeyError(name)


def _flip_test(sensitive: np.ndarray, predicted: np.ndarray, features: np.ndarray | None) -> float:
    """smclarify's flip test: a k-NN trained on the advantaged group's features and predicted
    labels, applied to the sensitive group: (flips to positive − flips to negative) / n_d."""
    if features is None or features.ndim != 2 or features.shape[1] == 0:
        raise ValueError("FlipTest needs the feature columns")
    if not sensitive.any():
        raise ValueError("Facet set is empty")
    if sensitive.all():
        raise ValueError("Negated Facet set is empty")
    if not np.isfinite(features).all():
        raise ValueError("FlipTest does not support missing values")
    advantaged = ~sensitive
    neighbors = FT_NEIGHBORS if int(advantaged.sum()) > FT_SAMPLES_THRESHOLD else FT_MIN_NEIGHBORS
    voted = _unambiguous_vote(
        features[advantaged], predicted[advantaged], features[sensitive], neighbors
    )
    if voted is None:
        from sklearn.neighbors import KNeighborsClassifier

        knn = KNeighborsClassifier(n_neighbors=neighbors)
        knn.fit(features[advantaged], predicted[advantaged])
        voted = knn.predict(features[sensitive])
    as_if_advantaged = voted.astype(bool)
    model = predicted[sensitive]
    flips_positive = int((model & ~as_if_advantaged).sum())
    flips_negative = int((~model & as_if_advantaged).sum())
    return _divide(flips_positive - flips_negative, int(sensitive.sum()))


def _unambiguous_vote(
    trained: np.ndarray, labels: np.ndarray, queries: np.ndarray, neighbors: int
) -> np.ndarray | None:
    """What ``KNeighborsClassifier(n_neighbors).fit(trained, labels).predict(queries)``
    answers (uniform weights: the label most of the nearest rows have, the first class on a
    tie), or None when the problem is large or some query's answer could depend on how
    k-NN breaks a tie at the k-th distance (see `FT_DISTANCE_SLACK`).

    For each query: the rows certainly among its nearest (closer than the k-th distance by
    more than the slack), the rows that may or may not be (within the slack of it); the
    answer counts if every way of filling the k places from the latter gives the same label.
    """
    rows = len(trained)
    if len(queries) * rows > FT_DIRECT_MAX_PAIRS or rows < neighbors:
        return None
    classes, codes = np.unique(labels, return_inverse=True)
    if len(classes) == 1:
        return np.repeat(classes, len(queries))
    if len(classes) != 2:
        return None
    trained = np.asarray(trained, dtype=np.float64)
    queries = np.asarray(queries, dtype=np.float64)
    query_norms = np.einsum("ij,ij->i", queries, queries)
    trained_norms = np.einsum("ij,ij->i", trained, trained)
    # einsum rather than a BLAS product: no thread pool to wake for a few hundred rows
    products = np.einsum("ik,jk->ij", queries, trained)
    squared = query_norms[:, None] - 2.0 * products + trained_norms[None, :]
    slack = (FT_DISTANCE_SLACK * (query_norms + trained_norms.max()))[:, None]
    if not (np.isfinite(squared).all() and np.isfinite(slack).all()):
        return None
    kth = np.partition(squared, neighbors - 1, axis=1)[:, neighbors - 1 : neighbors]
    certain = squared < kth - slack
    maybe = ~certain & (squared <= kth + slack)
    second = codes.reshape(-1) == 1
    places = neighbors - certain.sum(axis=1)
    certain_second = (certain & second).sum(axis=1)
    maybe_second = (maybe & second).sum(axis=1)
    maybe_first = maybe.sum(axis=1) - maybe_second
    fewest = certain_second + np.maximum(0, places - maybe_first)
    most = certain_second + np.minimum(places, maybe_second)
    winner = 2 * fewest > neighbors  # the second class wins only with a strict majority
    if np.any(winner != (2 * most > neighbors)):
        return None
    return np.asarray(classes[winner.astype(np.intp)])


def metric_values(
    names: Sequence[str],
    sensitive: np.ndarray,
    positive: np.ndarray,
    predicted: np.ndarray | None = None,
    *,
    group: np.ndarray | None = None,
    features: np.ndarray | None = None,
) -> list[dict[str, Any]]:
    """Clarify's ``metrics`` list for one facet group: ``{name, description, value}``, or
    ``value: null`` with the ``error`` that stopped it (as smclarify reports a failed metric)."""
    counts = _Counts(sensitive, positive, predicted)
    results: list[dict[str, Any]] = []
    for name in names:
        entry: dict[str, Any] = {"name": name, "description": DESCRIPTIONS[name]}
        try:
            if name in PRE_TRAINING_METRICS:
                value = _pre_training(name, counts, sensitive, positive, group)
            else:
                assert predicted is not None
                value = _post_training(name, counts, sensitive, predicted, group, features)
            entry["value"] = _json_number(value)
        except (ValueError, ZeroDivisionError, FloatingPointError) as error:
            entry["value"] = None
            entry["error"] = str(error)
        results.append(entry)
    return results


def _json_number(value: float) -> float | str:
    """A metric value as Clarify writes it: infinities as the strings ``"Infinity"``."""
    value = float(value)
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return value


def metric_number(value: Any) -> float | None:
    """A written metric value back as a float (``"Infinity"`` → inf; null → None)."""
    if value is None:
        return None
    if isinstance(value, str):
        return {"Infinity": INFINITY, "-Infinity": -INFINITY}.get(value, math.nan)
    return float(value)


@dataclass(frozen=True)
class BiasData:
    """What bias metrics are computed on, row by row."""

    facets: Mapping[str, Sequence[Any] | np.ndarray]  # facet name → its values
    labels: Sequence[Any] | np.ndarray  # actual outcomes (label space: "Yes", "high", 151.2)
    predicted: Sequence[Any] | np.ndarray | None  # predicted outcomes, same space
    group: Sequence[Any] | np.ndarray | None = None  # the group variable (CDDL, CDDPL)
    features: np.ndarray | None = None  # numeric feature matrix for the flip test


def bias_analysis(
    data: BiasData,
    *,
    label: str,
    facets: Sequence[Facet],
    rule: LabelRule,
    pre_training: Sequence[str] = PRE_TRAINING_METRICS,
    post_training: Sequence[str] = POST_TRAINING_METRICS,
) -> dict[str, Any]:
    """Clarify's ``analysis.json`` for bias: both sections, every facet group."""
    kind = column_kind(data.labels, rule.values_or_threshold)
    positive = positive_outcomes(data.labels, rule, kind=kind)
    predicted = (
        positive_outcomes(data.predicted, rule, kind=kind) if data.predicted is not None else None
    )
    group = None if data.group is None else np.asarray(_canonical_texts(data.group).tolist())
    threshold_text = label_value_or_threshold(data.labels, rule, kind=kind)
    sections: dict[str, dict[str, Any]] = {}
    stages = [(PRE_TRAINING, pre_training)]
    if predicted is not None:
        stages.append((POST_TRAINING, post_training))
    for section, names in stages:
        by_facet: dict[str, list[dict[str, Any]]] = {}
        for facet in facets:
            if facet.name not in data.facets:
                raise ClarifyError(f"facet column {facet.name!r} is not in the data")
            by_facet[facet.name] = [
                {
                    "value_or_threshold": group_.label,
                    "metrics": metric_values(
                        sorted(names),
                        group_.sensitive,
                        positive,
                        predicted if section == POST_TRAINING else None,
                        group=group,
                        features=data.features,
                    ),
                }
                for group_ in facet_groups(data.facets[facet.name], facet)
            ]
        sections[section] = {
            "label": label,
            "facets": by_facet,
            "label_value_or_threshold": threshold_text,
        }
    return {"version": VERSION, **sections}


def bootstrap_spread(
    data: BiasData,
    *,
    label: str,
    facets: Sequence[Facet],
    rule: LabelRule,
    rounds: int = BOOTSTRAP_ROUNDS,
    window: int = WINDOW_ROWS,
    seed: int = 0,
) -> dict[tuple[str, str, str, str], float]:
    """Standard deviation of every (section, facet, group, metric) over bootstrap resamples
    of ``window`` rows (or all rows, when fewer)."""
    rng = np.random.default_rng(seed)
    n = len(data.labels)
    size = min(n, window)
    samples: dict[tuple[str, str, str, str], list[float]] = {}
    for _ in range(rounds):
        index = rng.integers(0, n, size)
        resampled = BiasData(
            facets={name: np.asarray(values)[index] for name, values in data.facets.items()},
            labels=np.asarray(data.labels)[index],
            predicted=None if data.predicted is None else np.asarray(data.predicted)[index],
            group=None if data.group is None else np.asarray(data.group)[index],
            features=None if data.features is None else data.features[index],
        )
        document = bias_analysis(resampled, label=label, facets=facets, rule=rule)
        for key, value in flatten(document).items():
            if value is not None and math.isfinite(value):
                samples.setdefault(key, []).append(value)
    return {key: float(np.std(values)) for key, values in samples.items() if len(values) > 1}


def flatten(document: Mapping[str, Any]) -> dict[tuple[str, str, str, str], float | None]:
    """``(section, facet, value_or_threshold, metric) → value`` of a bias analysis document."""
    found: dict[tuple[str, str, str, str], float | None] = {}
    for section in (PRE_TRAINING, POST_TRAINING):
        for facet, groups in (document.get(section) or {}).get("facets", {}).items():
            for group in groups:
                for metric in group.get("metrics", []):
                    key = (section, facet, str(group.get("value_or_threshold")), metric["name"])
                    found[key] = metric_number(metric.get("value"))
    return found


def suggest_bias_constraints(
    analysis: Mapping[str, Any],
    spread: Mapping[tuple[str, str, str, str], float],
    *,
    sigmas: float = CONSTRAINT_SIGMAS,
    slack: float = CONSTRAINT_SLACK,
) -> dict[str, Any]:
    """The analysis with each value moved away from its balanced value by
    ``max(slack, sigmas · bootstrap sd)``: a live value beyond it is a bias drift."""
    document = json.loads(json.dumps(analysis))
    for section in (PRE_TRAINING, POST_TRAINING):
        for facet, groups in (document.get(section) or {}).get("facets", {}).items():
            for group in groups:
                for metric in group.get("metrics", []):
                    value = metric_number(metric.get("value"))
                    if value is None or not math.isfinite(value):
                        continue
                    key = (section, facet, str(group.get("value_or_threshold")), metric["name"])
                    fair = FAIR_VALUE[metric["name"]]
                    margin = max(slack, sigmas * spread.get(key, 0.0))
                    direction = 1.0 if value >= fair else -1.0
                    metric["value"] = fair + direction * (abs(value - fair) + margin)
    return document


# --------------------------------------------------------------------------- explanations


@dataclass(frozen=True)
class EncodedModel:
    """A booster with its feature spec: raw features and where their encoded columns are."""

    booster: Any
    spec: dict[str, Any]

    @property
    def problem_type(self) -> str:
        return str(self.spec.get("problem_type", "binary"))

    @property
    def features(self) -> list[str]:
        return [str(entry["name"]) for entry in self.spec["features"]]

    @property
    def encoded_columns(self) -> list[str]:
        return [str(name) for name in self.spec["encoded_columns"]]

    def grouping(self) -> np.ndarray:
        """An (encoded columns × raw features) 0/1 matrix: summing SHAP values per feature."""
        matrix = np.zeros((len(self.encoded_columns), len(self.features)), dtype=np.float32)
        column = 0
        for index, entry in enumerate(self.spec["features"]):
            width = len(entry["categories"]) if entry["type"] == "categorical" else 1
            matrix[column : column + width, index] = 1.0
            column += width
        if column != len(self.encoded_columns):
            raise ClarifyError(
                f"{SPEC_FILE} encodes {column} columns but lists {len(self.encoded_columns)}"
            )
        return matrix

    def label_headers(self) -> list[str]:
        """The outputs explained: one per class of a multiclass model, else ``label0``."""
        if self.problem_type == "multiclass":
            return [str(label) for label in self.spec["classes"]]
        return ["label0"]


def load_encoded_model(model_dir: Path, scratch: Path) -> EncodedModel:
    """The booster and spec of the ``model.tar.gz`` under ``model_dir``."""
    archives = sorted(Path(model_dir).rglob(MODEL_ARCHIVE))
    if not archives:
        raise ClarifyError(f"no {MODEL_ARCHIVE} under {model_dir}")
    try:
        with tarfile.open(archives[0], "r:gz") as tar:
            tar.extractall(scratch, filter="data")
    except (tarfile.TarError, OSError) as error:
        raise ClarifyError(f"{archives[0].name} is not a readable tar.gz: {error}") from None
    booster_path, spec_path = scratch / MODEL_FILE, scratch / SPEC_FILE
    for path in (booster_path, spec_path):
        if not path.is_file():
            raise ClarifyError(f"{archives[0].name} has no {path.name}")
    import xgboost as xgb

    # The .ubj name tells xgboost the format (the artifact's member has no extension).
    named = booster_path.rename(booster_path.with_name(f"{MODEL_FILE}.ubj"))
    booster = xgb.Booster()
    booster.load_model(str(named))
    return EncodedModel(booster, json.loads(spec_path.read_text()))


def shap_values(model: EncodedModel, matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Exact TreeSHAP per raw feature: ``(values, expected)``.

    ``values`` is (rows, outputs, features) — outputs = classes for a multiclass model, else
    one — in the model's margin units; ``expected`` (outputs,) is the mean bias term. One-hot
    columns are summed back into their feature, so a categorical feature gets one value.
    """
    contributions = tree_contributions(model, matrix)
    if contributions.ndim == 2:
        contributions = contributions[:, None, :]
    grouped = contributions[:, :, :-1] @ model.grouping()
    return grouped, contributions[:, :, -1].mean(axis=0)


def tree_contributions(model: EncodedModel, matrix: np.ndarray) -> np.ndarray:
    """``booster.predict(DMatrix(matrix), pred_contribs=True)``, the same array bit for bit.

    XGBoost adds each row's per-tree contributions up in tree order, in float32; a tree's
    contributions depend only on the row's branch at each of its split nodes. So, for a
    large matrix, each boosting round explains one row per distinct set of branches (a
    one-round slice of the booster), and the rounds' results are added up in the same order
    as XGBoost does, on worker threads (one per CPU) taking rounds as they free up; the bias
    column is the same for every row. A model this cannot follow exactly (DART, random
    forests, categorical splits, vector leaves) or a matrix with infinities is explained by
    XGBoost in one call.
    """
    import xgboost as xgb

    if len(matrix) >= SHARED_BRANCHES_MIN_ROWS and matrix.ndim == 2:
        rounds = _split_nodes_by_round(model.booster, matrix.shape[1])
        if rounds is not None and matrix.dtype in (np.float32, np.float64):
            with np.errstate(over="ignore"):
                values = matrix.astype(np.float32)  # what the DMatrix holds
            if not np.isinf(values).any():
                return _contributions_by_branches(model, matrix, values, rounds)
    return np.asarray(
        model.booster.predict(
            xgb.DMatrix(matrix, feature_names=model.encoded_columns), pred_contribs=True
        )
    )


@dataclass(frozen=True)
class _SplitNodes:
    """The split nodes of one tree reachable from its root: tested feature, threshold (the
    float32 XGBoost compares with ``<``) and whether a missing value goes left."""

    features: np.ndarray
    thresholds: np.ndarray
    default_left: np.ndarray

    def goes_left(self, values: np.ndarray, missing: np.ndarray) -> np.ndarray:
        """(rows, nodes): the branch each row takes at each node, as XGBoost's predictor."""
        tested = values[:, self.features]
        return np.where(missing[:, self.features], self.default_left, tested < self.thresholds)


def _split_nodes_by_round(booster: Any, width: int) -> list[list[_SplitNodes]] | None:
    """Each boosting round's trees as `_SplitNodes`, or None where summing per-round
    contributions could differ from XGBoost's own sum (see `tree_contributions`) or the
    model does not take ``width`` columns (XGBoost then says what is wrong)."""
    learner = json.loads(bytes(booster.save_raw(raw_format="json")))["learner"]
    gbm = learner["gradient_booster"]
    if gbm.get("name") != "gbtree":
        return None
    trees_model = gbm["model"]
    if int(trees_model["gbtree_model_param"]["num_parallel_tree"]) != 1:
        return None
    if int(learner["learner_model_param"]["num_feature"]) != width:
        return None
    bounds = [int(bound) for bound in trees_model["iteration_indptr"]]
    if len(bounds) - 1 != booster.num_boosted_rounds():
        return None
    rounds: list[list[_SplitNodes]] = []
    for begin, end in itertools.pairwise(bounds):
        nodes = [_split_nodes(tree) for tree in trees_model["trees"][begin:end]]
        if any(tree is None for tree in nodes):
            return None
        rounds.append([tree for tree in nodes if tree is not None])
    return rounds


def _split_nodes(tree: Mapping[str, Any]) -> _SplitNodes | None:
    """A tree's reachable split nodes; None for a tree whose branches `goes_left` cannot
    reproduce: categorical splits, vector leaves, or a threshold whose JSON text, read as a
    double, lands exactly halfway between two float32s (rounding it could pick either)."""
    if int(tree["tree_param"].get("size_leaf_vector", "1")) > 1:
        return None
    left, right = tree["left_children"], tree["right_children"]
    internal: list[int] = []
    pending = [0]
    while pending:
        node = pending.pop()
        if left[node] != -1:
            internal.append(node)
            pending += [left[node], right[node]]
    internal.sort()
    if any(tree["split_type"][node] != 0 for node in internal):
        return None
    written = np.asarray([tree["split_conditions"][node] for node in internal], dtype=np.float64)
    thresholds = written.astype(np.float32)
    toward = np.where(written > thresholds, np.inf, -np.inf).astype(np.float32)
    neighbour = np.nextafter(thresholds, toward)
    halfway = (thresholds.astype(np.float64) + neighbour.astype(np.float64)) / 2 == written
    if np.any(halfway & (thresholds.astype(np.float64) != written)):
        return None
    return _SplitNodes(
        features=np.asarray([tree["split_indices"][node] for node in internal], dtype=np.intp),
        thresholds=thresholds,
        default_left=np.asarray([tree["default_left"][node] for node in internal], dtype=bool),
    )


def _contributions_by_branches(
    model: EncodedModel,
    matrix: np.ndarray,
    values: np.ndarray,
    rounds: Sequence[Sequence[_SplitNodes]],
) -> np.ndarray:
    """`tree_contributions` by distinct branches per round (the caller checked the model and
    the matrix; ``values``: the matrix as float32)."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    import xgboost as xgb

    data = xgb.DMatrix(matrix, feature_names=model.encoded_columns)
    probe = np.asarray(model.booster.predict(data.slice([0]), pred_contribs=True))
    outputs = 1 if probe.ndim == 2 else probe.shape[1]
    missing = np.isnan(values)
    # Slicing a booster costs a few times more when its own nthread is above one; each
    # round's slice inherits nthread=1 (one thread per worker).
    booster = model.booster.copy()
    booster.set_param({"nthread": 1})
    slicing = threading.Lock()  # booster and DMatrix slices are taken one at a time

    def explain_round(index: int) -> tuple[np.ndarray, np.ndarray]:
        branches = np.concatenate(
            [tree.goes_left(values, missing) for tree in rounds[index]]
            or [np.zeros((len(values), 0), dtype=bool)],
            axis=1,
        )
        first, inverse = _distinct_rows(branches)
        with slicing:
            one_round = booster[index : index + 1]
            rows = data.slice(first)
        explained = one_round.predict(rows, pred_contribs=True)
        return np.asarray(explained).reshape(len(first), outputs, -1), inverse

    contributions = np.zeros((len(matrix), outputs, probe.shape[-1]), dtype=np.float32)
    features = contributions[:, :, :-1]
    if hasattr(os, "sched_getaffinity"):
        workers = len(os.sched_getaffinity(0))
    else:
        workers = os.cpu_count() or 1
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        for explained, inverse in pool.map(explain_round, range(len(rounds))):
            features += explained[inverse, :, :-1]
    contributions[:, :, -1] = probe.reshape(1, outputs, -1)[0, :, -1]
    return contributions.reshape((len(matrix), *probe.shape[1:]))


def _distinct_rows(branches: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(one row index per distinct row of a boolean matrix, each row's index into them)."""
    packed = np.packbits(branches, axis=1, bitorder="little")
    width = -(-packed.shape[1] // 8) * 8 or 8
    padded = np.zeros((len(packed), width), dtype=np.uint8)
    padded[:, : packed.shape[1]] = packed
    words = padded.view(np.uint64)
    if words.shape[1] == 1:
        _, first, inverse = np.unique(words[:, 0], return_index=True, return_inverse=True)
    else:
        _, first, inverse = np.unique(words, axis=0, return_index=True, return_inverse=True)
    return first, inverse.reshape(-1)


def global_values(values: np.ndarray, method: str = "mean_abs") -> np.ndarray:
    """Clarify's aggregation of local SHAP values (rows) into global ones."""
    if method == "mean_abs":
        return np.abs(values).mean(axis=0)
    if method == "median":
        return np.median(values, axis=0)
    if method == "mean_sq":
        return (values**2).mean(axis=0)
    raise ClarifyError(f"agg_method must be one of {', '.join(AGG_METHODS)}, got {method!r}")


def explanations_document(
    model: EncodedModel, values: np.ndarray, expected: np.ndarray, method: str = "mean_abs"
) -> dict[str, Any]:
    """Clarify's explainability ``analysis.json`` for local SHAP ``values``."""
    aggregated = global_values(values, method)
    labels: dict[str, Any] = {}
    for output, header in enumerate(model.label_headers()):
        labels[header] = {
            "global_shap_values": {
                name: float(aggregated[output, index]) for index, name in enumerate(model.features)
            },
            "expected_value": float(expected[output]),
        }
    return {"version": VERSION, "explanations": {EXPLANATION_METHOD: labels}}


def attribution_ndcg(baseline: Mapping[str, float], current: Mapping[str, float]) -> float:
    """Clarify's feature attribution drift score (Developer Guide, "Feature attribution drift"):
    ``DCG / iDCG`` with DCG = Σ a(f'_i)/log2(i+1) over the live ranking f' and iDCG the same
    over the baseline ranking, a = the baseline attribution. 1 is an unchanged ranking."""
    ideal = sorted(baseline, key=lambda name: (-baseline[name], name))
    live = sorted(ideal, key=lambda name: (-current.get(name, -INFINITY), ideal.index(name)))
    discounts = 1.0 / np.log2(np.arange(2, len(ideal) + 2))
    dcg = float(np.sum([baseline[name] for name in live] * discounts))
    idcg = float(np.sum([baseline[name] for name in ideal] * discounts))
    return dcg / idcg if idcg > 0 else 1.0


# --------------------------------------------------------------------------- encoding


def encode_rows(model: EncodedModel, columns: Mapping[str, Sequence[str]]) -> np.ndarray:
    """Raw feature columns (text cells, "" = blank) encoded as preprocess does (contracts §3):
    numbers as floats, blank → NaN; categories one-hot, blank or unseen → all zeros."""
    rows = len(next(iter(columns.values()))) if columns else 0
    matrix = np.zeros((rows, len(model.encoded_columns)), dtype=np.float32)
    offset = 0
    for entry in model.spec["features"]:
        name = str(entry["name"])
        cells = columns.get(name)
        if cells is None:
            raise ClarifyError(f"the data has no column {name!r}")
        if entry["type"] == "categorical":
            index = {str(value): code for code, value in enumerate(entry["categories"])}
            for row, cell in enumerate(cells):
                code = index.get(str(cell).strip())
                if code is not None:
                    matrix[row, offset + code] = 1.0
            offset += len(index)
        else:
            matrix[:, offset] = _as_float([str(cell).strip() for cell in cells])
            offset += 1
    return matrix


def decode_column(model: EncodedModel, matrix: np.ndarray, name: str) -> np.ndarray:
    """A raw feature's values back from encoded rows: numbers, or the category (""=blank)."""
    offset = 0
    for entry in model.spec["features"]:
        width = len(entry["categories"]) if entry["type"] == "categorical" else 1
        if entry["name"] == name:
            block = matrix[:, offset : offset + width]
            if entry["type"] != "categorical":
                return block[:, 0].astype(np.float64)
            categories = np.asarray([str(value) for value in entry["categories"]] + [""])
            hot = np.where(block.max(axis=1) > 0, block.argmax(axis=1), width)
            return categories[hot]
        offset += width
    raise ClarifyError(f"{name!r} is not a feature of the model ({', '.join(model.features)})")


def predict_outcomes(model: EncodedModel, matrix: np.ndarray) -> np.ndarray:
    """What the endpoint answers as each row's outcome: the label (binary: at the spec's
    ``prediction_threshold``; multiclass: the most probable class) or the value."""
    import xgboost as xgb

    scores = model.booster.predict(xgb.DMatrix(matrix, feature_names=model.encoded_columns))
    return outcomes_from_scores(model.spec, scores)


def outcomes_from_scores(spec: Mapping[str, Any], scores: np.ndarray) -> np.ndarray:
    kind = str(spec.get("problem_type", "binary"))
    if kind == "regression":
        return np.asarray(scores, dtype=np.float64)
    if kind == "multiclass":
        classes = np.asarray([str(label) for label in spec["classes"]], dtype=object)
        return classes[np.asarray(scores).reshape(len(scores), -1).argmax(axis=1)]
    names = _binary_names(spec)
    return names[(np.asarray(scores) >= float(spec.get("prediction_threshold", 0.5))).astype(int)]


def labels_from_codes(spec: Mapping[str, Any], codes: np.ndarray) -> np.ndarray:
    """The encoded label column (§2) back in the label space the endpoint answers in."""
    kind = str(spec.get("problem_type", "binary"))
    if kind == "regression":
        return np.asarray(codes, dtype=np.float64)
    if kind == "multiclass":
        classes = np.asarray([str(label) for label in spec["classes"]], dtype=object)
        return classes[np.asarray(codes).astype(int)]
    return _binary_names(spec)[np.asarray(codes).astype(int)]


def _binary_names(spec: Mapping[str, Any]) -> np.ndarray:
    positive = str(spec["positive_label"])
    negative = str(spec.get("negative_label") or f"not {positive}")
    return np.asarray([negative, positive], dtype=object)


def shap_baseline_row(model: EncodedModel, matrix: np.ndarray) -> list[Any]:
    """One background row for the monitor's Kernel SHAP: each numeric feature's training
    median (recorded in the spec), each categorical feature's most frequent category."""
    row: list[Any] = []
    for entry in model.spec["features"]:
        if entry["type"] == "categorical":
            values = decode_column(model, matrix, str(entry["name"]))
            known = values[values != ""]
            if known.size:
                kinds, counts = np.unique(known, return_counts=True)
                row.append(str(kinds[counts.argmax()]))
            else:
                row.append(str(entry["categories"][0]) if entry["categories"] else "")
        else:
            median = entry.get("median")
            row.append(float(median) if median is not None and math.isfinite(median) else "")
    return row


# --------------------------------------------------------------------------- the job


def load_test(test_dir: Path, width: int) -> tuple[np.ndarray, np.ndarray]:
    """(encoded features, label codes) from every CSV under ``test_dir``."""
    import pandas as pd

    files = sorted(p for p in Path(test_dir).rglob("*.csv") if p.is_file())
    if not files:
        raise ClarifyError(f"no test CSV under {test_dir}")
    data = pd.concat(
        [pd.read_csv(path, header=None, dtype=np.float64) for path in files], ignore_index=True
    ).to_numpy()
    if data.shape[1] != width + 1:
        raise ClarifyError(
            f"the test split has {data.shape[1]} columns, the model expects {width + 1} "
            "(label + encoded_columns): model and data come from different preprocess runs?"
        )
    return data[:, 1:].astype(np.float32), data[:, 0]


def sample_rows(
    matrix: np.ndarray, codes: np.ndarray, *, limit: int
) -> tuple[np.ndarray, np.ndarray]:
    """At most ``limit`` rows: all of them, or a seeded uniform sample kept in file order (the
    same rows on every run of the same split)."""
    if limit <= 0:
        raise ClarifyError(f"--max-rows must be positive, got {limit}")
    if len(codes) <= limit:
        return matrix, codes
    index = np.sort(np.random.default_rng(SAMPLE_SEED).choice(len(codes), limit, replace=False))
    return matrix[index], codes[index]


def flip_test_features(
    model: EncodedModel, matrix: np.ndarray, exclude: Sequence[str]
) -> np.ndarray:
    """The encoded features without the facet's own columns, blanks at the spec's medians:
    smclarify's flip test needs numbers in every cell."""
    features = np.asarray(matrix, dtype=np.float64).copy()
    keep = np.ones(features.shape[1], dtype=bool)
    offset = 0
    for entry in model.spec["features"]:
        width = len(entry["categories"]) if entry["type"] == "categorical" else 1
        if entry["name"] in exclude:
            keep[offset : offset + width] = False
        elif entry["type"] != "categorical":
            median = entry.get("median")
            fill = float(median) if median is not None and math.isfinite(median) else 0.0
            column = features[:, offset]
            column[~np.isfinite(column)] = fill
        offset += width
    return features[:, keep]


def bias_baseline(
    model: EncodedModel,
    matrix: np.ndarray,
    codes: np.ndarray,
    *,
    facets: Sequence[Facet],
    rule: LabelRule,
    group_variable: str | None,
    label: str,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(analysis.json, constraints.json) of the test split."""
    absent = [facet.name for facet in facets if facet.name not in model.features]
    if absent:
        # Clarify fails the job here; a pipeline configured for another dataset's facet still
        # registers its model, with the reason in every metric and in the job log.
        print(f"warning: facet(s) {absent} are not features of the model", file=sys.stderr)
        empty = missing_facet_analysis(
            label, facets, f"facet column {absent[0]!r} is not a feature"
        )
        return empty, empty
    if group_variable and group_variable not in model.features:
        print(f"warning: group variable {group_variable!r} is not a feature", file=sys.stderr)
        group_variable = None
    names = [facet.name for facet in facets] + ([group_variable] if group_variable else [])
    data = BiasData(
        facets={facet.name: decode_column(model, matrix, facet.name) for facet in facets},
        labels=labels_from_codes(model.spec, codes),
        predicted=predict_outcomes(model, matrix),
        group=decode_column(model, matrix, group_variable) if group_variable else None,
        features=flip_test_features(model, matrix, names),
    )
    analysis = bias_analysis(data, label=label, facets=facets, rule=rule)
    spread = bootstrap_spread(data, label=label, facets=facets, rule=rule)
    return analysis, suggest_bias_constraints(analysis, spread)


def missing_facet_analysis(label: str, facets: Sequence[Facet], reason: str) -> dict[str, Any]:
    """An analysis whose every metric carries ``reason`` as its error (``value: null``)."""

    def section(names: Sequence[str]) -> dict[str, Any]:
        groups = {
            facet.name: [
                {
                    "value_or_threshold": ",".join(
                        canonical(v) for v in facet.value_or_threshold or ()
                    ),
                    "metrics": [
                        {"name": n, "description": DESCRIPTIONS[n], "value": None, "error": reason}
                        for n in names
                    ],
                }
            ]
            for facet in facets
        }
        return {"label": label, "facets": groups, "label_value_or_threshold": ""}

    return {
        "version": VERSION,
        PRE_TRAINING: section(PRE_TRAINING_METRICS),
        POST_TRAINING: section(POST_TRAINING_METRICS),
    }


def bias_monitor_config(
    model: EncodedModel,
    *,
    label: str,
    facets: Sequence[Facet],
    rule: LabelRule,
    group_variable: str | None,
) -> dict[str, Any]:
    """The bias drift monitor's analysis configuration (Developer Guide, "Configure
    Parameters to Monitor Bias Drift"): captured features then the label, by name."""
    config: dict[str, Any] = {
        "version": VERSION,
        "headers": [*model.features, label],
        "label": label,
        "label_values_or_threshold": rule.to_config(),
        "facet": [facet.to_config() for facet in facets],
    }
    if group_variable:
        config["group_variable"] = group_variable
    return config


def explainability_monitor_config(
    model: EncodedModel, matrix: np.ndarray, *, method: str, num_samples: int
) -> dict[str, Any]:
    """The explainability monitor's analysis configuration (Developer Guide, "Configure
    Parameters to Monitor Attribution Drift"), in the units of the baseline: log-odds for a
    binary model (``use_logit``), the raw score otherwise. ``predictor.probability`` says
    where the endpoint's answer (contracts §3) holds the score Clarify explains: the first CSV
    field of a binary answer (``probability,label``), the class scores of a multiclass JSON
    line (``probabilities``, an object in ``label_headers`` order); a regression answer is the
    value alone. The deployment adds the shadow model (``model_name``, instance type)."""
    predictor: dict[str, Any] = {"content_type": "text/csv", "accept_type": "text/csv"}
    if model.problem_type == "binary":
        predictor["probability"] = 0
    if model.problem_type == "multiclass":
        predictor = {
            "content_type": "text/csv",
            "accept_type": "application/jsonlines",
            "probability": "probabilities.*",
            "label_headers": model.label_headers(),
        }
    return {
        "version": VERSION,
        "headers": model.features,
        "methods": {
            "shap": {
                "baseline": [shap_baseline_row(model, matrix)],
                "num_samples": num_samples,
                "agg_method": method,
                "use_logit": model.problem_type == "binary",
                "save_local_shap_values": False,
            }
        },
        "predictor": predictor,
    }


def run(args: argparse.Namespace) -> list[Path]:
    """Compute the requested analysis; returns the files written."""
    with tempfile.TemporaryDirectory() as scratch:
        model = load_encoded_model(args.model_dir, Path(scratch))
        matrix, codes = sample_rows(
            *load_test(args.test_dir, len(model.encoded_columns)), limit=args.max_rows
        )
        model.booster.set_param({"nthread": 0})
        written: dict[str, dict[str, Any]]
        if args.analysis == "bias":
            facets = [Facet.from_config(entry) for entry in json.loads(args.facets)]
            if not facets:
                raise ClarifyError("--facets names no facet")
            rule = LabelRule.from_config(json.loads(args.label_values_or_threshold))
            label = str(model.spec.get("target") or "label")
            analysis, constraints = bias_baseline(
                model,
                matrix,
                codes,
                facets=facets,
                rule=rule,
                group_variable=args.group_variable or None,
                label=label,
            )
            written = {
                ANALYSIS_FILE: analysis,
                CONSTRAINTS_FILE: constraints,
                CONFIG_FILE: bias_monitor_config(
                    model,
                    label=label,
                    facets=facets,
                    rule=rule,
                    group_variable=args.group_variable or None,
                ),
            }
        else:
            values, expected = shap_values(model, matrix)
            written = {
                ANALYSIS_FILE: explanations_document(model, values, expected, args.agg_method),
                CONFIG_FILE: explainability_monitor_config(
                    model, matrix, method=args.agg_method, num_samples=args.num_samples
                ),
            }
    args.output_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, document in written.items():
        path = args.output_dir / name
        path.write_text(json.dumps(document, indent=2, allow_nan=False) + "\n")
        paths.append(path)
    return paths


def main(argv: list[str] | None = None) -> int:
    """Run the step; returns the process exit code."""
    args = _parse_args(argv)
    try:
        paths = run(args)
    except ClarifyError as error:
        return _fail(f"clarify failed: {error}")
    except Exception as error:  # whatever broke, the job's ExitMessage says what
        traceback.print_exc()
        first_line = (str(error).strip().splitlines() or [""])[0]
        return _fail(f"clarify failed: {type(error).__name__}: {first_line}")
    print(f"{args.analysis}: wrote {', '.join(path.name for path in paths)}")
    return 0


def _fail(reason: str) -> int:
    """The reason where SageMaker reports it: ``/opt/ml/output/message`` and stderr."""
    reason = " ".join(reason.split())
    print(reason, file=sys.stderr, flush=True)
    message = Path(os.environ.get("SM_PROCESSING_ROOT", DEFAULT_ROOT)).parent / "output" / "message"
    try:
        message.parent.mkdir(parents=True, exist_ok=True)
        message.write_bytes(reason.encode("utf-8")[:1024])
    except OSError as error:
        print(f"could not write {message}: {error}", file=sys.stderr)
    return 1


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    root = Path(os.environ.get("SM_PROCESSING_ROOT", DEFAULT_ROOT))
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--analysis", choices=("bias", "explainability"), required=True)
    parser.add_argument("--model-dir", type=Path, default=root / "model")
    parser.add_argument("--test-dir", type=Path, default=root / "test")
    parser.add_argument("--output-dir", type=Path, default=None)
    parser.add_argument("--facets", default="[]", help="Clarify's facet list, as JSON")
    parser.add_argument("--label-values-or-threshold", default="[]", help="as JSON")
    parser.add_argument("--group-variable", default="")
    parser.add_argument("--agg-method", choices=AGG_METHODS, default="mean_abs")
    parser.add_argument("--num-samples", type=int, default=SHAP_NUM_SAMPLES)
    parser.add_argument(
        "--max-rows", type=int, default=BASELINE_MAX_ROWS, help="test rows to analyse, at most"
    )
    args = parser.parse_args(argv)
    if args.output_dir is None:
        args.output_dir = root / args.analysis
    return args


if __name__ == "__main__":
    sys.exit(main())
