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
    assert result.exit_code == 0 and "48.09530" in result.stdout and "Donetsk" in result.stdout
