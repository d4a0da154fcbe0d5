"""ACLED CSV import: header check, the mapping tables, cell errors with their line, encodings, bounded fuzz."""

from __future__ import annotations

import contextlib
import csv
import io
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from truceline.domain.observation import PLACE_PRECISION_SIGMA_M, PlacePrecision
from truceline.ingest.acled import EVENT_KINDS, REQUIRED_COLUMNS, decode_acled_bytes
from truceline.ingest.records import FormatError, Record, Rejection
from truceline.ingest.validation import validate_batch, validation_context

ROW: dict[str, str] = {
    "event_id_cnty": "UKR123456",
    "event_date": "2023-04-02",
    "event_type": "Explosions/Remote violence",
    "sub_event_type": "Shelling/artillery/missile attack",
    "actor1": "Military Forces of Russia (2000-)",
    "actor2": "Civilians (Ukraine)",
    "admin1": "Donetsk",
    "admin2": "Pokrovskyi",
    "admin3": "Avdiivska",
    "location": "Avdiivka",
    "latitude": "48.1394",
    "longitude": "37.7497",
    "geo_precision": "1",
    "time_precision": "1",
    "source": "Ukrinform",
    "notes": 'On 2 April 2023, shelling of Avdiivka, "multi-line"\nnote.',
    "fatalities": "2",
}


def acled(*rows: dict[str, Any], columns: tuple[str, ...] = REQUIRED_COLUMNS) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(columns), lineterminator="\n", extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        writer.writerow(row)
    return out.getvalue().encode()


def test_row_maps_to_a_place_observation_with_claims_not_attribution() -> None:
    (item,) = decode_acled_bytes(acled(ROW))
    assert isinstance(item, Record) and item.where == "line 2"
    (obs,), errors = validate_batch([item.value], validation_context())
    assert not errors
    assert obs.id == "acled-UKR123456"
    assert obs.kind.value == "impact"
    assert obs.location.type == "place" and obs.location.name == "Avdiivka"
    assert obs.location.precision is PlacePrecision.EXACT and obs.point == (48.1394, 37.7497)
    assert obs.location.admin == "Avdiivska, Pokrovskyi, Donetsk"
    assert obs.time.isoformat() == "2023-04-02T12:00:00+00:00" and obs.time_uncertainty_s == 43_200
    assert (obs.source.id, obs.source.type.value, obs.source.org) == ("acled", "osint", "ACLED")
    assert (obs.reliability.value, int(obs.credibility), obs.releasable_to) == ("C", 3, ["PUBLIC"])
    assert obs.attributes["claims"] == {"actor1": "Military Forces of Russia (2000-)", "actor2": "Civilians (Ukraine)"}
    assert obs.attributes["fatalities_reported"] == 2
    assert "multi-line" in obs.attributes["notes"]


@pytest.mark.parametrize(("geo", "precision"), [("1", PlacePrecision.EXACT), ("2", PlacePrecision.NEAR), ("3", PlacePrecision.REGION)])
def test_geo_precision_sets_an_honest_uncertainty(geo: str, precision: PlacePrecision) -> None:
    (item,) = decode_acled_bytes(acled({**ROW, "geo_precision": geo}))
    (obs,), _ = validate_batch([item.value], validation_context())  # type: ignore[union-attr]
    assert obs.location.precision is precision
    assert obs.sigma_m == PLACE_PRECISION_SIGMA_M[precision]


@pytest.mark.parametrize(("code", "seconds"), [("1", 43_200), ("2", 302_400), ("3", 1_339_200)])
def test_time_precision_sets_the_time_uncertainty(code: str, seconds: float) -> None:
    (item,) = decode_acled_bytes(acled({**ROW, "time_precision": code}))
    assert item.value["time_uncertainty_s"] == seconds  # type: ignore[union-attr]


def test_every_codebook_pair_maps_to_a_valid_kind() -> None:
    rows = [{**ROW, "event_id_cnty": f"UKR{i}", "event_type": e.title(), "sub_event_type": s} for i, (e, s) in enumerate(EVENT_KINDS)]
    items = list(decode_acled_bytes(acled(*rows)))
    good, errors = validate_batch([i.value for i in items if isinstance(i, Record)], validation_context())
    assert not errors and len(good) == len(EVENT_KINDS)


