"""Baselining and analysis stay off pandas: importing it costs seconds per CLI call here."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.monitoring.helpers import csv_capture, features_table, hour_key, write_csv, write_jsonl


def test_baseline_and_capture_analysis_never_import_pandas(tmp_path: Path) -> None:
    write_csv(features_table(500, seed=1), tmp_path / "d.csv")
    write_jsonl(tmp_path / "capture" / hour_key("e", 10), csv_capture(features_table(50, seed=2)))
    script = (
        "import sys\n"
        "from pathlib import Path\n"
        "from monitoring.baseline import write_baseline\n"
        "from monitoring.analysis import analyze\n"
        f"root = Path({str(tmp_path)!r})\n"
        "write_baseline(root / 'd.csv', root / 'b')\n"
        "analyze(root / 'b', root / 'o', capture=root / 'capture')\n"
        "analyze(root / 'b', root / 'o2', data=root / 'd.csv')\n"
        "print('pandas' in sys.modules)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=False, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"
