"""bench/ingest.py's in-process parts: the raw floor stores the server's very rows, the stage timer covers
every stage, and the CPU reading of a process tree counts children."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest
from tests.script_modules import REPO, load_script


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    return load_script(REPO / "bench" / "ingest.py", "bench_ingest")


def test_raw_floor_writes_every_row_with_its_ledger(bench: ModuleType, tmp_path: Path) -> None:
    docs = bench.make_observations(250)
    assert bench.bench_raw(docs, 100, tmp_path) > 0
    conn = sqlite3.connect(tmp_path / "raw.db")
    assert conn.execute("SELECT count(*), count(posted_by) FROM observations").fetchone() == (250, 250)
    assert conn.execute("SELECT coalesce(max(first), -1) FROM ledger_leaves").fetchone()[0] >= 0
    assert bench.CPU_US["raw"] > 0


def test_fused_floor_writes_what_fusion_stored(bench: ModuleType, tmp_path: Path) -> None:
    """The floor of a fusing server replays the very incident and membership rows a fusing run left."""
    from truceline.ingest.validation import validate_batch, validation_context
    from truceline.service.fusion import FusionWorker
    from truceline.store.sqlite import SqliteStore

    docs = bench.make_observations(250)
    observations, errors = validate_batch(docs, validation_context())
    assert not errors
    fused_dir = tmp_path / "fused"
    fused_dir.mkdir()
    store = SqliteStore(fused_dir / "truceline.db")
    store.add_observations(observations)
    FusionWorker(store).run_until_idle()
    store.close()
    incidents, members = bench._fused_rows(fused_dir / "truceline.db")
    assert len(incidents) > 0 and len(members) == 250
    shares = bench._fused_shares((incidents, members), 250, 100)
    assert len(shares) == 3 and sum(len(m) for _, m in shares) == 250 and sum(len(i) for i, _ in shares) == len(incidents)
    assert all(seq <= 100 * (k + 1) for k, (_, share) in enumerate(shares) for _, seq in share)

    assert bench.bench_raw(docs, 100, tmp_path, (incidents, members)) > 0
    conn = sqlite3.connect(tmp_path / "raw-fused.db")
    assert conn.execute("SELECT count(*) FROM observations").fetchone()[0] == 250
    stored = conn.execute("SELECT id, t_us, kind, status, lat, lon, cell, finalised, updated_us, doc FROM incidents ORDER BY id").fetchall()
    assert stored == sorted(incidents)
    assert sorted(conn.execute("SELECT incident_id, obs_seq FROM incident_members").fetchall()) == sorted(members)
    assert bench.CPU_US["raw-fused"] > 0


def test_stages_cover_the_request_path(bench: ModuleType, tmp_path: Path) -> None:
    stages = bench.bench_stages(bench.make_observations(250), 100, tmp_path)
    assert set(stages) == {
        "parse and check (msgspec, canonical documents)", "prepare (hashes, commitment, leaf)", "pickle to and from a worker", "store without ledger", "ledger append"
    }
    assert all(seconds > 0 for seconds in stages.values())
    conn = sqlite3.connect(tmp_path / "stages.db")
    assert conn.execute("SELECT count(*) FROM observations").fetchone()[0] == 250


def test_process_tree_cpu_includes_children(bench: ModuleType) -> None:
    burn = "import time\nt = time.process_time()\nwhile time.process_time() - t < 0.6: pass\nimport sys; sys.stdout.write('done'); sys.stdout.flush(); time.sleep(30)"
    parent = subprocess.Popen(
        [sys.executable, "-c", f"import subprocess, sys, time; c = subprocess.Popen([sys.executable, '-c', {burn!r}], stdout=subprocess.PIPE); c.stdout.read(4); print('ready', flush=True); time.sleep(30)"],
        stdout=subprocess.PIPE,
    )
    try:
        assert parent.stdout is not None and parent.stdout.readline().strip() == b"ready"
        # The child's busy loop (0.6 s), not only the idle parent (~0.05 s): /proc counts in clock ticks, sampled,
        # so the bound leaves room below what the child measured itself.
        assert bench._tree_cpu_s(parent.pid) >= 0.4
        assert bench._tree_cpu_s(os.getpid()) > 0
    finally:
        parent.kill()
        parent.wait()


def _processes_naming(text: str) -> list[int]:
    """Live processes whose command line contains ``text`` (Linux /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if text.encode() in (entry / "cmdline").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


@pytest.mark.parametrize("fusion_in", ["process", "thread"])
def test_a_fusing_run_fuses_everything_and_leaves_no_process(bench: ModuleType, tmp_path: Path, fusion_in: str) -> None:
    """A fusing run through a real server, fusing in its child process or in a thread: timed until every
    observation is fused (the cursor and memberships in its database), both rates recorded, no process left
    (the server's fusion process names the data dir on its command line)."""
    docs = bench.make_observations(300)
    assert bench.bench_http(docs, 100, tmp_path, 2, fusion=fusion_in) > 0
    assert bench.FUSED[fusion_in] > 0 and bench.CPU_US[f"2-{fusion_in}-fused"] >= bench.CPU_US[f"2-{fusion_in}"] > 0
    data_dir = tmp_path / f"http-2-{fusion_in}"
    conn = sqlite3.connect(data_dir / "truceline.db")
    assert conn.execute("SELECT value FROM fusion_state WHERE key = 'cursor'").fetchone()[0] == 300
    assert conn.execute("SELECT count(*) FROM incident_members").fetchone()[0] == 300
    assert _processes_naming(str(data_dir)) == []
    if fusion_in == "process":
        assert len(bench.FUSED_ROWS[2][1]) == 300


def test_rounds_alternate_and_each_is_shown_against_its_own_floor(bench: ModuleType, capsys: pytest.CaptureFixture[str]) -> None:
    """``--rounds``: the raw floor and the ingest-only run repeated in fresh directories, the best of each reported,
    every round's ratios beside them (a loaded machine moves each figure between runs)."""
    assert bench.main(["--observations", "300", "--batch", "100", "--connections", "2", "--rounds", "2", "--ingest-only"]) == 0
    out = capsys.readouterr().out
    assert "the median round of 2" in out
    line = next(text for text in out.splitlines() if "round by round" in text)
    assert line.count("raw ") == 2 and line.count("ingest ") == 2 and "until all fused" not in line


def test_a_round_reports_its_ratios_against_its_own_floor(bench: ModuleType) -> None:
    fused = bench.Round(raw=50_000.0, ingest_many=30_000.0, fusing=20_000.0, fused=15_000.0, fused_rows=None, cpu_us={})
    assert fused.describe() == "raw 50,000 obs/s, ingest 0.60, until all fused 0.30"
    ingest_only = bench.Round(raw=40_000.0, ingest_many=10_000.0, fusing=None, fused=None, fused_rows=None, cpu_us={})
    assert ingest_only.describe() == "raw 40,000 obs/s, ingest 0.25"


def test_rounds_must_be_positive(bench: ModuleType) -> None:
    with pytest.raises(SystemExit):
        bench.main(["--observations", "300", "--rounds", "0"])
