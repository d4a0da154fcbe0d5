"""`serve` shortens the interpreter's thread switch interval and raises the collector's first threshold while the app
runs, and gives the old ones back."""

from __future__ import annotations

import gc
import sys
from pathlib import Path

from fastapi.testclient import TestClient

from truceline import cli
from truceline.api.app import create_app
from truceline.service.settings import GC_FIRST_THRESHOLD, Settings
from truceline.store.sqlite import open_store


def test_the_app_runs_with_the_switch_interval_it_is_given_and_restores_the_old_one(tmp_path: Path) -> None:
    before = sys.getswitchinterval()
    store = open_store(tmp_path / "data")
    try:
        wanted = cli.SERVE_SWITCH_INTERVAL_S
        assert wanted < before  # Python's default is 5 ms
        with TestClient(create_app(Settings(data_dir=tmp_path / "data", fusion=False, switch_interval_s=wanted), store)) as client:
            assert client.get("/healthz").status_code == 200
            assert sys.getswitchinterval() == wanted
        assert sys.getswitchinterval() == before
        with TestClient(create_app(Settings(data_dir=tmp_path / "data", fusion=False), store)):
            assert sys.getswitchinterval() == before  # not given: left alone
    finally:
        store.close()


def test_the_app_runs_with_the_first_collector_threshold_it_is_given_and_restores_the_old_one(tmp_path: Path) -> None:
    """`serve` raises the collector's first threshold (fusion leaves its batch's objects to the first young
    collection after it, and at 700 that collection comes again every few hundred objects); the old one comes back."""
    before = gc.get_threshold()
    store = open_store(tmp_path / "data")
    try:
        assert before[0] < GC_FIRST_THRESHOLD
        with TestClient(create_app(Settings(data_dir=tmp_path / "data", fusion=False, gc_first_threshold=GC_FIRST_THRESHOLD), store)) as client:
            assert client.get("/healthz").status_code == 200
            assert gc.get_threshold() == (GC_FIRST_THRESHOLD, *before[1:])
        assert gc.get_threshold() == before
        with TestClient(create_app(Settings(data_dir=tmp_path / "data", fusion=False), store)):
            assert gc.get_threshold() == before  # not given: left alone
    finally:
        store.close()

