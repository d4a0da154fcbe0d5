"""National node → hub: how fast a backlog drains once the hub is back, against posting straight to a hub.

    truceline bench federation [--observations 10000]
    python bench/federation.py [...]

A node is started while its hub is down and takes ``--observations`` shared observations (batches of
1,000); then the hub starts, and the figure is the time from the hub answering ``/healthz`` to the node's
outbox being empty (it includes the forwarder's back-off, at most 10 s, before its next try). Baseline in
the same run: the same observations posted by one client straight to a fresh hub in batches of 200 (the
forwarder's batch size), one connection, as the forwarder does.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson

HERE = Path(__file__).resolve().parents[1]


def _port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _serve(data_dir: Path, port: int, extra: list[str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "truceline.cli", "serve", "--data-dir", str(data_dir), "--port", str(port), *extra],
            stdout=out, stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return process
        except httpx.HTTPError:
            time.sleep(0.05)
    process.kill()
    raise RuntimeError(f"server on {port} did not start: {log.read_text()}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=60)


def _docs(n: int) -> list[dict[str, Any]]:
    t0 = datetime(2023, 4, 2, tzinfo=UTC)
    return [
        {
            "id": f"bench-{i:07d}", "time": (t0 + timedelta(seconds=7 * i)).isoformat().replace("+00:00", "Z"), "kind": "explosion",
            "location": {"lat": 47.0 + (i % 1000) * 0.002, "lon": 36.0 + (i // 1000) * 0.01, "cep_m": 150},
            "source": {"id": "ua-acoustic-1", "type": "acoustic", "org": "UA"},
            "reliability": "B", "credibility": 2, "releasable_to": ["COALITION"],
        }
        for i in range(n)
    ]


def _post(url: str, key: str, docs: list[dict[str, Any]], batch: int) -> float:
    started = time.perf_counter()
    with httpx.Client(headers={"Authorization": f"Bearer {key}"}, timeout=120) as client:
        for i in range(0, len(docs), batch):
            response = client.post(url + "/api/v1/observations", content=orjson.dumps(docs[i : i + batch]), headers={"Content-Type": "application/json"})
            response.raise_for_status()
    return time.perf_counter() - started


def _key(hub_dir: Path) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "truceline.cli", "keys", "create", "--data-dir", str(hub_dir), "--org", "UA", "--role", "contributor", "--json"],
        capture_output=True, check=True,
    )
    return str(orjson.loads(done.stdout)["key"])


def main(argv: list[str] | None = None) -> int:
    """Measure the drain and the baseline; print one line per figure."""
    parser = argparse.ArgumentParser(prog="truceline bench federation", description=__doc__.splitlines()[0])
    parser.add_argument("--observations", type=int, default=10_000)
    args = parser.parse_args(argv)
    docs = _docs(args.observations)
    with tempfile.TemporaryDirectory(prefix="truceline-bench-") as tmp:
        root = Path(tmp)
        # Baseline: straight to a hub.
        direct_port = _port()
        direct = _serve(root / "direct", direct_port, [], root / "direct.log")
        try:
            direct_s = _post(f"http://127.0.0.1:{direct_port}", (root / "direct" / "admin.key").read_text().strip(), docs, 200)
        finally:
            _stop(direct)
        # The node takes everything while its hub is down, then the hub starts.
        hub_port, node_port = _port(), _port()
        (root / "ua.key").write_text(_key(root / "hub") + "\n")
        upstream = ["--upstream", f"http://127.0.0.1:{hub_port}/api/v1", "--upstream-key", str(root / "ua.key")]
        node = _serve(root / "node", node_port, upstream, root / "node.log")
        hub = None
        try:
            node_url = f"http://127.0.0.1:{node_port}"
            node_key = (root / "node" / "admin.key").read_text().strip()
            accept_s = _post(node_url, node_key, docs, 1000)
            hub = _serve(root / "hub", hub_port, [], root / "hub.log")
            ready = time.perf_counter()
            first = None
            while True:
                figures = httpx.get(node_url + "/api/v1/outbox", headers={"Authorization": f"Bearer {node_key}"}, timeout=30).json()
                if first is None and figures["sent"] > 0:
                    first = time.perf_counter()
                if figures["pending"] == 0:
                    break
                time.sleep(0.2)
            drained_s = time.perf_counter() - ready
            flowing_s = time.perf_counter() - (first or ready)
        finally:
            _stop(node)
            if hub is not None:
                _stop(hub)
    n = args.observations
    print(f"observations                                   {n:>10,d}  ({os.cpu_count()} cores)")
    print(f"node accepts with its hub down                 {n / accept_s:>10,.0f} obs/s  (batches of 1,000)")
    print(f"posted straight to a hub (baseline)            {n / direct_s:>10,.0f} obs/s  ({direct_s:.1f} s; batches of 200, 1 connection)")
    print(f"backlog drained after the hub came back        {drained_s:>10.1f} s      (from hub ready to outbox empty, back-off included)")
    print(f"drain rate once flowing                        {n / flowing_s:>10,.0f} obs/s  ({(n / flowing_s) / (n / direct_s):.2f} of baseline)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
