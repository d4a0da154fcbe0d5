"""Property-based fuzzing of every file format through the whole of file ingest (decode, validate, store).

A valid document of each format is mutated: JSON values replaced by values at the edges of their types
(1e308, -0.0, 2**64, NaN and Infinity spelled in JSON, deep nesting, huge strings, lone surrogates, times at
the calendar's ends with offsets of ±23:59, leap seconds), CSV and XML cells replaced by the same, and bytes
of binary and line formats changed, cut or inserted. Whatever comes out, ingest must give records and
rejections or refuse the file with :class:`FormatError`, and nothing else. Budgets are small and the examples
derandomized so the suite is repeatable; docs/formats.md#bad-input-and-fuzzing has the long exploratory runs and
what they found.
"""

from __future__ import annotations

import copy
import json
import os
import re
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.conftest import native

from truceline.ingest.pipeline import IngestSummary, ingest_records, open_records
from truceline.ingest.records import FormatError
from truceline.service.track_intake import TrackOptions, ingest_track_file
from truceline.store.sqlite import SqliteStore, open_store

TESTS = Path(__file__).parent
#: The suite's budget: 40 derandomized examples per test. ``TRUCELINE_FUZZ_EXAMPLES=N`` runs N random ones instead
#: (the exploratory runs of docs/formats.md#bad-input-and-fuzzing; pytest's ``--hypothesis-seed`` repeats one).
EXPLORE = int(os.environ.get("TRUCELINE_FUZZ_EXAMPLES", "0"))
FUZZ = settings(
    max_examples=EXPLORE or 40, deadline=None, derandomize=not EXPLORE, database=None, suppress_health_check=list(HealthCheck)
)

JSON_EDGES = [
    "1e308", "-1e308", "1e999", "-0.0", "18446744073709551616", "-9223372036854775809", "1e-400", "NaN", "Infinity",
    "-Infinity", "9" * 4000, "null", "true", "[]", "{}", "[" * 3000 + "]" * 3000, '""', '"' + "x" * 70000 + '"',
    '"\\ud800"', '"\\u0000"', '"\\ufeff2023-04-02T03:15:00Z"', '"0001-01-01T00:30:00+01:00"', '"9999-12-31T23:30:00-01:00"',
    '"9999-12-31T23:59:60Z"', '"2016-12-31T23:59:60Z"', '"0001-01-01T00:00:00+23:59"', '"9999-12-31T23:59:59-23:59"',
    '"2023-04-02T03:15:00+24:00"', '"2023-04-02T03:15:00"', '"2023-02-29T00:00:00Z"', '"2023-04-02T03:15:00.123456789Z"',
    '"0001-01-01T00:00:00Z/9999-12-31T23:59:59Z"', '"2023-04-02T03:16:00Z/2023-04-02T03:15:00Z"', '"48.1"', '"٣"',
    "91", "-181", "-1", "0.5", "7", "[1e308,1e308]", "[37.7]", "[37.7,48.1,1e999]", "[null,null]",
]  # fmt: skip
CELL_EDGES = [
    "", "nan", "inf", "-inf", "1e308", "1e309", "-0.0", "18446744073709551616", "9" * 400, "0x10", "1_000", "٣", "91", "-181",
    "2023-02-29", "0001-01-01", "9999-12-31", "2023-13-01", "2400", "2360", "x" * 10000, "\x00", "\ufeff", '"', "a\nb", "\r",
    "0001-01-01T00:30:00+01:00", "9999-12-31T23:30:00-01:00", "23:59:60.000", "0000/01/01", "9999/12/31", "2024/02/30",
]  # fmt: skip


def _thing_datastream() -> dict[str, Any]:
    thing = {"name": "array", "Locations": [{"location": {"type": "Point", "coordinates": [37.7, 48.1]}}]}
    return {"name": "blasts", "properties": {"org": "UA", "source_type": "acoustic"}, "ObservedProperty": {"name": "explosion"},
            "Sensor": {"name": "array"}, "Thing": thing}  # fmt: skip


