"""Byte-deterministic tar.gz packing and safe unpacking.

Why deterministic: the sourcedir tarball is a CDK asset (content-addressed), and model
artifacts are compared across runs; the same files must give the same bytes, so entries are
sorted and every timestamp, owner and gzip header field that varies between builds is fixed.
"""

from __future__ import annotations

import gzip
import io
import os
import tarfile
from pathlib import Path

_EXECUTABLE_BITS = 0o111


def pack_directory(source: Path, dest_file: Path) -> Path:
    """Pack every file under ``source`` (paths relative to it) into ``dest_file`` as tar.gz."""
    files = sorted(
        (path for path in source.rglob("*") if path.is_file()),
        key=lambda path: path.relative_to(source).as_posix(),
    )
    return pack_files({path.relative_to(source).as_posix(): path for path in files}, dest_file)


def pack_files(members: dict[str, Path], dest_file: Path) -> Path:
    """Pack ``{archive name: file}`` into ``dest_file``; same contents give the same bytes."""
    dest_file.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for name in sorted(members):
            path = members[name]
            data = path.read_bytes()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mtime = 0
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            executable = os.stat(path).st_mode & _EXECUTABLE_BITS
            info.mode = 0o755 if executable else 0o644
            tar.addfile(info, io.BytesIO(data))
    # One partial file per process: two processes packing the same destination at once (the
    # CDK app synthesized by two test workers) must not write into one file; each rename is
    # atomic, so a reader sees one whole archive or the other, and both have the same bytes.
    partial = dest_file.with_name(f".{dest_file.name}.{os.getpid()}.partial")
    with (
        partial.open("wb") as raw,
        gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=6) as gz,
    ):
        gz.write(buffer.getvalue())
    partial.replace(dest_file)
    return dest_file


def unpack(archive: Path, dest_dir: Path) -> Path:
    """Extract a tar(.gz) into ``dest_dir``, refusing absolute paths, links out and devices."""
    dest_dir.mkdir(parents=True, exist_ok=True)
    with tarfile.open(archive, mode="r:*") as tar:
        tar.extractall(dest_dir, filter="data")
    return dest_dir
