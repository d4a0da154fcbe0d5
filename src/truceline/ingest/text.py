"""Free-text reports (``truceline ingest --format text``): each report becomes the observations it describes.

Two layouts, told apart by the first non-blank character:

* JSON Lines (or a JSON array) of report objects, the body of ``POST /api/v1/reports/text``::

      {"text": "...", "published_at": "2025-08-20T18:00:00Z", "source": {"id": "dpa", "type": "osint", "org": "PRESS"}}

* a plain text file holding one report: ``Key: value`` header lines, a blank line, then the text::

      Published-At: 2025-08-20T18:00:00+02:00
      Source-Id: dpa
      Org: PRESS
      Source-Type: osint          (optional: osint or official)
      Language: de                (optional)
      Releasable-To: PUBLIC       (optional, comma-separated)
      URL: https://...            (optional)

      Bei Angriffen auf ...

A report that cannot be read (missing publication time, naive time, unknown source type) is one rejection
naming the field; a report in which nothing happened yields no record at all.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson
from pydantic import ValidationError

from truceline.domain.strict import is_ascii_digits
from truceline.ingest.records import FormatError, Record, Rejection
from truceline.text.reports import ReportError, ReportIn, extract

HEADER_FIELDS = {
    "published-at": "published_at",
    "published": "published_at",
    "source-id": "source.id",
    "source": "source.id",
    "source-type": "source.type",
    "org": "source.org",
    "language": "language",
    "releasable-to": "releasable_to",
    "url": "url",
    "reliability": "reliability",
    "credibility": "credibility",
}


def _records_of(doc: Any, where: str) -> Iterator[Record | Rejection]:
    if not isinstance(doc, dict):
        yield Rejection(where, "(report)", f"expected a report object, got {type(doc).__name__}")
        return
    try:
        report = ReportIn.model_validate(doc).to_report()
    except ValidationError as exc:
        for error in exc.errors(include_url=False):
            field = ".".join(str(p) for p in error["loc"]) or "(report)"
            yield Rejection(where, field, error["msg"])
        return
    except ReportError as exc:
        yield Rejection(where, "(report)", str(exc))
        return
    for n, record in enumerate(extract(report).records(), start=1):
        yield Record(f"{where}, observation {n}", record)


def _header_report(text: str) -> dict[str, Any]:
    head, sep, body = text.replace("\r\n", "\n").partition("\n\n")
    if not sep:
        raise FormatError("a plain-text report needs header lines (Published-At, Source-Id, Org), a blank line, then the text")
    doc: dict[str, Any] = {"source": {}}
    for number, line in enumerate(head.splitlines(), start=1):
        key, colon, value = line.partition(":")
        name = HEADER_FIELDS.get(key.strip().casefold())
        if not colon or name is None:
            raise FormatError(f"header line {number}: expected 'Key: value' with a key among {', '.join(sorted(HEADER_FIELDS))}, got {line[:80]!r}")
        value = value.strip()
        if name.startswith("source."):
            doc["source"][name.split(".", 1)[1]] = value
        elif name == "releasable_to":
            doc[name] = [v.strip() for v in value.split(",") if v.strip()]
        elif name == "credibility":
            # Anything but ASCII digits goes to validation as text, which refuses it naming the field.
            doc[name] = int(value) if is_ascii_digits(value) else value
        else:
            doc[name] = value
    doc["text"] = body
    return doc


def decode_text(data: bytes) -> Iterator[Record | Rejection]:
    """Observation records of the reports in ``data`` (UTF-8; JSON Lines, JSON array, or one headed text)."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise FormatError(f"text report is not UTF-8: byte {exc.start} is {data[exc.start]:#04x}") from exc
    stripped = text.lstrip()
    if stripped.startswith("["):
        try:
            docs = orjson.loads(stripped)
        except orjson.JSONDecodeError as exc:
            raise FormatError(f"malformed JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from exc
        for i, doc in enumerate(docs):
            yield from _records_of(doc, f"report {i}")
        return
    if stripped.startswith("{"):
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                doc = orjson.loads(line)
            except orjson.JSONDecodeError as exc:
                yield Rejection(f"line {number}", "(report)", f"malformed JSON at column {exc.colno}: {exc.msg}")
                continue
            yield from _records_of(doc, f"line {number}")
        return
    yield from _records_of(_header_report(text), "report")
