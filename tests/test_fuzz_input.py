"""Bad input of every format gives records or precise refusals (or the format's own FormatError), never a crash.

Each test mutates a valid document of one format at the edges (numbers at the limits of their types, NaN and
Infinity, times at the calendar's ends, non-ASCII and control characters, truncation) and runs it through the
decoder and validation. Budgets are small and derandomized so the suite is repeatable; the long exploratory
runs and their budgets are in docs/testing.md. Each hole found is pinned by a plain regression test here too.
"""

from __future__ import annotations

from datetime import UTC, datetime

from truceline.ingest.ais import decode_ais

RECEIVED = datetime(2023, 4, 2, 3, 15, tzinfo=UTC)
AIS_TYPE_1 = b"!AIVDM,1,1,,B,15M67FC000G?ufbE`FepT@3n00Sa,0*5C"


def test_ais_line_with_non_ascii_bytes_is_refused_and_its_neighbours_kept() -> None:
    # A receiver prefix with UTF-8 bytes before the sentence raised UnicodeDecodeError and aborted the file.
    data = b"\xc3\xa1 " + AIS_TYPE_1 + b"\n" + AIS_TYPE_1 + b"\n"
    report = decode_ais(data, "feed.aivdm", received_at=RECEIVED)
    assert report.messages == 2 and len(report.points) == 1
    assert report.rejected == [(1, "not ASCII: byte 0 of the line is 0xc3 (NMEA 0183 is ASCII)")]
