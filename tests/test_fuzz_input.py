"""Regression tests for the holes the fuzzers found: each input crashed a decoder, the CLI or the API (or was
silently coerced) and is now refused precisely, changing nothing, while its good neighbours are kept.

The fuzzers themselves are in tests/test_fuzz_formats.py; docs/formats.md#bad-input-and-fuzzing lists each
hole, its fix and the exploratory budgets run per format.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path

import orjson
import pytest
from tests.conftest import ApiClient
from typer.testing import CliRunner

from truceline.cli import app
from truceline.cli_text import app as geoparse_app
from truceline.ingest.acled import decode_acled_bytes
from truceline.ingest.ais import decode_ais
from truceline.ingest.firms import decode_firms_bytes
from truceline.ingest.firms_columns import decode_firms_columns_bytes
from truceline.ingest.geojson import decode_geojson
from truceline.ingest.native import loads_non_finite
from truceline.ingest.records import FormatError, Record, Rejection
from truceline.ingest.text import decode_text
from truceline.verify.agreement_loader import AgreementError, load_agreement_files

RECEIVED = datetime(2023, 4, 2, 3, 15, tzinfo=UTC)
AIS_TYPE_1 = b"!AIVDM,1,1,,B,15M67FC000G?ufbE`FepT@3n00Sa,0*5C"


def test_ais_line_with_non_ascii_bytes_is_refused_and_its_neighbours_kept() -> None:
    # A receiver prefix with UTF-8 bytes before the sentence raised UnicodeDecodeError and aborted the file.
    data = b"\xc3\xa1 " + AIS_TYPE_1 + b"\n" + AIS_TYPE_1 + b"\n"
    report = decode_ais(data, "feed.aivdm", received_at=RECEIVED)
    assert report.messages == 2 and len(report.points) == 1
    assert report.rejected == [(1, "not ASCII: byte 0 of the line is 0xc3 (NMEA 0183 is ASCII)")]


DEEP = b"[" * 3000 + b"]" * 3000


@pytest.mark.parametrize("validate_at", [None, RECEIVED])
def test_geojson_with_deep_nesting_in_the_type_is_malformed_json_not_a_recursion_error(validate_at: datetime | None) -> None:
    # msgspec's fast path raised RecursionError out of decode_geojson; the ordinary way refuses the nesting.
    data = b'{"type": ' + DEEP + b', "features": []}'
    with pytest.raises(FormatError, match="depth limit exceeded"):
        list(decode_geojson(data, validate_at))


def test_firms_header_with_a_stray_quote_is_refused_on_both_paths() -> None:
    # A plain split of the header finds acq_date, a CSV reader does not (the quote swallows the rest): both the
    # columnar and the row path raised KeyError or ValueError instead of refusing the file.
    data = b'latitude,longitude,",scan,acq_date\n48.1,",0.39,2023-04-01\n'
    for decode in (lambda: list(decode_firms_bytes(data)), lambda: list(decode_firms_columns_bytes(data, RECEIVED))):
        with pytest.raises(FormatError, match="no acq_date column"):
            decode()


@pytest.mark.parametrize(
    "fmt, name, content", [("geojson", "deep.json", b'{"type": ' + DEEP + b"}"), ("auto", "fires.csv", b'latitude,longitude,",acq_date\n1,"\n')]
)
def test_cli_ingest_refuses_such_files_with_exit_2_and_a_message(tmp_path: Path, fmt: str, name: str, content: bytes) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    result = CliRunner().invoke(app, ["ingest", "--data-dir", str(tmp_path / "d"), "--format", fmt, "--json", str(path)])
    assert result.exit_code == 2, result.output
    (file,) = json.loads(result.stdout)["files"]
    assert file["error"]


@pytest.mark.parametrize("body", [b'"\\ud800"', b'[{"id": "\\ud800"}]', b'{"attributes": {"\\udc00": 1}}'])
def test_http_batch_with_a_lone_surrogate_is_a_400_not_a_500(api: ApiClient, body: bytes) -> None:
    # orjson refuses the escape; the second reading (for NaN) took it, and echoing it back in the 422 crashed.
    response = api.client.post("/api/v1/observations", content=body, headers={**api.auth, "Content-Type": "application/json"})
    assert response.status_code == 400 and "surrogate" in response.json()["detail"]
    assert api.store.count_observations() == 0


def test_second_reading_refuses_lone_surrogates_but_reads_nan() -> None:
    assert math.isnan(loads_non_finite(b'{"lat": NaN, "note": "\\ud83d\\ude00"}')["lat"])
    with pytest.raises(ValueError, match="lone surrogate"):
        loads_non_finite(b'[{"a": ["\\ud800"]}]')


DEMO_AGREEMENT = resources.files("truceline.data.agreements").joinpath("isw-2023-03-04")


def _agreement_with(line: str) -> dict[str, bytes]:
    files = {p.name: p.read_bytes() for p in DEMO_AGREEMENT.iterdir() if p.name.endswith((".yaml", ".geojson"))}
    files["agreement.yaml"] = files["agreement.yaml"].replace(b"version: 1\n", line.encode() + b"\n", 1)
    return files


@pytest.mark.parametrize(
    "line, reason",
    [
        ("version: !!int 1e3", "int value '1e3' cannot be read"),
        ("version: !!float x", "float value 'x' cannot be read"),
        ("version: !!timestamp 2023-13-45", "timestamp value '2023-13-45' cannot be read"),
        ("version: !!bool maybe", "bool value 'maybe' cannot be read"),
        ("? [a, b]\n: 1\nversion: 1", "found a list as a key"),
    ],
)
def test_agreement_yaml_with_an_unreadable_tagged_scalar_or_key_is_refused_with_its_line(line: str, reason: str) -> None:
    # PyYAML's constructors raised ValueError, KeyError or TypeError (unhashable key) past the loader.
    with pytest.raises(AgreementError) as caught:
        load_agreement_files(_agreement_with(line))
    (problem,) = caught.value.as_dicts()
    assert problem["file"] == "agreement.yaml" and problem["where"].startswith("line 7,") and reason in problem["reason"]


def test_agreement_upload_with_such_yaml_is_a_422_and_nothing_is_in_force(api: ApiClient) -> None:
    files = {name: data.decode() for name, data in _agreement_with("version: !!int 1e3").items()}
    response = api.client.put("/api/v1/agreement", json={"files": files}, headers=api.auth)
    assert response.status_code == 422 and "cannot be read" in response.json()["problems"][0]["reason"]
    assert api.client.get("/api/v1/agreement", headers=api.auth).status_code == 404


@pytest.mark.parametrize("line", ['version: "\\ud800"', 'name: "x\\udc00y"', '"\\ud83d": 1\nversion: 1'])
def test_agreement_yaml_with_a_lone_surrogate_is_refused_with_its_line(line: str) -> None:
    with pytest.raises(AgreementError) as caught:
        load_agreement_files(_agreement_with(line))
    (problem,) = caught.value.as_dicts()
    assert problem["where"].startswith("line 7,") and "lone surrogate (U+D" in problem["reason"]


def test_agreement_upload_with_a_lone_surrogate_is_a_422_not_a_500(api: ApiClient) -> None:
    # Found by tests/test_fuzz_api.py at 200 examples: the refusal echoed the string and orjson could not encode it.
    files = {name: data.decode() for name, data in _agreement_with('version: "\\ud800"').items()}
    response = api.client.put("/api/v1/agreement", json={"files": files}, headers=api.auth)
    assert response.status_code == 422 and "lone surrogate" in response.json()["problems"][0]["reason"]
    assert api.client.get("/api/v1/agreement", headers=api.auth).status_code == 404


def test_geoparse_stdin_line_that_is_not_utf8_stops_with_exit_2_naming_it() -> None:
    # Bytes that are not UTF-8 were decoded as surrogates and silently dropped: "Kharkiv\xffAvdiivka" was
    # geoparsed as another text than the one given.
    result = CliRunner().invoke(geoparse_app, ["-"], input=b"Kyiv\nKharkiv \xff Avdiivka\nOdesa\n")
    assert result.exit_code == 2
    assert [orjson.loads(line)["places"][0]["name"] for line in result.stdout.splitlines()] == ["Kyiv"]
    assert "line 2 of standard input is not UTF-8 (byte 8 is 0xff)" in result.stderr


def test_geoparse_argument_with_bytes_that_are_not_utf8_is_refused() -> None:
    result = CliRunner().invoke(geoparse_app, ["--json", "Kharkiv \udcff Avdiivka"])  # how Linux hands over byte 0xff
    assert result.exit_code == 2 and "not UTF-8 (character 8 stands for byte 0xff)" in result.stderr


@pytest.mark.parametrize("credibility", ["٣", "²"])
def test_text_report_credibility_in_other_digits_is_refused_not_read_or_crashed(credibility: str) -> None:
    # str.isdigit() let "٣" through as credibility 3 (silently coerced) and "²" into int(), a ValueError.
    data = f"Published-At: 2023-04-03T06:00:00Z\nSource-Id: s1\nOrg: PRESS\nCredibility: {credibility}\n\nShelling of Avdiivka wounded 3.\n"
    (item,) = decode_text(data.encode())
    assert isinstance(item, Rejection) and item.field == "credibility"


HEADERS = "Published-At: 2023-04-03T06:00:00Z\nSource-Id: s1\nOrg: PRESS\n\n"


@pytest.mark.parametrize("count", ["¹", "9" * 5000])
def test_text_report_with_a_superscript_or_endless_number_is_read_without_it(count: str) -> None:
    # int("¹") and int() of more than 4,300 digits raised ValueError out of the event counter.
    items = list(decode_text(f"{HEADERS}Shelling of Avdiivka on Sunday: {count} wounded.\n".encode()))
    assert items and all(isinstance(item, Record) for item in items)
    assert all("injured" not in item.value.get("attributes", {}) for item in items if isinstance(item, Record))


ACLED_ROW = (
    "event_id_cnty,event_date,event_type,sub_event_type,actor1,actor2,admin1,admin2,admin3,location,latitude,longitude,geo_precision,"
    "time_precision,source,notes,fatalities\nUKR1,2023-04-02,Explosions/Remote violence,Shelling/artillery/missile attack,R,C,Donetsk,"
    "P,A,Avdiivka,48.1394,37.7497,1,1,U,x,{}\n"
)


@pytest.mark.parametrize("fatalities", ["٣", "²"])
def test_acled_fatalities_in_other_digits_are_refused(fatalities: str) -> None:
    # "٣" passed str.isdigit() and int() read it as 3; "²" passed it too and int() raised out of the decoder.
    (item,) = decode_acled_bytes(ACLED_ROW.format(fatalities).encode())
    assert isinstance(item, Rejection) and item.field == "fatalities" and "not a non-negative whole number" in item.message


def test_firms_acq_time_in_other_digits_is_refused_on_both_paths() -> None:
    data = "latitude,longitude,acq_date,acq_time\n48.1,37.5,2023-04-01,٠١١٣\n".encode()  # was read as 01:13
    for items in (list(decode_firms_bytes(data)), list(decode_firms_columns_bytes(data, RECEIVED))):
        (item,) = items
        assert isinstance(item, Rejection) and item.field == "acq_time" and "is not an HHMM time" in item.message


@pytest.mark.parametrize(
    "body, field",
    [('{"node": "n1", "sent": 18446744073709551616}', "body.sent"), ('{"node": "n1", "oldest_pending_age_s": Infinity}', "body.oldest_pending_age_s")],
)
def test_node_report_beyond_the_store_or_infinite_is_a_422_and_nothing_is_recorded(api: ApiClient, body: str, field: str) -> None:
    # 2**64 reached SQLite and raised OverflowError (a 500); Infinity was accepted as an age.
    response = api.client.put("/api/v1/nodes/self", content=body, headers={**api.auth, "Content-Type": "application/json"})
    assert response.status_code == 422 and [e["field"] for e in response.json()["errors"]] == [field]
    assert api.client.get("/api/v1/nodes", headers=api.auth).json()["nodes"] == []