def _cot_event(uid: str) -> str:
    t = "2023-04-02T03:15:00.000Z"
    return (f'<event version="2.0" uid="{uid}" type="a-h-G-E-W" how="h-e" time="{t}" start="{t}" stale="2023-04-02T03:20:00.000Z">'
            '<point lat="48.105" lon="37.712" hae="160.5" ce="40" le="15"/><detail><remarks>x</remarks></detail></event>')  # fmt: skip


FEATURE = {"type": "Feature", "geometry": {"type": "Point", "coordinates": [37.712, 48.105]},
           "properties": {k: v for k, v in native().items() if k != "location"} | {"cep_m": 150}}  # fmt: skip
JSON_SAMPLES: dict[str, Any] = {
    "json": [native(id="a"), native(id="b", time="2023-04-02T03:15:00+02:00")],
    "jsonl": native(id="l"),
    "geojson": {"type": "FeatureCollection", "features": [FEATURE]},
    "sensorthings": {"value": [{"@iot.id": 1, "phenomenonTime": "2023-04-02T03:15:00Z", "result": 1, "Datastream": _thing_datastream()},
                               {"@iot.id": 2, "phenomenonTime": "2023-04-02T03:15:00Z/2023-04-02T03:16:00Z", "result": 1,
                                "Datastream": _thing_datastream()}]},
}  # fmt: skip
CSV_SAMPLES = {
    "firms": "latitude,longitude,bright_ti4,scan,track,acq_date,acq_time,satellite,instrument,confidence,version,bright_ti5,frp,daynight\n"
    "48.1234,37.5,330.5,0.39,0.36,2023-04-01,0113,N,VIIRS,n,2.0NRT,290.1,4.5,N\n47.9,36.25,301.2,0.5,0.4,2023-04-01,1142,N,VIIRS,h,2.0NRT,285.3,12.25,D\n",
    "acled": "event_id_cnty,event_date,event_type,sub_event_type,actor1,actor2,admin1,admin2,admin3,location,latitude,longitude,"
    "geo_precision,time_precision,source,notes,fatalities\nUKR1,2023-04-02,Explosions/Remote violence,Shelling/artillery/missile attack,"
    "Military Forces of Russia (2000-),Civilians (Ukraine),Donetsk,Pokrovskyi,Avdiivska,Avdiivka,48.1394,37.7497,1,1,Ukrinform,x,2\n",
    "sbs": "MSG,3,1,1,508035,1,2024/06/01,15:30:00.500,2024/06/01,15:30:00.500,,36000,,,48.50000,35.00000,,,0,,0,0\n"
    "MSG,4,1,1,508035,1,2024/06/01,15:30:01.500,2024/06/01,15:30:01.500,,,450,90,,,-1216,,,,,0\n",
}
BYTE_SAMPLES = {
    "klv": ((TESTS / "vectors/klv/flight.klv").read_bytes()[:1482], ".klv"),
    "ais": (b"!AIVDM,1,1,,B,15M67FC000G?ufbE`FepT@3n00Sa,0*5C\n\\c:1680405300*54\\!AIVDM,1,1,,B,403OtVAv>lba;o?Ia`E`4G?02H6k,0*44\n"
            b"!AIVDM,2,1,1,A,55?MbV02;H;s<HtKR20EHE:0@T4@Dn2222222216L961O5Gf0NSQEp6ClRp8,0*1C\n!AIVDM,2,2,1,A,88888888880,2*25\n", ".aivdm"),
    "modes-csv": (b'1457996400,"8D406B909945DE10000405999BE4","406B90",19\n1457996401,"8D406B9058B975870B738754F480","406B90",11\n', ".csv"),
    "avr": (b"@0000000000058D406B909945DE10000405999BE4;\n@000000B71B058D406B9058B975870B738754F480;\n", ".avr"),
    "beast": (b"\x1a3" + bytes(5) + b"\x05\x80" + bytes.fromhex("8D406B909945DE10000405999BE4") + b"\x1a2" + bytes(3) + b"\xb7\x1b\x05\x80"
              + bytes.fromhex("5D406B90C4D2A1"), ".beast"),
    "text": (b"Published-At: 2023-04-03T06:00:00+03:00\nSource-Id: s1\nOrg: PRESS\nCredibility: 2\nReleasable-To: PUBLIC\n\n"
             b"On 2 April 2023 at 03:15 shelling hit Avdiivka, Donetsk oblast; 3 wounded.\n", ".txt"),
}  # fmt: skip
TRACK_FORMATS = {"ais", "sbs", "avr", "beast", "modes-csv"}