def test_bad_cells_are_rejected_with_line_and_field_and_the_rest_kept() -> None:
    rows = [
        {**ROW, "event_id_cnty": "A1", "latitude": "north"},
        {**ROW, "event_id_cnty": "A2", "event_type": "Battles", "sub_event_type": "Dance-off"},
        {**ROW, "event_id_cnty": "A3", "geo_precision": "4"},
        {**ROW, "event_id_cnty": "A4", "fatalities": "-1"},
        {**ROW, "event_id_cnty": "A5", "event_date": "2023-13-40"},
        {**ROW, "event_id_cnty": "A6", "event_date": "02 April 2023"},
    ]
    items = list(decode_acled_bytes(acled(*rows)))
    rejected = [(i.where, i.field) for i in items if isinstance(i, Rejection)]
    # the first row's note spans two lines, so each row starts two lines after the previous one
    assert rejected == [("line 2", "latitude"), ("line 4", "event_type/sub_event_type"), ("line 6", "geo_precision"),
                        ("line 8", "fatalities"), ("line 10", "event_date")]
    (kept,) = [i for i in items if isinstance(i, Record)]
    assert kept.value["time"].startswith("2023-04-02")


def test_header_errors_name_missing_and_unknown_columns() -> None:
    columns = tuple(c for c in REQUIRED_COLUMNS if c not in ("latitude", "fatalities")) + ("lattitude",)
    with pytest.raises(FormatError) as info:
        list(decode_acled_bytes(acled(ROW, columns=columns)))
    message = str(info.value)
    assert "missing latitude, fatalities" in message and "unknown 'lattitude'" in message
    extra = acled({**ROW, "country": "Ukraine", "iso": "804"}, columns=(*REQUIRED_COLUMNS, "country", "iso"))
    (item,) = decode_acled_bytes(extra)  # further codebook columns are fine
    assert isinstance(item, Record) and item.value["attributes"]["country"] == "Ukraine"


def test_encodings_and_ragged_rows() -> None:
    with pytest.raises(FormatError, match="UTF-16"):
        list(decode_acled_bytes(acled(ROW).decode().encode("utf-16")))
    latin1 = acled({**ROW, "location": "Kyïv"}).decode().encode("latin-1")
    with pytest.raises(FormatError, match=r"not UTF-8: line 2, byte \d+ is 0xef"):
        list(decode_acled_bytes(latin1))
    ragged = acled(ROW) + b"UKR9,2023-04-02,Battles\n"
    items = list(decode_acled_bytes(ragged))
    assert isinstance(items[-1], Rejection) and items[-1].where == "line 4" and "expected 17 columns, got 3" in items[-1].message


def test_oversized_cell_is_a_row_rejection_not_a_crash() -> None:
    data = acled(ROW, {**ROW, "event_id_cnty": "BIG", "notes": "x" * 200_000}, {**ROW, "event_id_cnty": "AFTER"})
    first, big, after = decode_acled_bytes(data)
    assert isinstance(big, Rejection) and big.where == "line 4" and "field larger than field limit" in big.message
    assert isinstance(first, Record) and isinstance(after, Record)
    assert (after.where, after.value["id"]) == ("line 5", "acled-AFTER")  # the reader goes on after the bad row


@settings(max_examples=150, deadline=None)
@given(st.lists(st.lists(st.text(max_size=12), min_size=0, max_size=20), max_size=6))
def test_fuzz_rows_never_crash(rows: list[list[str]]) -> None:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(REQUIRED_COLUMNS)
    writer.writerows(rows)
    items = list(decode_acled_bytes(out.getvalue().encode()))
    assert all(isinstance(i, Record | Rejection) for i in items)
    validate_batch([i.value for i in items if isinstance(i, Record)], validation_context())


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=400))
def test_fuzz_bytes(data: bytes) -> None:
    with contextlib.suppress(FormatError):
        list(decode_acled_bytes(data))
