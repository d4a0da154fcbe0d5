"""`serve` shortens the interpreter's thread switch interval while the app runs, and gives the old one back."""

from __future__ import annotations

import sys
from pathlib import Path

from fastapi.testclient import TestClient

from truceline import cli
from truceline.api.app import create_app
from truceline.service.settings import Settings
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
