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
