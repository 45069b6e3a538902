"""The HTML report shows the verdict, every violation and a plot per feature."""

from __future__ import annotations

import html
import re
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from monitoring.analysis import analyze
from monitoring.report import write_analysis_report
from tests.monitoring.helpers import write_csv


def test_report_lists_each_violation_and_plots_each_feature(
    baseline_dir: Path, traffic: pa.Table, tmp_path: Path
) -> None:
    index = traffic.schema.get_field_index("monthly_charges")
    drifted = traffic.set_column(
        index, "monthly_charges", pc.add(traffic.column("monthly_charges"), 25.0)
    )
    regions = drifted.column("region").to_pylist()
    regions[::40] = ["antarctica"] * len(regions[::40])
    drifted = drifted.set_column(
        drifted.schema.get_field_index("region"), "region", pa.array(regions)
    )
    result = analyze(baseline_dir, tmp_path / "out", data=write_csv(drifted, tmp_path / "c.csv"))
    assert len(result.violations) == 2

    page = write_analysis_report(result, tmp_path / "out" / "report.html").read_text()
    assert "2 violation(s) found" in page
    table = page[
        page.index('id="violations"') : page.index("</table>", page.index('id="violations"'))
    ]
    for violation in result.violations:
        assert violation.description in html.unescape(table)
        assert f"<td>{violation.constraint_check_type}</td>" in table
    plots = re.findall(
        r'<figure id="plot-([^"]+)"><img alt="[^"]*" src="data:image/png;base64,([A-Za-z0-9+/=]{200,})"',
        page,
    )
    assert sorted(name for name, _ in plots) == sorted(traffic.column_names)


def test_clean_report_says_so(baseline_dir: Path, traffic: pa.Table, tmp_path: Path) -> None:
    result = analyze(
        baseline_dir, tmp_path / "out", data=write_csv(traffic.slice(0, 500), tmp_path / "c.csv")
    )
    page = write_analysis_report(result, tmp_path / "report.html").read_text()
    assert "No violations" in page
