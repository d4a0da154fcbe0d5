"""ACLED rows validated by the compiled checker (ingest/_acled_rows.c) against the row path: same bytes, ids, rows.

The row path is the reference: ``decode_acled_bytes``, then validation by the model. For every row the
compiled path validates itself, the row path must give a record the model accepts with the same canonical
document, the same ValidatedObservation and the same store row; every other row must come out of both paths
identically (record or rejection, same line). The bench's file, hypothesis rows (any text, quotes, control
characters, long notes, edge numbers, dates and codes), and the Python path when the extension is absent.
"""

from __future__ import annotations

import csv
import io
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.paths_agree import assert_items_agree, with_model_outcomes

from truceline.ingest import acled_compiled
from truceline.ingest.acled import EVENT_KINDS, REQUIRED_COLUMNS, decode_acled_bytes
from truceline.ingest.acled_compiled import decode_acled_validated, decode_acled_validated_bytes
from truceline.ingest.records import Rejection, Validated
from truceline.ingest.validated_json import validated_of
from truceline.ledger.canonical import canonical_json

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
RECEIVED = datetime(2026, 11, 22, 12, 0, 1, tzinfo=UTC)
compiled = pytest.mark.skipif(acled_compiled.BACKEND != "c", reason="the ACLED extension is not built")


def row_path(data: bytes, now: datetime) -> list[Any]:
    """Items of the row path, each Record paired with its Observation or the model's errors."""
    return with_model_outcomes(list(decode_acled_bytes(data)), now)


def _same_as_model(item: Validated, observation: Any) -> None:
    assert item.observation == validated_of(observation), item.where


def check_same(data: bytes, now: datetime = NOW) -> int:
    """Assert both paths agree on ``data``; return how many rows the compiled path validated (-1: both raised)."""
    try:
        expected = row_path(data, now)
    except Exception as exc:  # FormatError for the whole file
        with pytest.raises(type(exc)) as raised:
            list(decode_acled_validated_bytes(data, now))
        assert str(raised.value) == str(exc)
        return -1
    return assert_items_agree(list(decode_acled_validated_bytes(data, now)), expected, RECEIVED, "in C", _same_as_model)


def _bench_file(n: int) -> bytes:
    sys.path.insert(0, str(Path(__file__).parents[1] / "bench"))
    try:
        from formats import gen_acled  # noqa: PLC0415 - the bench's own generator, not a copy
    finally:
        sys.path.pop(0)
    import random  # noqa: PLC0415

    return gen_acled(n, random.Random(7))


def _csv(rows: list[list[str]], header: tuple[str, ...] | list[str] = REQUIRED_COLUMNS, newline: str = "\n") -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator=newline)
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode()


GOOD = ["UKR1", "2023-04-02", "Battles", "Armed clash", "Military Forces of Russia (2000-)", "", "Donetsk", "", "Avdiivska",
        "Avdiivka", "48.1394", "37.7497", "2", "3", "Ukrinform", "", "007"]  # fmt: skip


@compiled
def test_every_row_of_the_bench_file_is_validated_in_c_as_the_row_path_validates_it() -> None:
    data = _bench_file(3000)
    assert check_same(data, datetime.now(UTC)) == 3000


@compiled
def test_rows_it_cannot_vouch_for_go_the_row_way() -> None:
    rows = [
        GOOD,
        [*GOOD[:1], "02 April 2023", *GOOD[2:]],  # a date the row path reads, not written YYYY-MM-DD
        [*GOOD[:10], " 4.81394e1 ", *GOOD[11:]],  # fine for both: the exponent and spaces are the row path's too
        [*GOOD[:10], "٤٨", *GOOD[11:]],  # refused by the row decoder
        [*GOOD[:1], "2026-11-23", *GOOD[2:]],  # after now: the model refuses it
        [*GOOD[:9], "x" * 201, *GOOD[10:]],  # a name over 200 characters: the model refuses it
        [*GOOD[:2], "BATTLES", "armed clash", *GOOD[4:]],
        [*GOOD[:16], "9007199254740993"],  # beyond 2^53: not portable
        ["a" * 123, *GOOD[1:]],  # the id over 128 characters
        GOOD[:5],
        [""] * 17,
    ]
    data = _csv(rows)
    assert check_same(data) == 3
    items = list(decode_acled_validated_bytes(data, NOW))
    assert [type(i).__name__ for i in items] == ["Validated", "Record", "Validated", "Rejection", "Record", "Record", "Validated",
                                                 "Record", "Record", "Rejection"]  # fmt: skip


