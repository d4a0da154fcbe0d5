"""The compiled FIRMS scanner (ingest/_firms_rows.c) against the Python serialiser, the model and the row path.

Its numbers must be RFC 8785's (``canonical_json``) for any double and any decimal cell, its rows must be
those of the row path (``check_same`` of tests/test_firms_columns.py: same records, rejections, canonical
bytes, ids and store rows), and without the extension the Python columnar path must still do the work.
"""

from __future__ import annotations

import math
import struct

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.test_firms_columns import DEMO, EDGE_CELLS, NOW, VIIRS_HEADER, VIIRS_ROWS, _real, check_same

from truceline.domain.strict import DECIMAL
from truceline.ingest import firms_compiled
from truceline.ingest.firms_columns import FirmsColumns, read_columns
from truceline.ingest.firms_compiled import CompiledColumns
from truceline.ledger.canonical import canonical_json

pytestmark = pytest.mark.skipif(firms_compiled.BACKEND != "c", reason="the _firms_rows extension is not built here")

EDGE_DOUBLES = [
    0.0, -0.0, 1e-7, 1e-6, 1.5e-7, 1e-4, 0.0001, 0.00012345, 1e21, 1e20, 1.5e21, 1e16, 1e15 + 0.5, 5e-324, 2.2250738585072014e-308,
    1.7976931348623157e308, 150.0, 43200.0, 60.0, 2.0**53, 2.0**53 + 2, -(2.0**53), 0.1 + 0.2, 1 / 3, 48.123456789012344,
    123456789012345680.0, 1e22, 1e23, 9007199254740993.0, 333333333.33333331, 1.0000000000000002, 4.35, 0.000001, -1e-7,
]  # fmt: skip


def _cell_texts(cell: str) -> tuple[bytes | None, bytes | None]:
    """The scanner's text of a cell from its digits (None: it needs the double), and the serialiser's of its
    double (None: not finite, no JSON)."""
    from truceline.ingest import _firms_rows  # type: ignore[attr-defined]  # the extension; no stub

    return _firms_rows.cell_number_text(cell), canonical_json(float(cell)) if math.isfinite(float(cell)) else None


@pytest.mark.parametrize("value", EDGE_DOUBLES)
def test_a_double_is_written_as_the_python_serialiser_writes_it(value: float) -> None:
    from truceline.ingest import _firms_rows  # type: ignore[attr-defined]

    assert _firms_rows.number_text(value) == canonical_json(value)
    assert _firms_rows.number_text(-value) == canonical_json(-value)


@settings(max_examples=3000, deadline=None)
@given(st.floats(allow_nan=False, allow_infinity=False) | st.builds(lambda bits: struct.unpack("<d", struct.pack("<Q", bits))[0], st.integers(0, 2**64 - 1)))
def test_any_finite_double_is_written_as_the_python_serialiser_writes_it(value: float) -> None:
    from truceline.ingest import _firms_rows  # type: ignore[attr-defined]

    if math.isfinite(value):
        assert _firms_rows.number_text(value) == canonical_json(value)


CELLS = [
    "0", "-0", "+0", "-0.0", "0.000", ".5", "5.", "-.5", "48.12345", "048.10", "1e1", "1E-3", "4.81e+1", "100", "1.50e2",
    "123456789012345", "1234567890123456", "12345678901234567890", "1234567890123450000", "0.000000123456789012345",
    "123456789012345.0000000", "1e-7", "1e21", "1e22", "1e-290", "1e290", "1e-291", "1e300", "1e308", "1e309", "5e-324",
    "0.1", "0.30000000000000004", "99999999999999.9", "999999999999999", "9999999999999999", "0e5", "00000.00001e+0005",
    "1e0000001", "1e00000000000000000000001", "0.0001", "0.00001", "1e-6", "0.000001", "-1e-7", "290.1", "4.5",
]  # fmt: skip


@pytest.mark.parametrize("cell", CELLS)
def test_a_decimal_cell_is_written_from_its_digits_only_when_they_are_the_shortest(cell: str) -> None:
    mine, theirs = _cell_texts(cell)
    assert mine in (None, theirs)
    significant = cell.lstrip("+-").split("e")[0].split("E")[0].replace(".", "").strip("0")
    if len(significant) <= 15 and abs(float(cell)) < 1e200 and (float(cell) == 0 or abs(float(cell)) > 1e-200):
        assert mine == theirs  # the fast path is taken whenever it may be