@pytest.fixture(scope="module")
def fuzz_store(tmp_path_factory: pytest.TempPathFactory) -> Any:
    store = open_store(tmp_path_factory.mktemp("fuzz") / "data")
    yield store
    store.close()


def _ingest(store: SqliteStore, folder: Path, fmt: str, data: bytes, suffix: str) -> dict[str, Any] | None:
    """Ingest ``data`` as a file would be: its summary, or None when the file is refused with FormatError.
    Any other exception is a failure of the test."""
    path = folder / f"input{suffix}"
    path.write_bytes(data)
    try:
        if fmt in TRACK_FORMATS:
            options = TrackOptions(sbs_timezone="Europe/Kyiv", start_time=datetime(2016, 3, 14, 23, tzinfo=UTC))
            summary: dict[str, Any] = ingest_track_file(store, path, fmt, options).as_dict()
        else:
            detected, records, _, handle = open_records(path, fmt, org="UA")
            with handle:
                summary = ingest_records(store, records, IngestSummary(str(path), detected)).as_dict()
    except FormatError:
        return None
    orjson.dumps(summary)  # the summary a caller prints must be writable
    return summary


def test_every_unmutated_sample_is_ingested_whole(fuzz_store: SqliteStore, tmp_path: Path) -> None:
    """The fuzzers start from valid documents (else they would only ever test a refusal)."""
    samples = [(fmt, json.dumps(doc).encode(), SUFFIX[fmt]) for fmt, doc in JSON_SAMPLES.items()]
    samples += [(fmt, CSV_SAMPLES[fmt].encode(), SUFFIX[fmt]) for fmt in ("firms", "acled", "sbs")]
    samples += [("cot", _xml([]).encode(), ".cot"), *((fmt, data, suffix) for fmt, (data, suffix) in BYTE_SAMPLES.items())]
    for fmt, data, suffix in samples:
        summary = _ingest(fuzz_store, tmp_path, fmt, data, suffix)
        assert summary is not None and summary["rejected_count"] == 0, (fmt, summary)


