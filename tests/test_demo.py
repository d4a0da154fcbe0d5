"""`truceline demo`: the simulated week on the real line shows violations of both parties, labelled as
simulated, next to the real FIRMS sample; the demo hands the user the door (a URL carrying the key)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from rich.console import Console

from conftest import free_port, start_server
from truceline.api.auth import read_admin_key
from truceline.cli_demo import DemoLoad, door_url, load_demo
from truceline.sim.demo_week import DEMO_DAY, TEXT_REPORTS, WEEK_DAYS, WEEK_START, demo_week
from truceline.store.ports import IncidentQuery
from truceline.store.sqlite import SqliteStore, open_store


def test_every_simulated_record_is_marked_and_the_week_is_deterministic() -> None:
    first, second = demo_week(), demo_week()
    assert [t.record for t in first] == [t.record for t in second]
    assert [t.arrival for t in first] == sorted(t.arrival for t in first)
    start = datetime(WEEK_START.year, WEEK_START.month, WEEK_START.day, tzinfo=UTC)
    for timed in first:
        record = timed.record
        assert record["attributes"]["simulated"] is True, record["id"]
        assert record["source"]["id"].startswith("sim-"), record["source"]
        assert start <= timed.arrival.astimezone(UTC) < start.replace(day=start.day + WEEK_DAYS), record["id"]
    types = Counter(t.record["source"]["type"] for t in first)
    assert {"acoustic", "radar", "uav", "monitor", "osint"} <= set(types)
    assert len({t.record["source"]["org"] for t in first}) >= 6  # several nations' sensors, monitors, press
    # each text report went through the real text path (ids and attributes of text/reports.py)
    texts = [t.record for t in first if t.record["source"]["type"] == "osint"]
    assert {r["attributes"]["language"] for r in texts} == {lang for lang, *_ in TEXT_REPORTS}
    assert all(r["id"].startswith("txt-") and r["attributes"]["extractor"] for r in texts)


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[SqliteStore, DemoLoad]]:
    store = open_store(tmp_path_factory.mktemp("demo") / "data")
    result = load_demo(store, Console(file=open(os.devnull, "w"), force_terminal=False))  # noqa: SIM115
    yield store, result
    store.close()


def test_the_week_has_violations_of_both_parties_out_of_fusion_and_the_rules(loaded: tuple[SqliteStore, DemoLoad]) -> None:
    store, result = loaded
    assert result.simulated.rejected_count == 0 and result.firms.rejected_count == 0
    week = result.week
    parties = Counter(v.party for v in week)
    assert parties["RU"] > 0 and parties["UA"] > 0 and parties["undetermined"] > 0
    assert all(v.simulated == "true" for v in week)
    on_day = Counter(v.party for v in week if v.time.date() == DEMO_DAY)
    assert on_day["RU"] > 0 and on_day["UA"] > 0, on_day
    # the special episodes: heavy weapons of both sides in their withdrawal zones, a drone in the no-fly zone
    heavy = {v.party: v for v in week if v.rule_id == "heavy-weapons-withdrawal"}
    assert set(heavy) == {"RU", "UA"}
    assert "artillery-100mm equipment inside its 50 km withdrawal zone" in heavy["RU"].basis
    assert "mlrs equipment inside its 70 km withdrawal zone" in heavy["UA"].basis
    [flight] = [v for v in week if v.rule_id == "no-fly-znpp"]
    assert "at 450 m" in flight.basis and flight.party != "undetermined"
    # some violations rest on several independent sources, some on one
    incidents = {i.id: i for i in store.list_incidents(IncidentQuery(ids=tuple({v.incident_id for v in week}), limit=10_000))}
    sources = Counter(min(incidents[v.incident_id].independent_sources, 2) for v in week)
    assert sources[1] > 0 and sources[2] > 0


def test_the_notified_demining_detonation_is_excused_not_counted(loaded: tuple[SqliteStore, DemoLoad]) -> None:
    _, result = loaded
    [excused] = result.excused
    assert excused.excused_by == "ua-demining-2023-05-17" and excused.rule_id == "no-fire"
    assert excused.basis.startswith("Excused by notification ua-demining-2023-05-17: UA announced demining")
    assert excused.incident_id not in {v.incident_id for v in result.week}


def test_real_firms_incidents_are_not_labelled_simulated(loaded: tuple[SqliteStore, DemoLoad]) -> None:
    store, _ = loaded
    incidents = store.list_incidents(IncidentQuery(limit=1_000_000))
    thermal = [i for i in incidents if i.kind.value == "thermal"]
    assert thermal and all("simulated" not in i.attributes for i in thermal)
    assert any(i.attributes.get("simulated") == "true" for i in incidents)


def test_door_url_points_a_browser_at_the_page_even_on_a_wildcard_host() -> None:
    assert door_url("127.0.0.1", 8000, "tl_x") == "http://127.0.0.1:8000/#key=tl_x"
    assert door_url("0.0.0.0", 9000, "tl_y") == "http://127.0.0.1:9000/#key=tl_y"
    assert door_url("::1", 8000, "k") == "http://[::1]:8000/#key=k"


def test_demo_without_browser_prints_the_door_and_serves_the_week(tmp_path: Path) -> None:
    data_dir = tmp_path / "truceline-demo"
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "truceline.cli", "demo", "--no-browser", "--data-dir", str(data_dir), "--port", str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env={**os.environ, "COLUMNS": "80"}, text=True,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        lines: list[str] = []
        deadline = time.monotonic() + 180
        url = None
        while url is None and time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line:
                pytest.fail(f"demo exited ({process.poll()}) before printing the URL:\n{''.join(lines)}")
            lines.append(line)
            found = re.search(r"(http://127\.0\.0\.1:\d+/#key=\S+)", line)
            url = found.group(1) if found else None
        assert url is not None, "".join(lines)
        lines += [process.stdout.readline(), process.stdout.readline()]  # the key file's path, the suggested day
        output = "".join(lines)
        assert f"/?day={DEMO_DAY}" in lines[-1]
        key = url.split("#key=", 1)[1]
        assert key == read_admin_key(data_dir)
        assert str(data_dir / "admin.key") in output
        assert re.search(rf"Look at {DEMO_DAY}: \d+ violations \(RU \d+, UA \d+", output), output
        base = f"http://127.0.0.1:{port}"
        auth = {"Authorization": f"Bearer {key}"}
        while True:
            try:
                if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert process.poll() is None and time.monotonic() < deadline, "server did not come up"
            time.sleep(0.2)
        features = httpx.get(base + "/api/v1/violations", params={"limit": 5000}, headers=auth, timeout=60).json()["features"]
        simulated = [f["properties"] for f in features if f["properties"].get("simulated") == "true"]
        assert {"RU", "UA"} <= {p["party"] for p in simulated}
        assert all(p["basis"].startswith("SIMULATED") for p in simulated)
        excused = httpx.get(base + "/api/v1/violations", params={"limit": 5000, "include_excused": "true"}, headers=auth, timeout=60).json()
        assert [f["properties"]["excused_by"] for f in excused["features"] if "excused_by" in f["properties"]] == ["ua-demining-2023-05-17"]
        report = httpx.get(base + "/api/v1/reports/daily", params={"date": DEMO_DAY.isoformat(), "format": "md"}, headers=auth, timeout=120)
        assert report.status_code == 200
        text = report.text
        rows = dict(re.findall(r"^\| (UA|RU) — [^|]+ \| (\d+) \|", text, flags=re.MULTILINE))
        assert int(rows["UA"]) > 0 and int(rows["RU"]) > 0, rows
        assert "SIMULATED:" in text
        page = httpx.get(base + "/", timeout=10).text
        key_section = page[page.index('id="key-section"'):]
        assert "admin.key" in key_section[: key_section.index("</section>")]
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_serve_prints_the_door_too(tmp_path: Path) -> None:
    server = start_server(tmp_path / "served")
    try:
        assert server.process.stdout is not None
        lines: list[str] = []
        while not lines or not lines[-1].startswith("The admin key is in"):  # printed before serving starts
            line = server.process.stdout.readline().decode()
            assert line, f"serve stopped printing before the key file's path: {lines}"
            lines.append(line)
        [door] = [line for line in lines if "#key=" in line]
        assert door.strip().endswith(f"{server.url}/#key={server.key}")
        assert any(str(tmp_path / "served" / "admin.key") in line for line in lines), lines
    finally:
        server.process.terminate()
        server.process.wait(timeout=30)