@settings(max_examples=3000, deadline=None)
@given(st.from_regex(DECIMAL, fullmatch=True).filter(lambda c: len(c) < 40))
def test_any_decimal_cell_is_written_as_its_double_would_be(cell: str) -> None:
    mine, theirs = _cell_texts(cell)
    assert mine in (None, theirs)


def test_the_compiled_scanner_reads_ascii_files() -> None:
    text = "\n".join([VIIRS_HEADER, *VIIRS_ROWS]) + "\n"
    assert isinstance(read_columns(text, NOW), CompiledColumns)
    assert isinstance(read_columns(text.replace("N,VIIRS", "Ñ,VIIRS", 1), NOW), FirmsColumns)  # not ASCII: Python


_NUMBER_COLUMNS = [i for i, name in enumerate(VIIRS_HEADER.split(",")) if name in ("latitude", "longitude", "bright_ti4", "scan", "track", "bright_ti5", "frp")]


def _decimal(draw: st.DrawFn) -> str:
    """A decimal cell of any shape: sign, digits before and after the point, exponent."""
    sign = draw(st.sampled_from(["", "", "-", "+"]))
    whole = draw(st.sampled_from(["", "0", "00"]) | st.integers(0, 10**18).map(str))
    fraction = draw(st.none() | st.text("0123456789", max_size=20))
    exponent = draw(st.none() | st.integers(-30, 30).map(lambda e: f"e{e:+d}" if e % 2 else f"E{e}"))
    if not whole and not fraction:
        whole = "1"
    return sign + whole + ("" if fraction is None else "." + fraction) + ("" if exponent is None else exponent)


@st.composite
def numeric_rows(draw: st.DrawFn) -> str:
    rows = []
    for _ in range(draw(st.integers(1, 4))):
        cells = draw(st.sampled_from(VIIRS_ROWS)).split(",")
        for column in draw(st.lists(st.sampled_from(_NUMBER_COLUMNS), max_size=4)):
            cells[column] = _decimal(draw)
        rows.append(",".join(cells))
    return "\n".join([VIIRS_HEADER, *rows]) + "\n"


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(numeric_rows())
def test_rows_with_any_decimal_cells_give_the_row_paths_bytes_and_ids(text: str) -> None:
    assert isinstance(read_columns(text, NOW), CompiledColumns)
    check_same(text)


@pytest.mark.parametrize(
    "lat",
    ["48.1", "48.123456", "48.1234565", "48.12345650000001", "4.81e+1", "-0.0000004", "-0.0000005", "-0", "-0.0", "0.0000005", "90", "-90.000000"],
)
def test_row_ids_round_coordinates_as_python_formats_them(lat: str) -> None:
    """The id's f"{lat:.6f}" from the cell's digits (at most 6 decimals) or from the double (else)."""
    cells = VIIRS_ROWS[0].split(",")
    cells[0] = cells[1] = lat
    assert check_same("\n".join([VIIRS_HEADER, ",".join(cells)]) + "\n") == 1


def test_without_the_extension_the_python_columns_do_the_work(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(firms_compiled, "_rows", None)
    text = _real(DEMO)
    assert isinstance(read_columns(text, NOW), FirmsColumns)
    assert check_same(text) == text.count("\n") - 1


@pytest.mark.parametrize("column", range(len(VIIRS_HEADER.split(","))))
def test_edge_cells_without_the_extension(column: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """tests/test_firms_columns.py's edge cells, the Python columnar path alone (it runs the C one)."""
    monkeypatch.setattr(firms_compiled, "_rows", None)
    base = VIIRS_ROWS[0].split(",")
    validated = 0
    for cell in EDGE_CELLS[::3]:
        row = ",".join([*base[:column], cell, *base[column + 1 :]])
        validated += check_same(f"{VIIRS_HEADER}\n{VIIRS_ROWS[1]}\n{row}\n") >= 1
    assert validated >= len(EDGE_CELLS[::3]) // 2


def test_a_crlf_file_is_validated_by_the_scanner() -> None:
    text = "\r\n".join([VIIRS_HEADER, *VIIRS_ROWS]) + "\r\n"
    assert check_same(text) == len(VIIRS_ROWS)

