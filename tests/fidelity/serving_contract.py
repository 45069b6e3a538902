"""The serving contract table: requests, what an endpoint answers, and the table in the docs.

Each ``Probe`` is one request (good, bad or odd: content types, accept values, charsets,
empty, huge, NaN/Infinity, unicode, JSON shapes, JSON lines, CSV with a header). An answer is
reduced to what a caller's code depends on, its ``Signature``: status, full Content-Type
(charset included), the kind of body (json, jsonlines, csv, html, text, empty), and the two
headers the handlers add (unseen categories, echoed custom attributes).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from mlops.core.media import CSV, JSON, JSONLINES
from tests.serving.conftest import http_request
from tests.serving.modelkit import FEATURES

BEGIN = "<!-- serving-contract:begin -->"
END = "<!-- serving-contract:end -->"
UNSEEN = "x-mlops-unseen-categories"
ATTRIBUTES = "x-amzn-sagemaker-custom-attributes"
_HUGE_BYTES = 5_500_000  # under the 6 MB that SageMaker lets reach a container
C, J, L = CSV, JSON, JSONLINES  # short, so that the table below reads as one


@dataclass(frozen=True)
class Probe:
    name: str
    body: bytes = b""
    content_type: str | None = None
    accept: str | None = None
    method: str = "POST"
    path: str = "/invocations"
    extra: dict[str, str] = field(default_factory=dict)

    def headers(self) -> dict[str, str]:
        headers = dict(self.extra)
        if self.content_type is not None:
            headers["Content-Type"] = self.content_type
        if self.accept is not None:
            headers["Accept"] = self.accept
        return headers

    def request(self) -> str:
        """The request as the table shows it."""
        if self.path != "/invocations" or self.method != "POST":
            return f"`{self.method} {self.path}`"
        shown = [f"CT `{self.content_type}`" if self.content_type is not None else "no CT"]
        if self.accept is not None:
            shown.append(f"Accept `{self.accept}`")
        shown += [f"`{name}`" for name in self.extra]
        return " · ".join(shown)


@dataclass(frozen=True)
class Signature:
    status: int
    content_type: str
    kind: str
    unseen: str | None
    attributes: str | None

    def cell(self) -> str:
        parts = [
            str(self.status),
            f"`{self.content_type}`" if self.content_type else "—",
            self.kind,
        ]
        if self.unseen not in (None, "0"):
            parts.append(f"unseen {self.unseen}")
        if self.attributes is not None:
            parts.append("attributes echoed")
        return " · ".join(parts)


def observe(url: str, probe: Probe) -> Signature:
    answer = http_request(url, probe.method, probe.path, probe.body, probe.headers())
    return Signature(
        status=answer.status,
        content_type=answer.headers.get("content-type", ""),
        kind=body_kind(answer.body),
        unseen=answer.headers.get(UNSEEN),
        attributes=answer.headers.get(ATTRIBUTES),
    )


def observe_runtime(url: str, endpoint_name: str, probe: Probe) -> str:
    """The runtime route's answer to the same request, as a table cell."""
    path = f"/endpoints/{endpoint_name}/invocations"
    answer = http_request(url, "POST", path, probe.body, probe.headers())
    if answer.status == 424 and answer.headers.get("x-amzn-errortype") == "ModelError":
        original = json.loads(answer.body)["OriginalStatusCode"]
        return f"424 ModelError ← {original}"
    cell = f"{answer.status} · `{answer.headers.get('content-type', '')}`"
    if ATTRIBUTES in answer.headers:
        cell += " · attributes returned"
    return cell


def expected_runtime(real: Signature) -> str:
    """What sagemaker-runtime makes of the container's answer: the body, Content-Type and the
    custom attributes the container set on success, ``ModelError`` (424) carrying the
    container's status otherwise."""
    if real.status >= 400:
        return f"424 ModelError ← {real.status}"
    cell = f"{real.status} · `{real.content_type}`"
    if real.attributes is not None:
        cell += " · attributes returned"
    return cell


