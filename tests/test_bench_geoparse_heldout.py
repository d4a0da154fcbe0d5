"""bench/geoparse_heldout.py: which rows of a WarSpotting export it scores, and what it prints for them."""

from __future__ import annotations

import csv
from pathlib import Path
from types import ModuleType

import pytest
from tests.script_modules import REPO, load_script


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    return load_script(REPO / "bench" / "geoparse_heldout.py", "bench_geoparse_heldout")


# Rows written for this test in the export's columns (points: GeoNames' towns, rounded).
ROWS = [
    ("1", "2024-03-02", "Pokrovsk, Pokrovsk raion", "48.282", "37.176"),
    ("2", "2024-03-02", "Pokrovsk, Pokrovsk raion", "48.282", "37.176"),  # the same string and point: once
    ("3", "2025-01-10", "Martynovka, Sudzha raion", "51.265", "35.371"),  # not in the gazetteer: the raion's centre, 10 km+
    ("4", "2023-12-31", "Bakhmut, Bakhmut raion", "48.595", "37.999"),  # before 2024: not held out
    ("5", "2025-02-01", "Toretsk, Bakhmut raion", "", ""),  # no point: nothing to score against
    ("6", "2025-02-02", "Kupiansk, Kupiansk raion", "0", "0"),  # outside the theatre: a typo, not a question
    ("7", "2025-06-30", "Kupiansk, Kupiansk raion", "49.710", "37.616"),
]


def _export(path: Path, rows: list[tuple[str, ...]], header: tuple[str, ...] = ("id", "date", "nearest_location", "latitude", "longitude")) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def test_keeps_the_2024_25_rows_with_a_string_and_a_point_once(bench: ModuleType, tmp_path: Path) -> None:
    incidents = bench.read_incidents(_export(tmp_path / "ws.csv", ROWS), sample=0)
    assert [(i.location, i.date) for i in incidents] == [
        ("Pokrovsk, Pokrovsk raion", "2024-03-02"), ("Martynovka, Sudzha raion", "2025-01-10"), ("Kupiansk, Kupiansk raion", "2025-06-30"),
    ]
    assert len(bench.read_incidents(tmp_path / "ws.csv", sample=2)) == 2


def test_years_chooses_the_rows_any_year_included(bench: ModuleType, tmp_path: Path) -> None:
    rows = [*ROWS, ("8", "2026-01-05", "Kostiantynivka, Kramatorsk raion", "48.527", "37.707")]
    path = _export(tmp_path / "ws.csv", rows)
    assert [i.location for i in bench.read_incidents(path, sample=0, years=[2023])] == ["Bakhmut, Bakhmut raion"]
    assert [i.date for i in bench.read_incidents(path, sample=0, years=[2026])] == ["2026-01-05"]
    assert [i.date for i in bench.read_incidents(path, sample=0)] == ["2024-03-02", "2025-01-10", "2025-06-30"]  # 2026 only when asked


def test_years_option_scores_only_those_years(bench: ModuleType, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert bench.main([str(_export(tmp_path / "ws.csv", ROWS)), "--years", "2023", "2024"]) == 0
    out = capsys.readouterr().out
    lines = {line.split()[0]: line for line in out.splitlines() if line.startswith(("all ", "2023 ", "2024 ", "2025 "))}
    assert set(lines) == {"all", "2023", "2024"} and "n=    2" in lines["all"] and "(2023, 2024)" in out


@pytest.mark.parametrize(("year", "message"), [("1999", "year 1999 outside 2022..2100"), ("20x4", "not a year: '20x4'")])
def test_years_option_refuses_what_is_no_year(bench: ModuleType, tmp_path: Path, capsys: pytest.CaptureFixture[str], year: str, message: str) -> None:
    with pytest.raises(SystemExit) as exited:
        bench.main([str(_export(tmp_path / "ws.csv", ROWS)), "--years", year])
    assert exited.value.code == 2 and message in capsys.readouterr().err


def test_no_row_of_the_years_asked_is_an_error(bench: ModuleType, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert bench.main([str(_export(tmp_path / "ws.csv", ROWS)), "--years", "2022"]) == 2
    assert "has no incident of 2022 with a place string and a point" in capsys.readouterr().err


def test_prints_each_year_against_its_ceiling(bench: ModuleType, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert bench.main([str(_export(tmp_path / "ws.csv", ROWS))]) == 0
    out = capsys.readouterr().out
    lines = {line.split()[0]: line for line in out.splitlines() if line.startswith(("all ", "2024 ", "2025 "))}
    assert "n=    3" in lines["all"] and "within 10 km  66.7%" in lines["all"]  # Pokrovsk and Kupiansk within 10 km
    assert "n=    1" in lines["2024"] and "within 10 km 100.0%" in lines["2024"]
    assert "n=    2" in lines["2025"] and "within 10 km  50.0%" in lines["2025"] and "> 100 km  0.0%" in lines["2025"]
    assert "1 of 1 misses" in out and "'Martynovka, Sudzha raion':" in out and "km off" in out


def test_refuses_a_file_that_is_no_export(bench: ModuleType, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = _export(tmp_path / "other.csv", [("1", "2024-01-01", "x")], header=("id", "date", "place"))
    assert bench.main([str(bad)]) == 2
    assert "missing column(s) latitude, longitude, nearest_location" in capsys.readouterr().err
