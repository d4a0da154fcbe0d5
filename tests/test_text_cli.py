"""``geoparse [--json] TEXT`` and ``geoparse -`` (one JSON object per input line)."""

from __future__ import annotations

import orjson
from typer.testing import CliRunner

from truceline.cli_text import app

runner = CliRunner()


def test_json_for_one_text() -> None:
    result = runner.invoke(app, ["--json", "Huliaipole, Zaporizhzhia Oblast"])
    assert result.exit_code == 0, result.output
    places = orjson.loads(result.stdout)["places"]
    assert places[0]["admin1"] == "Zaporizhzhia Oblast" and places[0]["precision"] == 1
    assert {"name", "lat", "lon", "precision", "admin1"} <= set(places[0])


def test_stdin_gives_exactly_one_object_per_line() -> None:
    lines = ["Kharkiv (Saltivka district)", "", "Xyzzyplotz", "Bei Angriffen auf Sumy und Odessa wurden 15 Menschen verletzt."]
    result = runner.invoke(app, ["-"], input="\n".join(lines) + "\n")
    assert result.exit_code == 0, result.output
    out = [orjson.loads(line) for line in result.stdout.splitlines()]
    assert len(out) == len(lines)
    assert out[0]["places"][0]["name"] == "Saltivka"
    assert out[1] == {"places": []}
    assert out[2]["places"][0]["lat"] is None and out[2]["places"][0]["note"]
    assert [p["name"] for p in out[3]["places"]] == ["Sumy", "Odesa"]


def test_table_output() -> None:
    result = runner.invoke(app, ["Donetsk Oblast"])
    assert result.exit_code == 0 and "48.09530" in result.stdout and "Donetsk Oblast" in result.stdout


def test_readme_example_finds_both_cities_each_at_its_own_point() -> None:
    """README: ``truceline geoparse --json "Beschuss in Saporischschja und Charkiw"`` (issue 22)."""
    result = runner.invoke(app, ["--json", "Beschuss in Saporischschja und Charkiw"])
    assert result.exit_code == 0, result.output
    places = orjson.loads(result.stdout)["places"]
    by_mention = {p["mention"]: p for p in places}
    assert set(by_mention) == {"Saporischschja", "Charkiw"}  # "Beschuss" is not part of the name
    zap, kharkiv = by_mention["Saporischschja"], by_mention["Charkiw"]
    assert zap["admin1"] == "Zaporizhzhia Oblast" and abs(zap["lat"] - 47.84) < 0.1 and abs(zap["lon"] - 35.14) < 0.1
    assert kharkiv["admin1"] == "Kharkiv Oblast" and abs(kharkiv["lat"] - 49.99) < 0.1
    assert all(p["match"] != "context" and p["precision"] == 1 for p in places)


def test_table_without_a_terminal_keeps_every_row_whole() -> None:
    result = runner.invoke(app, ["Beschuss in Saporischschja und Charkiw"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].split("\t")[:2] == ["mention", "place"]
    row = next(line.split("\t") for line in lines if line.startswith("Saporischschja\t"))
    assert row[1] == "Zaporizhzhya" and row[5] == "Zaporizhzhia Oblast" and row[6] == "'Beschuss' is not part of the name"
    assert "…" not in result.stdout
