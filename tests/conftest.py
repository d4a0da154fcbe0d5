"""Shared fixtures: a fresh store, an app with an admin key, a real server process, and the bundled real data."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from tests.testdata import materialise_datasets, shared_or_skip

from truceline.api.app import create_app
from truceline.api.auth import ensure_admin_key, read_admin_key
from truceline.service.settings import Settings
from truceline.store.sqlite import SqliteStore, open_store

REPO = Path(__file__).resolve().parents[1]


def native(**overrides: Any) -> dict[str, Any]:
    """A valid native observation (DESIGN's minimal example), with fields overridden."""
    doc: dict[str, Any] = {
        "id": "ua-ac17-000123",
        "time": "2023-04-02T03:15:00Z",
        "kind": "explosion",
        "location": {"lat": 48.105, "lon": 37.712, "cep_m": 150},
        "source": {"id": "ua-acoustic-17", "type": "acoustic", "org": "UA"},
        "reliability": "B",
        "credibility": 2,
        "releasable_to": ["COALITION"],
    }
    doc.update(overrides)
    return doc


@pytest.fixture(scope="session")
def datasets(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bundled real datasets (tests/data), uncompressed, under ../shared/datasets' file names."""
    return materialise_datasets(tmp_path_factory.mktemp("datasets"))


@pytest.fixture
def shared() -> Path:
    """../shared, for tests of free text that is not bundled; skipped, saying so, where it is missing."""
    return shared_or_skip()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteStore]:
    s = open_store(tmp_path / "data")
    yield s
    s.close()


@dataclass
class ApiClient:
    client: TestClient
    key: str
    store: SqliteStore
    data_dir: Path

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}


@pytest.fixture
def api(tmp_path: Path) -> Iterator[ApiClient]:
    data_dir = tmp_path / "data"
    s = open_store(data_dir)
    ensure_admin_key(s, data_dir)
    app = create_app(Settings(data_dir=data_dir, max_body_bytes=2_000_000, max_batch_items=5_000), s)
    with TestClient(app) as client:
        yield ApiClient(client, read_admin_key(data_dir), s, data_dir)
    s.close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class LiveServer:
    process: subprocess.Popen[bytes]
    url: str
    data_dir: Path

    @property
    def key(self) -> str:
        return read_admin_key(self.data_dir)


def start_server(data_dir: Path, extra: list[str] | None = None, new_session: bool = False) -> LiveServer:
    """Start `truceline serve` as a real process and wait until /healthz answers; with ``new_session`` it leads a
    process group of its own, as a command started from a terminal does (Ctrl-C signals the whole group)."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "truceline.cli", "serve", "--data-dir", str(data_dir), "--port", str(port), *(extra or [])],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env={**os.environ, "COLUMNS": "200"},
        start_new_session=new_session,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            output = process.stdout.read().decode() if process.stdout else ""
            raise RuntimeError(f"server exited with {process.returncode}: {output}")
        try:
            if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                return LiveServer(process, url, data_dir)
        except httpx.HTTPError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("server did not start within 60 s")


@pytest.fixture
def live_server(tmp_path: Path) -> Iterator[LiveServer]:
    server = start_server(tmp_path / "live")
    yield server
    if server.process.poll() is None:
        server.process.terminate()
        server.process.wait(timeout=30)


def eventually(what: str, check: Callable[[], Any], deadline_s: float = 60.0) -> Any:
    """Poll ``check`` until it returns something truthy; fail naming ``what`` after a generous deadline.

    For state another process or thread reaches in its own time; the deadline only bounds a hang.
    """
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.1)
    pytest.fail(f"timed out after {deadline_s:.0f} s waiting for {what}")


@pytest.fixture
def pg_dsn() -> Iterator[str]:
    """A fresh PostgreSQL database with PostGIS, this test's own, dropped afterwards (tests/services.py)."""
    from tests.services import fresh_database

    with fresh_database() as dsn:
        yield dsn


@pytest.fixture
def nats(tmp_path: Path) -> Iterator[Any]:
    """A private ``nats-server -js`` on a free port with a temporary store (tests/services.py: NatsServer)."""
    from tests.services import nats_server

    with nats_server() as server:
        yield server