def body_kind(body: bytes) -> str:
    text = body.decode("utf-8", errors="replace")
    if not text.strip():
        return "empty"
    if text.lstrip().lower().startswith(("<!doctype html", "<html")):
        return "html"
    if _is_json(text):
        return "json"
    lines = [line for line in text.splitlines() if line.strip()]
    if all(_is_json_document(line) for line in lines):
        return "jsonlines"
    if all("," in line for line in lines) or all(_is_number(line) for line in lines):
        return "csv"  # a regression model's CSV answer is one column of numbers
    return "text"


def _is_json_document(text: str) -> bool:
    """A JSON object or array (a JSON lines record); a bare number is a CSV cell too."""
    try:
        return isinstance(json.loads(text), dict | list)
    except ValueError:
        return False


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _is_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


def probes(rows: list[list[str]]) -> list[Probe]:
    """The request table, built from raw feature rows (strings, ``""`` = missing)."""
    row = rows[0]
    record = dict(zip(FEATURES, row, strict=True))
    contract = FEATURES.index("contract")

    def csv(*lines: list[str]) -> bytes:
        return ("\n".join(",".join(line) for line in lines) + "\n").encode()

    def changed(**values: str) -> list[str]:
        return [values.get(name, value) for name, value in record.items()]

    def json_body(document: object) -> bytes:
        return json.dumps(document).encode()

    batch = [list(rows[i % len(rows)]) for i in range(1000)]
    batch[417][contract] = "Three year"
    line = csv(row)
    huge = line * (_HUGE_BYTES // len(line))
    bad_utf8 = ",".join(changed(region="nor")).encode() + b"\xff\n"
    typed: dict[str, object] = {
        name: (float(value) if value and index < contract else (value or None))
        for index, (name, value) in enumerate(record.items())
    }
    return [
        Probe("health check", method="GET", path="/ping"),
        Probe("health check, wrong method", method="POST", path="/ping"),
        Probe("invocations, wrong method", method="GET", path="/invocations"),
        Probe("CSV, one row", csv(row), C, J),
        Probe("CSV, no Accept", csv(row), C),
        Probe("CSV, Accept */*", csv(row), C, "*/*"),
        Probe("CSV, 10 rows, CSV answer", csv(*rows[:10]), C, C),
        Probe("CSV, 3 rows, JSON lines answer", csv(*rows[:3]), C, L),
        Probe("CSV with charset", csv(row), "text/csv; charset=utf-8", J),
        Probe("CSV, upper-case type", csv(row), "TEXT/CSV", J),
        Probe("CSV, CRLF line ends", line.replace(b"\n", b"\r\n") * 2, C, J),
        Probe("CSV, quoted fields", ",".join(f'" {v} "' for v in row).encode(), C, J),
        Probe("CSV, missing values", csv(changed(age="", contract="", region="")), C, J),
        Probe("CSV with a header row", csv(list(FEATURES), row), C, J),
        Probe("CSV, wrong width", b"45,12,70.5\n", C, J),
        Probe("CSV, `forty` in a numeric column", csv(changed(age="forty")), C, J),
        Probe("CSV, `nan` in a numeric column", csv(changed(age="nan")), C, J),
        Probe("CSV, `Infinity` in a numeric column", csv(changed(age="Infinity")), C, J),
        Probe("CSV, empty body", b"", C, J),
        Probe("CSV, only blank lines", b" \n\n", C, J),
        Probe("CSV, unseen category", csv(changed(contract="Three year")), C, J),
        Probe("CSV, unseen unicode category", csv(changed(region="nörth")), C, J),
        Probe("CSV, invalid UTF-8 (exact `text/csv`: decoded with replacement)", bad_utf8, C, J),
        Probe("CSV, invalid UTF-8 (with charset: bytes)", bad_utf8, "text/csv; charset=utf-8", J),
        Probe("CSV, 1000 rows, one unseen category", csv(*batch), C, C),
        Probe(f"CSV, {len(huge) / 1e6:.1f} MB", huge, C, J),
        Probe("JSON instances as objects", json_body({"instances": [record] * 2}), J, J),
        Probe("JSON instances as arrays", json_body({"instances": rows[:2]}), J, J),
        Probe("JSON bare list", json_body([record]), J, J),
        Probe("JSON numbers and nulls", json_body({"instances": [typed]}), J, J),
        Probe("JSON with charset", json_body([record]), "application/json; charset=utf-8", J),
        Probe("JSON `NaN` literal", json_body([dict(record, age=float("nan"))]), J, J),
        Probe("JSON `Infinity` literal", json_body([dict(record, age=float("inf"))]), J, J),
        Probe("JSON, invalid", b'{"instances": [', J, J),
        Probe("JSON object without instances", json_body(record), J, J),
        Probe("JSON, empty instances", b'{"instances": []}', J, J),
        Probe("JSON, boolean value", json_body([dict(record, senior_citizen=True)]), J, J),
        Probe("JSON, missing feature", json_body([{"age": row[0]}]), J, J),
        Probe("JSON, nested value", json_body([dict(record, region={"a": 1})]), J, J),
        Probe("JSON scalar document", b"42", J, J),
        Probe("no Content-Type, JSON body", json_body({"instances": [record]})),
        Probe("no Content-Type, CSV body", csv(row)),
        Probe("JSON lines", "\n".join(json.dumps(r) for r in rows[:3]).encode(), L, L),
        Probe("JSON lines, `x-jsonlines` alias", json_body(record), "application/x-jsonlines", J),
        Probe("JSON lines, bad second line", json_body(record) + b"\n{oops", L, J),
        Probe("unsupported Content-Type", b"\x93NUMPY", "application/x-npy", J),
        Probe("`text/plain` Content-Type", csv(row), "text/plain", J),
        Probe("unsupported Accept", csv(row), C, "image/png"),
        Probe("Accept list, first supported wins", csv(row), C, "image/png, text/csv"),
        Probe("Accept `text/*`", csv(row), C, "text/*"),
        Probe("Accept with parameters", csv(row), C, "application/json; charset=utf-8"),
        Probe(
            "custom attributes",
            csv(row),
            C,
            J,
            extra={"X-Amzn-SageMaker-Custom-Attributes": "trace-id=7f3a"},
        ),
        Probe(
            "custom attributes on a refused request",
            csv(changed(age="forty")),
            C,
            J,
            extra={"X-Amzn-SageMaker-Custom-Attributes": "trace-id=7f3b"},
        ),
    ]


def answer_probes(kind: str, rows: list[list[str]]) -> list[Probe]:
    """The answers of a multiclass or a regression model, in each response type, and a
    refused request."""

    def csv(*lines: list[str]) -> bytes:
        return ("\n".join(",".join(line) for line in lines) + "\n").encode()

    records = [dict(zip(FEATURES, row, strict=True)) for row in rows[:2]]
    age = FEATURES.index("age")
    bad = [*rows[0][:age], "forty", *rows[0][age + 1 :]]
    return [
        Probe(f"{kind} model: CSV, 3 rows, JSON answer", csv(*rows[:3]), C, J),
        Probe(f"{kind} model: CSV, 3 rows, CSV answer", csv(*rows[:3]), C, C),
        Probe(
            f"{kind} model: JSON instances, JSON lines answer", json.dumps(records).encode(), J, L
        ),
        Probe(f"{kind} model: CSV, `forty` in a numeric column", csv(bad), C, J),
    ]


def render(rows: list[tuple[Probe, Signature, Signature, str | None]]) -> str:
    """The markdown table between the markers (no timestamps: it must be reproducible)."""
    lines = [
        "| # | request | headers | real container | local `/invocations` | local runtime route |",
        "|---|---|---|---|---|---|",
    ]
    for number, (probe, real, local, runtime) in enumerate(rows, start=1):
        lines.append(
            f"| {number} | {probe.name} | {probe.request()} | {real.cell()} | {local.cell()} "
            f"| {runtime or '—'} |"
        )
    return "\n".join(lines)


def update_doc(doc: Path, table: str) -> None:
    text = doc.read_text(encoding="utf-8")
    before, rest = text.split(BEGIN, 1)
    _, after = rest.split(END, 1)
    doc.write_text(f"{before}{BEGIN}\n{table}\n{END}{after}", encoding="utf-8")


def documented_table(doc: Path) -> str:
    match = re.search(re.escape(BEGIN) + r"\n(.*?)\n?" + re.escape(END), doc.read_text(), re.S)
    return match.group(1).strip() if match else ""
