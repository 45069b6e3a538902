"""Profile a dataset file (CSV with or without header, or parquet) in bounded memory.

CSV is streamed by Arrow's multi-threaded reader in large blocks with types inferred from the
first block. When a later block does not fit (a text value in a column that looked numeric),
the read restarts with that column read as text, which the profiler then classifies value by
value; every column costs at most one restart, and the common all-clean file is parsed once.
Headerless CSV columns are named ``_c0, _c1, ...`` like the analyzer's, unless names are given.
"""

from __future__ import annotations

import csv
import os
import re
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from monitoring.errors import MonitoringInputError
from monitoring.profile import ColumnProfile

# 4 MB blocks: a few blocks are in flight at once, so the block size sets the memory
# ceiling (~20-35 MB of Arrow buffers whatever the file size), and 4 MB is still large
# enough that per-batch Python overhead stays small.
BLOCK_BYTES = 4 << 20
_BAD_COLUMN = re.compile(r"CSV column #(\d+)")


@dataclass
class DatasetProfile:
    """Per-column profiles in file order, and the number of rows read."""

    columns: dict[str, ColumnProfile]
    rows: int


def profile_dataset(
    path: Path,
    *,
    header: bool = True,
    names: Sequence[str] | None = None,
    text: Sequence[str] = (),
) -> DatasetProfile:
    """Read ``path`` once (CSV restarts at most once per mistyped column) and profile it.

    Columns named in ``text`` are read as text whatever they look like: a baseline String
    feature must be compared value by value with its domain, even when today's values all
    happen to be numbers.
    """
    path = Path(path)
    if not path.is_file():
        raise MonitoringInputError(f"data file not found: {path}")
    if path.suffix.lower() in (".parquet", ".pq"):
        return _profile_batches(_parquet_batches(path))
    text_columns: set[int] = set()
    if text:
        forced = set(text)
        text_columns = {i for i, n in enumerate(_column_names(path, header, names)) if n in forced}
    while True:
        try:
            return _profile_batches(_csv_batches(path, header, names, text_columns))
        except pa.ArrowInvalid as error:
            match = _BAD_COLUMN.search(str(error))
            if match is None or int(match.group(1)) in text_columns:
                raise MonitoringInputError(f"cannot parse {path} as CSV: {error}") from None
            text_columns.add(int(match.group(1)))


def profile_table(table: pa.Table) -> DatasetProfile:
    """Profile an in-memory Arrow table (what the dataset readers produce, minus the parsing)."""
    return _profile_batches(iter(table.to_batches()))


def _profile_batches(batches: Iterator[pa.RecordBatch]) -> DatasetProfile:
    """Columns of a batch are profiled on a thread each: Arrow and numpy release the GIL, so
    one column's text kernels overlap another's sketch updates (the sketch binding holds it)."""
    columns: dict[str, ColumnProfile] = {}
    rows = 0
    with ThreadPoolExecutor(max_workers=max(1, min(4, os.cpu_count() or 1))) as pool:
        for batch in batches:
            rows += batch.num_rows
            work = []
            for name, array in zip(batch.schema.names, batch.columns, strict=True):
                profile = columns.get(name)
                if profile is None:
                    profile = columns[name] = ColumnProfile(name)
                work.append(pool.submit(profile.update, array))
            for done in work:
                done.result()
    return DatasetProfile(columns=columns, rows=rows)


def _parquet_batches(path: Path) -> Iterator[pa.RecordBatch]:
    try:
        file = pq.ParquetFile(path)
    except (pa.ArrowInvalid, OSError) as error:
        raise MonitoringInputError(f"cannot read {path} as parquet: {error}") from None
    yield from file.iter_batches(batch_size=1 << 18)


def _csv_batches(
    path: Path, header: bool, names: Sequence[str] | None, text_columns: set[int]
) -> Iterator[pa.RecordBatch]:
    column_names = _column_names(path, header, names)
    read = pa_csv.ReadOptions(
        block_size=BLOCK_BYTES, column_names=column_names, skip_rows=1 if header else 0
    )
    convert = pa_csv.ConvertOptions(
        null_values=[""],
        strings_can_be_null=True,
        column_types={column_names[i]: pa.string() for i in text_columns if i < len(column_names)},
    )
    # A Python file object, not the path: given a path, Arrow's reader reads ahead as fast as
    # the disk allows and buffered the whole file (133 MB of 133) while we profiled; through
    # a Python file it stays within a few blocks.
    with path.open("rb") as stream:
        try:
            reader = pa_csv.open_csv(stream, read_options=read, convert_options=convert)
        except pa.ArrowInvalid as error:
            if _BAD_COLUMN.search(str(error)):
                raise
            raise MonitoringInputError(f"cannot parse {path} as CSV: {error}") from None
        # Types Arrow may infer that the analyzer reads as text (booleans, dates): profile as text.
        odd = [
            i
            for i, f in enumerate(reader.schema)
            if not (pa.types.is_integer(f.type) or pa.types.is_floating(f.type))
            and not (pa.types.is_string(f.type) or pa.types.is_null(f.type))
            and i not in text_columns
        ]
        if odd:
            raise pa.ArrowInvalid(f"CSV column #{odd[0]}: read as text")
        yield from reader


def _column_names(path: Path, header: bool, names: Sequence[str] | None) -> list[str]:
    try:
        with path.open("rb") as stream:
            first = stream.readline().decode("utf-8-sig").rstrip("\r\n")
    except (OSError, UnicodeDecodeError) as error:
        raise MonitoringInputError(f"cannot read {path}: {error}") from None
    if not first.strip():
        raise MonitoringInputError(f"{path} is empty: no records to analyse")
    fields = next(csv.reader([first]))
    if header:
        return [name.strip() for name in fields]
    given = list(names or [])
    return [given[i] if i < len(given) else f"_c{i}" for i in range(len(fields))]
