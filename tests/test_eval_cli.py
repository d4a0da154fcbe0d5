"""``simulate`` and ``eval`` commands end to end, and reading incidents as JSON Lines or GeoJSON."""

from __future__ import annotations

import json
from pathlib import Path

import orjson
from typer.testing import CliRunner

from truceline.cli_fusion import app
from truceline.eval import read_incidents

runner = CliRunner()


def test_simulate_fuse_and_eval_round_trip(tmp_path: Path) -> None:
    out = tmp_path / "run"
    result = runner.invoke(app, ["simulate", "sparse-day", "--out", str(out), "--fuse", "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["events"] > 30 and summary["incidents"] > 30
    lines = (out / "observations.jsonl").read_text().splitlines()
    assert len(lines) == summary["observations"]
    result = runner.invoke(app, ["eval", str(out / "truth.jsonl"), str(out / "incidents.jsonl"), "--json"])
    assert result.exit_code == 0, result.output
    scores = json.loads(result.stdout)
    assert scores["pairwise"]["f1"] >= 0.98 and scores["oracle_ratio"] >= 0.98
    text = runner.invoke(app, ["eval", str(out / "truth.jsonl"), str(out / "incidents.jsonl")])
    assert "pairwise F1 / oracle F1" in text.stdout


def test_seed_override_changes_the_run(tmp_path: Path) -> None:
    for seed in ("1", "2"):
        assert runner.invoke(app, ["simulate", "sparse-day", "--out", str(tmp_path / seed), "--seed", seed]).exit_code == 0
    assert (tmp_path / "1" / "truth.jsonl").read_bytes() != (tmp_path / "2" / "truth.jsonl").read_bytes()


def test_geojson_incidents_from_the_api_are_read(tmp_path: Path) -> None:
    collection = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "id": "inc-1",
                "geometry": {"type": "Point", "coordinates": [37.8, 48.0]},
                "properties": {"time": "2023-04-02T03:00:00Z", "kind": "impact", "observation_ids": ["a", "b"], "status": "corroborated"},
            }
        ],
    }
    path = tmp_path / "incidents.geojson"
    path.write_bytes(orjson.dumps(collection))
    (incident,) = read_incidents(path)
    assert (incident.id, incident.lat, incident.lon, incident.observation_ids, incident.status) == ("inc-1", 48.0, 37.8, ("a", "b"), "corroborated")


def test_errors_name_the_file_and_line(tmp_path: Path) -> None:
    bad = tmp_path / "incidents.jsonl"
    bad.write_text('{"id": "x", "time": "2023-04-02T03:00:00Z", "lat": 48, "lon": 37}\n')
    truth = tmp_path / "truth.jsonl"
    truth.write_text('{"type": "label", "observation": "a", "event": null, "phase": null, "tag": "clutter"}\n')
    result = runner.invoke(app, ["eval", str(truth), str(bad)])
    assert result.exit_code == 2
    assert "incidents.jsonl:1" in result.output and "observation_ids" in result.output
    result = runner.invoke(app, ["simulate", str(tmp_path / "nope.yaml"), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2 and "no such scenario file" in result.output