def _paths(node: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [path]
    children = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
    for key, value in children:
        found += _paths(value, (*path, key))
    return found


def _replaced(doc: Any, picks: list[tuple[int, int]]) -> str:
    """``doc`` as JSON with the values at the picked paths replaced by raw JSON_EDGES text."""
    marked = copy.deepcopy(doc)
    for n, (p, _) in enumerate(picks):
        paths = _paths(marked)
        path = paths[p % len(paths)]
        if not path:
            marked = f"\x07{n}"
            continue
        parent = marked
        for key in path[:-1]:
            parent = parent[key]
        parent[path[-1]] = f"\x07{n}"
    text = json.dumps(marked)
    for n, (_, v) in enumerate(picks):
        text = text.replace(json.dumps(f"\x07{n}"), JSON_EDGES[v % len(JSON_EDGES)])
    return text


def _cells(text: str, picks: list[tuple[int, int, int]]) -> str:
    lines = text.splitlines()
    for line, cell, value in picks:
        cells = lines[line % len(lines)].split(",")
        cells[cell % len(cells)] = CELL_EDGES[value % len(CELL_EDGES)]
        lines[line % len(lines)] = ",".join(cells)
    return "\n".join(lines) + "\n"


def _xml(picks: list[tuple[int, int]]) -> str:
    text = '<?xml version="1.0"?>\n<events>' + _cot_event("A") + _cot_event("B") + "</events>"
    for spot, value in picks:
        spans = [m.span(1) for m in re.finditer(r'="([^"]*)"', text)] + [m.span(1) for m in re.finditer(r">([^<]+)<", text)]
        start, end = spans[spot % len(spans)]
        edge = CELL_EDGES[value % len(CELL_EDGES)].replace("&", "&amp;").replace("<", "&lt;").replace('"', "&quot;")
        text = text[:start] + edge + text[end:]
    return text


def _edited(sample: bytes, edits: list[tuple[int, int, int]]) -> bytes:
    """Bytes changed (0), cut (1), inserted (2) or the input truncated (3) at the edits' places."""
    data = bytearray(sample)
    for place, kind, value in edits:
        if not data:
            break
        at = place % len(data)
        if kind == 0:
            data[at] = value
        elif kind == 1:
            del data[at : at + 1 + value % 16]
        elif kind == 2:
            data[at:at] = bytes([value]) * (1 + value % 4)
        else:
            del data[at:]
    return bytes(data)


PICK = st.tuples(st.integers(0, 10**6), st.integers(0, 10**6))
EDIT = st.tuples(st.integers(0, 10**6), st.integers(0, 3), st.integers(0, 255))
SUFFIX = {"json": ".json", "jsonl": ".jsonl", "geojson": ".geojson", "sensorthings": ".json", "firms": ".csv", "acled": ".csv", "sbs": ".sbs", "cot": ".cot"}


@pytest.mark.parametrize("fmt", list(JSON_SAMPLES))
def test_json_formats_with_edge_values_give_records_rejections_or_format_error(fuzz_store: SqliteStore, tmp_path: Path, fmt: str) -> None:
    @FUZZ
    @given(st.lists(PICK, min_size=1, max_size=3), st.booleans())
    def check(picks: list[tuple[int, int]], auto: bool) -> None:
        text = _replaced(JSON_SAMPLES[fmt], picks)
        _ingest(fuzz_store, tmp_path, "auto" if auto and fmt != "jsonl" else fmt, text.encode("utf-8", "surrogatepass"), SUFFIX[fmt])

    check()


@pytest.mark.parametrize("fmt", ["firms", "acled", "sbs", "cot"])
def test_csv_and_xml_formats_with_edge_cells_give_records_rejections_or_format_error(fuzz_store: SqliteStore, tmp_path: Path, fmt: str) -> None:
    make: Callable[[list[tuple[int, int, int]]], str] = (
        (lambda picks: _xml([(a, b) for a, b, _ in picks])) if fmt == "cot" else (lambda picks: _cells(CSV_SAMPLES[fmt], picks))
    )

    @FUZZ
    @given(st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 10**6), st.integers(0, 10**6)), min_size=1, max_size=3))
    def check(picks: list[tuple[int, int, int]]) -> None:
        _ingest(fuzz_store, tmp_path, fmt, make(picks).encode("utf-8", "surrogatepass"), SUFFIX[fmt])

    check()


@pytest.mark.parametrize("fmt", list(BYTE_SAMPLES))
def test_byte_and_line_formats_changed_cut_or_truncated_give_records_rejections_or_format_error(
    fuzz_store: SqliteStore, tmp_path: Path, fmt: str
) -> None:
    sample, suffix = BYTE_SAMPLES[fmt]

    @FUZZ
    @given(st.lists(EDIT, min_size=1, max_size=6))
    def check(edits: list[tuple[int, int, int]]) -> None:
        _ingest(fuzz_store, tmp_path, fmt, _edited(sample, edits), suffix)

    check()