@compiled
def test_a_csv_error_is_the_row_paths_rejection_and_the_reader_goes_on() -> None:
    data = _csv([GOOD, [*GOOD[:15], "x" * 200_000, GOOD[16]], ["AFTER", *GOOD[1:]]])
    assert check_same(data) == 2


@compiled
def test_crlf_and_other_line_breaks_number_lines_as_the_row_path() -> None:
    notes = "first\r\nsecond\u2028third\x85fourth\x0bfifth"
    data = _csv([GOOD, [*GOOD[:15], notes, GOOD[16]], ["B", *GOOD[1:]]], newline="\r\n")
    assert check_same(data) >= 1
    assert check_same(_csv([GOOD, [*GOOD[:15], "a\nb", GOOD[16]], ["B", *GOOD[1:]]])) == 3


@compiled
def test_strings_are_written_as_canonical_json_writes_them() -> None:
    rows = [[*GOOD[:4], actor, *GOOD[5:]] for actor in ['"quoted"', "back\\slash", "\x00\x01\x1f\x7f", "tab\tnew\nline", "é€😀\u200bü",
                                                         "a\u3000", "\u00a0b"]]  # fmt: skip
    assert check_same(_csv(rows)) == len(rows)
    for text in ["", "plain", "\x00\b\f\n\r\t\x1f\"\\", "ümlaut", "\U0010ffff", "\ud800"[:0]]:
        assert acled_compiled._rows.string(text) == canonical_json(text)
    assert acled_compiled._rows.string("a\ud800b") is None  # a lone surrogate: not for the C writer


def test_without_the_extension_the_row_decoder_does_the_work(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(acled_compiled, "_rows", None)
    data = _csv([GOOD, GOOD[:3]])
    assert list(decode_acled_validated_bytes(data, NOW)) == list(decode_acled_bytes(data))


_PAIRS = sorted(EVENT_KINDS)
_WS = st.sampled_from(["", " ", "\t", "\u3000", "\xa0", "\n"])
_TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)
_NUMBER = st.one_of(
    st.sampled_from(["48.1", "-0", "-0.0", "90", "90.0", "-90", "90.0000001", "180", "-180.0", "1e1", "4.8E+1", ".5", "5.",
                     "+48", "nan", "inf", "1e400", "1_0", "", "0x10", "12345678901234567890.123", "1e-400", " 48.1 "]),
    st.floats(-200, 200, allow_nan=False).map(repr),
    st.decimals(-100, 100, places=8, allow_nan=False, allow_infinity=False).map(str),
)  # fmt: skip
_DATE = st.one_of(
    st.sampled_from(["2000-01-01", "1999-12-31", "2023-02-29", "2024-02-29", "2026-11-22", "2026-11-23", "2023-4-2", " 2023-04-02 ",
                     "02 April 2023", "2023-13-01", "2023-00-10", "0000-01-01", "２０２３-04-02"]),
    st.dates(datetime(1998, 1, 1).date(), datetime(2027, 1, 1).date()).map(str),
)  # fmt: skip
_CODE = st.sampled_from(["1", "2", "3", " 3 ", "4", "0", "", "１", "01"])
_FATAL = st.sampled_from(["", "0", "007", "12", "999999999999999", "9999999999999999", "-1", "1.0", "٣", " 5 "])
_ID = st.one_of(st.sampled_from(["UKR1", "a" * 122, "a" * 123, "x y", "id:1/2@b+c-d.e", " UKR2 ", "", "é"]), _TEXT)


