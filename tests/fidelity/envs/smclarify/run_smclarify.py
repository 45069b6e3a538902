"""Runs smclarify's ``bias_report`` on the cases tests/fidelity/test_bias_reference.py writes.

Runs inside the isolated smclarify environment (never the project's): reads a JSON file of
cases ``{name: {"columns": {col: [values]}, "facet": [name, values], "label": [name, values],
"predicted": name | null, "group": name | null, "features": [names]}}`` and prints
``{name: {"pre": [facet reports], "post": [facet reports] | null}}`` as JSON.
"""

from __future__ import annotations

import json
import logging
import sys

import pandas as pd
from smclarify.bias import report

logging.disable(logging.CRITICAL)  # smclarify logs every failed metric with its traceback


def run_case(case: dict) -> dict:
    frame = pd.DataFrame(case["columns"])
    facet_name, facet_values = case["facet"]
    label_name, label_values = case["label"]
    keep = [facet_name, label_name, *case["features"]]
    if case["predicted"]:
        keep.append(case["predicted"])
    data = frame[keep]
    group = frame[case["group"]] if case["group"] else None
    facet = report.FacetColumn(facet_name, facet_values)
    label = report.LabelColumn(label_name, frame[label_name], label_values)
    result = {
        "pre": report.bias_report(
            data, facet, label, report.StageType.PRE_TRAINING, group_variable=group
        ),
        "post": None,
    }
    if case["predicted"]:
        predicted = report.LabelColumn(case["predicted"], frame[case["predicted"]], label_values)
        result["post"] = report.bias_report(
            data, facet, label, report.StageType.POST_TRAINING, predicted, group_variable=group
        )
    return result


def main() -> int:
    with open(sys.argv[1]) as handle:
        cases = json.load(handle)
    print(json.dumps({name: run_case(case) for name, case in cases.items()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
