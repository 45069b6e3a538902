"""Reading the small CSV tables a user hands the monitors (labels, predictions).

One reader so that every such file fails the same way: a missing file, an unreadable one and
an empty one are each one `MonitoringInputError` naming the file and what was expected.
"""

from __future__ import annotations

import csv
from pathlib import Path

from monitoring.errors import MonitoringInputError


def read_table(path: Path, *, kind: str, expected: str) -> tuple[list[str], list[list[str]]]:
    """The header (names stripped) and the non-blank rows of ``path``; ``kind`` names the file
    in errors ("labels file"), ``expected`` what it should hold ("labelled rows")."""
    try:
        with Path(path).open(newline="", encoding="utf-8") as handle:
            reader = csv.reader(handle)
            header = [name.strip() for name in next(reader, [])]
            rows = [row for row in reader if any(cell.strip() for cell in row)]
    except FileNotFoundError:
        raise MonitoringInputError(f"{kind} not found: {path}") from None
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise MonitoringInputError(f"cannot read {path} as CSV: {error}") from None
    if not header:
        raise MonitoringInputError(f"{path} is empty: expected a header and {expected}")
    return header, rows