@st.composite
def acled_rows(draw: st.DrawFn) -> list[str]:
    event, sub = draw(st.sampled_from(_PAIRS))
    case = draw(st.sampled_from([str, str.upper, str.title, lambda s: s.replace("k", "\u212a")]))
    long = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1990, max_size=2010)
    return [
        draw(_ID),
        draw(_DATE),
        draw(_WS) + case(event) + draw(_WS),
        case(sub) + draw(_WS),
        draw(_TEXT),
        draw(_TEXT),
        draw(_TEXT),
        draw(st.one_of(_TEXT, st.text(min_size=190, max_size=210))),
        draw(_TEXT),
        draw(st.one_of(_TEXT, st.text(min_size=195, max_size=205), st.just("Avdiivka"))),
        draw(_NUMBER),
        draw(_NUMBER),
        draw(_CODE),
        draw(_CODE),
        draw(st.one_of(_TEXT, long)),
        draw(st.one_of(_TEXT, long, st.text(st.sampled_from('\x00\x1f"\\,\n\r é'), max_size=50))),
        draw(_FATAL),
    ]


@compiled
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.lists(acled_rows(), min_size=1, max_size=4), st.booleans())
def test_hypothesis_rows_give_the_row_paths_bytes_ids_and_store_rows(rows: list[list[str]], country: bool) -> None:
    header: list[str] = [*REQUIRED_COLUMNS, "country"] if country else list(REQUIRED_COLUMNS)
    check_same(_csv([[*row, "Ukraine"] if country else row for row in rows], header))


@compiled
def test_long_attributes_past_the_models_limit_go_the_row_way() -> None:
    big = "\x01" * 1999  # six bytes each as JSON: five such cells pass 56 KiB
    row = [*GOOD[:6], big, big, big, *GOOD[9:14], big, big, GOOD[16]]
    assert check_same(_csv([row, GOOD])) == 1


@compiled
def test_a_lines_iterable_is_read_as_decode_acled_reads_it() -> None:
    text = _csv([GOOD, ["B", *GOOD[1:]]]).decode()
    items = list(decode_acled_validated(io.StringIO(text), NOW, timedelta(minutes=5)))
    assert [(type(i).__name__, i.where) for i in items] == [("Validated", "line 2"), ("Validated", "line 3")]
    assert isinstance(items[0], Validated) and items[0].observation.id == "acled-UKR1"
    assert not any(isinstance(i, Rejection) for i in items)


@compiled
def test_place_lengths_are_counted_in_characters_with_the_admin_separators() -> None:
    def row(admin3: str, admin2: str, admin1: str, name: str = "Avdiivka") -> list[str]:
        return [*GOOD[:6], admin1, admin2, admin3, name, *GOOD[10:]]

    rows = [row("a" * 98, "b" * 100, ""), row("a" * 99, "b" * 100, ""), row("ä" * 64, "ö" * 64, "ü" * 68), row("ä" * 64, "ö" * 64, "ü" * 69),
            row("", "", "", "й" * 200), row("", "", "", "й" * 201), row(" x ", "", "y\u3000")]  # fmt: skip
    assert check_same(_csv(rows)) == 4
    assert [type(i).__name__ for i in decode_acled_validated_bytes(_csv(rows), NOW)] == ["Validated", "Record"] * 3 + ["Validated"]


@compiled
@settings(max_examples=2000, deadline=None)
@given(st.one_of(st.text(st.sampled_from('ab ~"\\\x00\x01\x1f\x20\x21\x5b\x5d\x7f'), max_size=40),
                 st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)))  # fmt: skip
def test_any_text_is_written_as_canonical_json_writes_it(text: str) -> None:
    assert acled_compiled._rows.string(text) == canonical_json(text)


@compiled
def test_coordinates_read_by_the_slow_conversion_are_floats_and_canonical_numbers() -> None:
    cells = ["48.139400000000000000000001", "4.81394e1", "0.00000000000000000000000001", "-0", "90.000", "1e-30", "37.74970000000001"]
    rows = [[f"U{i}", *GOOD[1:10], lat, lon, *GOOD[12:]] for i, lat in enumerate(cells) for lon in (cells[-1], "1" * 20 + "e-18")]
    assert check_same(_csv(rows)) == len(rows)
