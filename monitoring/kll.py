"""KLL quantile sketches in the analyzer's JSON form, and the L-infinity distance between them.

The managed analyzer (built on Deequ) stores a KLL sketch per numeric feature as
``{"parameters": {"c", "k"}, "data": [[level 0 items], [level 1 items], ...]}``: an item kept
at level *i* stands for 2**i input values. Apache DataSketches' ``kll_doubles_sketch`` keeps
the same structure (its iterator yields each retained item with that weight), so a sketch
built here round-trips through the JSON, and a sketch written by the managed analyzer is read
back the same way. DataSketches shrinks level capacities by a fixed factor of 2/3, which is
what ``c`` records; ``k`` is the sketch size.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from datasketches import kll_doubles_sketch

SKETCH_K = 2048
SKETCH_C = 2.0 / 3.0
BUCKETS = 10  # the analyzer always materialises 10 equal-width buckets
# c(alpha) for alpha = 0.003, the constant Deequ's linf_robust uses (Knuth, TAOCP vol. 2).
ROBUST_C_ALPHA = 1.8


def new_sketch() -> kll_doubles_sketch:
    """An empty sketch with the analyzer's k."""
    return kll_doubles_sketch(SKETCH_K)


@dataclass(frozen=True)
class WeightedSample:
    """Retained items (sorted) with their weights: what a KLL sketch says about a distribution."""

    items: np.ndarray[Any, np.dtype[np.float64]]
    weights: np.ndarray[Any, np.dtype[np.float64]]

    @property
    def total(self) -> float:
        return float(self.weights.sum())

    def cdf(self, points: np.ndarray[Any, np.dtype[np.float64]]) -> np.ndarray[Any, Any]:
        """Fraction of the weight at or below each point."""
        if self.items.size == 0:
            return np.zeros_like(points)
        cumulative = np.cumsum(self.weights)
        index = np.searchsorted(self.items, points, side="right")
        below = np.where(index > 0, cumulative[np.maximum(index - 1, 0)], 0.0)
        return np.asarray(below / cumulative[-1])


def sketch_to_json(sketch: kll_doubles_sketch) -> dict[str, Any]:
    """The analyzer's ``sketch`` object: items grouped into levels by their weight."""
    sample = sample_from_sketch(sketch)
    levels = (
        np.rint(np.log2(sample.weights)).astype(np.int64)
        if sample.items.size
        else np.empty(0, np.int64)
    )
    data = [
        sample.items[levels == level].tolist() for level in range(int(levels.max(initial=-1)) + 1)
    ]
    return {"parameters": {"c": SKETCH_C, "k": float(SKETCH_K)}, "data": data}


def sample_from_json(sketch_json: dict[str, Any]) -> WeightedSample:
    """Read a ``sketch`` object (ours or the managed analyzer's) as a weighted sample."""
    items: list[float] = []
    weights: list[float] = []
    for level, values in enumerate(sketch_json.get("data") or []):
        items.extend(float(v) for v in values)
        weights.extend([float(2**level)] * len(values))
    return _sorted_sample(np.asarray(items, dtype=np.float64), np.asarray(weights))


def sample_from_sketch(sketch: kll_doubles_sketch) -> WeightedSample:
    """The sketch's retained items with their weights."""
    pairs = np.asarray(list(sketch), dtype=np.float64).reshape(-1, 2)
    return _sorted_sample(pairs[:, 0].copy(), pairs[:, 1].copy())


def _sorted_sample(
    items: np.ndarray[Any, np.dtype[np.float64]], weights: np.ndarray[Any, Any]
) -> WeightedSample:
    order = np.argsort(items, kind="stable")
    return WeightedSample(items=items[order], weights=weights[order].astype(np.float64))


def kll_buckets(
    sketch: kll_doubles_sketch, minimum: float, maximum: float
) -> list[dict[str, float]]:
    """Ten equal-width buckets over [min, max] with counts estimated from the sketch.

    Buckets are half-open [lower, upper) except the last, which includes max, as in the
    analyzer's output (a value on an edge counts in the bucket it starts).
    """
    n = float(sketch.n)
    if n == 0:
        return []
    if minimum == maximum:
        return [{"lower_bound": minimum, "upper_bound": maximum, "count": n}]
    width = (maximum - minimum) / BUCKETS
    edges = [minimum + width * i for i in range(BUCKETS)] + [maximum]
    below = [0.0, *sketch.get_cdf(edges[1:-1], inclusive=False)[:-1], 1.0]
    return [
        {
            "lower_bound": edges[i],
            "upper_bound": edges[i + 1],
            "count": float(round((below[i + 1] - below[i]) * n)),
        }
        for i in range(BUCKETS)
    ]


def linf_simple(baseline: WeightedSample, current: WeightedSample) -> float:
    """Largest absolute difference between the two CDFs, over every retained item of either."""
    if baseline.items.size == 0 or current.items.size == 0:
        return 0.0
    points = np.union1d(baseline.items, current.items)
    return float(np.max(np.abs(baseline.cdf(points) - current.cdf(points))))


def robust_correction(distance: float, n: float, m: float) -> float:
    """Deequ's linf_robust: subtract the two-sample Kolmogorov-Smirnov critical value.

    ``max(0, d - c(alpha) * sqrt((n + m) / (n * m)))`` — a distance that sampling noise alone
    would produce at alpha = 0.003 becomes 0, so small traffic samples do not raise alarms.
    """
    if n <= 0 or m <= 0:
        return 0.0
    return max(0.0, distance - ROBUST_C_ALPHA * math.sqrt((n + m) / (n * m)))
