"""The command line's sentences agree in number: `1 record`, `2 records`, never `1 violations`."""

from __future__ import annotations

from pathlib import Path

import orjson
from tests.conftest import native
from typer.testing import CliRunner

from truceline.cli import app
from truceline.cli_words import counted


def test_counted_agrees_in_number() -> None:
    assert counted(1, "violation") == "1 violation"
    assert counted(0, "violation") == "0 violations"
    assert counted(12_337, "detection") == "12,337 detections"
    assert counted(1, "leaf", "leaves") == "1 leaf" and counted(2, "leaf", "leaves") == "2 leaves"


def test_ingest_of_one_record_says_so(tmp_path: Path) -> None:
    path = tmp_path / "one.json"
    path.write_bytes(orjson.dumps([native()]))
    result = CliRunner().invoke(app, ["ingest", "--data-dir", str(tmp_path / "d"), str(path)])
    assert result.exit_code == 0, result.output
    first = " ".join(result.output.split())  # rich wraps at the terminal's width
    assert "(json): 1 record, 1 accepted (1 new, 0 duplicates)" in first
    again = " ".join(CliRunner().invoke(app, ["ingest", "--data-dir", str(tmp_path / "d"), str(path)]).output.split())
    assert "(json): 1 record, 1 accepted (0 new, 1 duplicate)" in again
