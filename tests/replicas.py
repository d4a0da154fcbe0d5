"""API replicas as real processes for the cluster tests: ``truceline serve --store URL --bus URL``."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from conftest import free_port


@dataclass
class Replica:
    process: subprocess.Popen[bytes]
    url: str
    data_dir: Path
    log: Path

    @property
    def key(self) -> str:
        return (self.data_dir / "admin.key").read_text().strip()

    def post(self, body: Any, key: str | None = None, timeout: float = 30) -> httpx.Response:
        return httpx.post(self.url + "/api/v1/observations", json=body, headers=auth(key or self.key), timeout=timeout)

    def get(self, path: str, key: str | None = None) -> httpx.Response:
        return httpx.get(self.url + "/api/v1" + path, headers=auth(key or self.key), timeout=30)

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=30)


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def launch(data_dir: Path, store: str, bus: str, extra: list[str] | None = None, port: int | None = None) -> Replica:
    """Start ``serve --store --bus`` without waiting (so several may start at once); its output goes to a
    log file beside the data dir (a pipe nobody reads could fill and block the replica)."""
    port = port or free_port()
    log = data_dir.parent / f"replica-{port}.log"
    with log.open("ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "truceline.cli", "serve", "--data-dir", str(data_dir), "--port", str(port),
             "--store", store, "--bus", bus, *(extra or [])],
            stdout=out, stderr=subprocess.STDOUT, env={**os.environ, "COLUMNS": "200"},
        )  # fmt: skip
    return Replica(process, f"http://127.0.0.1:{port}", data_dir, log)


def wait_ready(replica: Replica, timeout_s: float = 90) -> Replica:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if replica.process.poll() is not None:
            output = replica.log.read_text(errors="replace")
            raise RuntimeError(f"replica exited with {replica.process.returncode}: {output}")
        try:
            if httpx.get(replica.url + "/healthz", timeout=1).status_code == 200:
                return replica
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    replica.process.kill()
    raise RuntimeError("replica did not start within the deadline")


