"""One pass over a column, chunk by chunk: counts, moments, a KLL sketch and category counts.

Everything here is mergeable per chunk (Chan's parallel mean/variance, sketch updates, count
dictionaries), so a dataset of any size is profiled in bounded memory. A column arrives
either typed by the CSV/parquet reader (int/float: the fast path, no per-value work in
Python) or as text (captured traffic, mixed columns), where vectorised regular expressions
decide which values are integral, fractional or neither, the way the analyzer infers types.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from datasketches import hll_sketch, kll_doubles_sketch

from monitoring.kll import (
    WeightedSample,
    kll_buckets,
    new_sketch,
    sample_from_sketch,
    sketch_to_json,
)

InferredType = Literal["Integral", "Fractional", "String", "Unknown"]

_INTEGRAL = r"^\s*[+-]?\d+\s*$"
_NUMBER = r"^\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*$"
# Categories kept exactly per column; beyond this a column is an identifier, not a category,
# and its buckets would cost unbounded memory.
MAX_TRACKED_VALUES = 10_000
HLL_LG_K = 12  # 4096 registers: about 1.6 % relative error on distinct counts


def text_array(values: Sequence[str | None]) -> pa.StringArray:
    """An Arrow string array built from its buffers.

    ``pa.array`` (and ``pa.scalar``) on Python objects makes pyarrow import pandas to check
    for pandas types: seconds per CLI call on this machine, for nothing. Building the
    offsets, bytes and validity bitmap with numpy avoids it; every compute call in this
    module likewise passes Arrow arrays or options only, never Python scalars.
    """
    encoded = [(value or "").encode("utf-8") for value in values]
    count = len(encoded)
    offsets = np.zeros(count + 1, dtype=np.int32)
    np.cumsum(np.fromiter(map(len, encoded), dtype=np.int32, count=count), out=offsets[1:])
    valid = np.fromiter((value is not None for value in values), dtype=bool, count=count)
    return pa.StringArray.from_buffers(
        count,
        pa.py_buffer(offsets),
        pa.py_buffer(b"".join(encoded)),
        pa.py_buffer(np.packbits(valid, bitorder="little")),
        int(count - valid.sum()),
    )


def float64_values(array: pa.Array) -> np.ndarray[Any, np.dtype[np.float64]]:
    """The non-null values of a numeric array as a fresh, writable float64 numpy array.

    Read straight from the data buffer: ``Array.to_numpy`` also imports pandas (see
    ``text_array``), and the sketch binding needs a writable array anyway.
    """
    dense = array.drop_null()
    kind = dense.type
    if pa.types.is_floating(kind):
        dtype = np.dtype(f"f{kind.bit_width // 8}")
    elif pa.types.is_integer(kind):
        dtype = np.dtype(f"{'i' if pa.types.is_signed_integer(kind) else 'u'}{kind.bit_width // 8}")
    else:
        raise TypeError(f"not a numeric array: {kind}")
    data = dense.buffers()[1]
    if data is None or len(dense) == 0:
        return np.empty(0, dtype=np.float64)
    raw = np.frombuffer(data, dtype=dtype, count=len(dense) + dense.offset)[dense.offset :]
    return raw.astype(np.float64, copy=True)


@dataclass
class ColumnProfile:
    """Running statistics of one column."""

    name: str
    typed: Literal["int", "float", "text", "none"] = "none"
    present: int = 0
    missing: int = 0
    integral_values: int = 0  # parse as (or are) whole numbers
    numeric_values: int = 0  # parse as (or are) numbers
    literal_integers: int = 0  # written without a fraction: decides Integral vs Fractional
    count: int = 0
    mean: float = 0.0
    m2: float = 0.0
    total: float = 0.0
    minimum: float = math.inf
    maximum: float = -math.inf
    sketch: kll_doubles_sketch = field(default_factory=new_sketch)
    categories: Counter[str] | None = field(default_factory=Counter)
    distinct: hll_sketch | None = None  # replaces ``categories`` past MAX_TRACKED_VALUES

    def update(self, array: pa.Array | pa.ChunkedArray) -> None:
        """Fold one chunk of this column into the profile."""
        if isinstance(array, pa.ChunkedArray):
            for chunk in array.chunks:
                self.update(chunk)
            return
        kind = array.type
        if pa.types.is_integer(kind):
            self._mark("int")
            values = float64_values(array)
            self.missing += array.null_count
            self.present += values.size
            self.integral_values += values.size
            self.literal_integers += values.size
            self.numeric_values += values.size
            self._numbers(values, array.drop_null())
        elif pa.types.is_floating(kind):
            self._mark("float")
            values = float64_values(array)
            all_finite = bool(np.isfinite(values).all())
            finite = values if all_finite else values[np.isfinite(values)]
            self.missing += array.null_count + (values.size - finite.size)
            self.present += finite.size
            self.integral_values += int(np.count_nonzero(finite == np.floor(finite)))
            self.numeric_values += finite.size
            self._numbers(finite, array.drop_null() if all_finite else None)
        elif pa.types.is_null(kind):
            self.missing += len(array)
        else:
            self._mark("text")
            self._text(array.cast(pa.string()) if not pa.types.is_string(kind) else array)

    def _mark(self, typed: Literal["int", "float", "text"]) -> None:
        if self.typed == "none":
            self.typed = typed
        elif self.typed != typed:
            self.typed = "text"

    def _text(self, array: pa.Array) -> None:
        """Classify text values by their distinct values: a categorical column costs one
        value_counts, not a regular expression per row."""
        trimmed = pc.utf8_trim_whitespace(array)
        blank = pc.or_kleene(pc.is_null(trimmed), pc.match_substring_regex(trimmed, "^$"))
        present = pc.filter(trimmed, pc.invert(blank))
        self.missing += len(array) - len(present)
        self.present += len(present)
        if len(present) == 0:
            return
        counts = pc.value_counts(present)
        uniques, frequencies = counts.field("values"), counts.field("counts")
        numeric = pc.match_substring_regex(uniques, _NUMBER)
        self.literal_integers += int(
            pc.sum(pc.filter(frequencies, pc.match_substring_regex(uniques, _INTEGRAL))).as_py()
            or 0
        )
        if pc.any(numeric).as_py():
            numbers = pc.cast(
                pc.filter(present, pc.is_in(present, pc.filter(uniques, numeric))), pa.float64()
            )
            values = float64_values(numbers)
            self.numeric_values += values.size
            self.integral_values += int(np.count_nonzero(values == np.floor(values)))
            self._numbers(values)
        if self.categories is not None:
            for value, count in zip(uniques.to_pylist(), frequencies.to_pylist(), strict=True):
                self.categories[value] += count
            if len(self.categories) > MAX_TRACKED_VALUES:
                # An identifier-like column: its buckets would be as large as the data. Keep
                # counting distinct values approximately, as the analyzer does (HyperLogLog).
                self.distinct = hll_sketch(HLL_LG_K)
                for value in self.categories:
                    self.distinct.update(value)
                self.categories = None
        else:
            assert self.distinct is not None
            for value in uniques.to_pylist():
                self.distinct.update(value)

    def _numbers(
        self, values: np.ndarray[Any, np.dtype[np.float64]], source: pa.Array | None = None
    ) -> None:
        """Fold values into the moments (Chan et al.'s pairwise update) and the sketch.

        ``source``, when given, is the same values as a null-free Arrow array: its moments
        are computed by Arrow in one native pass each, without numpy temporaries.
        """
        if values.size == 0:
            return
        if source is not None:
            chunk_sum = float(pc.sum(source).as_py())
            chunk_m2 = float(pc.variance(source).as_py()) * values.size
            extremes = pc.min_max(source).as_py()
            low, high = float(extremes["min"]), float(extremes["max"])
        else:
            chunk_sum = float(values.sum())
            deviations = values - chunk_sum / values.size
            chunk_m2 = float(np.dot(deviations, deviations))
            low, high = float(values.min()), float(values.max())
        chunk_mean = chunk_sum / values.size
        n_a, n_b = self.count, values.size
        delta = chunk_mean - self.mean
        self.count = n_a + n_b
        self.mean += delta * n_b / self.count
        self.m2 += chunk_m2 + delta * delta * n_a * n_b / self.count
        self.total += chunk_sum
        self.minimum = min(self.minimum, low)
        self.maximum = max(self.maximum, high)
        if not (values.flags.writeable and values.flags.c_contiguous):
            values = np.array(
                values, dtype=np.float64
            )  # the sketch binding takes writable arrays only
        self.sketch.update(values)

    # --- results -------------------------------------------------------------------------

    @property
    def inferred_type(self) -> InferredType:
        """Integral / Fractional when every present value is a number, else String."""
        if self.present == 0:
            return "Unknown"
        if self.typed == "int":
            return "Integral"
        if self.typed == "float":
            return "Fractional"
        if self.numeric_values == self.present:
            return "Integral" if self.literal_integers == self.present else "Fractional"
        return "String"

    @property
    def completeness(self) -> float:
        rows = self.present + self.missing
        return self.present / rows if rows else 0.0

    def conforming_fraction(self, baseline_type: str) -> float:
        """Share of present values that fit ``baseline_type`` (what data_type_check measures)."""
        if self.present == 0:
            return 1.0
        if baseline_type == "Integral":
            return self.integral_values / self.present
        if baseline_type == "Fractional":
            return self.numeric_values / self.present
        return 1.0

    def numeric_sample(self) -> WeightedSample:
        return sample_from_sketch(self.sketch)

    def category_counts(self) -> dict[str, int]:
        return dict(self.categories) if self.categories is not None else {}

    def statistics(self) -> dict[str, Any]:
        """This feature's entry of statistics.json, key for key as the analyzer writes it."""
        kind = self.inferred_type
        common = {"num_present": self.present, "num_missing": self.missing}
        if kind in ("Integral", "Fractional"):
            return {
                "name": self.name,
                "inferred_type": kind,
                "numerical_statistics": {
                    "common": common,
                    "mean": self.mean,
                    "sum": self.total,
                    "std_dev": math.sqrt(self.m2 / self.count) if self.count else 0.0,
                    "min": self.minimum,
                    "max": self.maximum,
                    "distribution": {
                        "kll": {
                            "buckets": kll_buckets(self.sketch, self.minimum, self.maximum),
                            "sketch": sketch_to_json(self.sketch),
                        }
                    },
                },
            }
        counts = self.category_counts()
        distinct = (
            float(len(counts)) if self.distinct is None else round(self.distinct.get_estimate())
        )
        return {
            "name": self.name,
            "inferred_type": kind,
            "string_statistics": {
                "common": common,
                "distinct_count": float(distinct),
                "distribution": {
                    "categorical": {
                        "buckets": [
                            {"value": value, "count": count}
                            for value, count in sorted(
                                counts.items(), key=lambda kv: (-kv[1], kv[0])
                            )
                        ]
                    }
                },
            },
        }
