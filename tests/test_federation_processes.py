"""A hub and national nodes as real `truceline serve` processes: partitions, kill -9, restarts.

Every child is started with PR_SET_PDEATHSIG (it dies with the test process) and killed at teardown,
after a SIGCONT in case it was frozen. Logs go to files (a full pipe would stall a chatty server).
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from tests.conftest import eventually, free_port

from truceline.api.auth import read_admin_key
from truceline.store.sqlite import open_store

_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


@dataclass
class Proc:
    name: str
    process: subprocess.Popen[bytes]
    port: int
    data_dir: Path
    args: list[str]
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {read_admin_key(self.data_dir)}"}

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return httpx.get(self.url + path, headers=self.auth, timeout=10, **kwargs)

    def post(self, documents: list[dict[str, Any]]) -> httpx.Response:
        body = orjson.dumps(documents)
        return httpx.post(self.url + "/api/v1/observations", content=body, headers={**self.auth, "Content-Type": "application/json"}, timeout=30)


class Cluster:
    """The processes of one test; ``close`` leaves none behind."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.procs: list[Proc] = []

    def serve(self, name: str, extra: list[str] | None = None, port: int | None = None) -> Proc:
        port = port or free_port()
        data_dir = self.root / name
        args = ["serve", "--data-dir", str(data_dir), "--port", str(port), *(extra or [])]
        log = self.root / f"{name}.log"
        with log.open("ab") as out:
            process = subprocess.Popen(
                [sys.executable, "-m", "truceline.cli", *args],
                stdout=out, stderr=subprocess.STDOUT, env={**os.environ, "COLUMNS": "200"}, preexec_fn=_die_with_parent,
            )
        proc = Proc(name, process, port, data_dir, args, log)
        self.procs.append(proc)
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"{name} exited with {process.returncode}: {log.read_text()}")
            try:
                if httpx.get(proc.url + "/healthz", timeout=1).status_code == 200:
                    return proc
            except httpx.HTTPError:
                time.sleep(0.1)
        raise RuntimeError(f"{name} did not start within 90 s: {log.read_text()}")

    def node(self, name: str, hub: Proc, org: str, extra: list[str] | None = None, port: int | None = None) -> Proc:
        key_file = self.root / f"{name}.key"
        if not key_file.exists():
            key_file.write_text(contributor_key(hub, org) + "\n")
        upstream = ["--upstream", hub.url + "/api/v1", "--upstream-key", str(key_file), "--node-name", name]
        return self.serve(name, upstream + (extra or []), port)

    def kill9(self, proc: Proc) -> None:
        os.kill(proc.process.pid, signal.SIGKILL)
        proc.process.wait(timeout=30)

    def restart(self, proc: Proc) -> Proc:
        """The same data dir on the same port (the nodes know the hub by its URL)."""
        if proc.process.poll() is None:
            proc.process.terminate()
            proc.process.wait(timeout=30)
        restarted = self.serve(proc.name, proc.args[5:], proc.port)
        return restarted

    def close(self) -> None:
        for proc in self.procs:
            if proc.process.poll() is None:
                os.kill(proc.process.pid, signal.SIGCONT)
                proc.process.kill()
            proc.process.wait(timeout=30)


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    c = Cluster(tmp_path)
    try:
        yield c
    finally:
        c.close()


def contributor_key(hub: Proc, org: str) -> str:
    """Issued by the hub's operator with the CLI, as a nation's key would be."""
    done = subprocess.run(
        [sys.executable, "-m", "truceline.cli", "keys", "create", "--data-dir", str(hub.data_dir), "--org", org,
         "--role", "contributor", "--label", f"{org} national node", "--json"],
        capture_output=True, check=True, timeout=120,
    )
    return str(orjson.loads(done.stdout)["key"])


T0 = datetime(2023, 4, 2, tzinfo=UTC)


def observation(oid: str, org: str, i: int, releasable_to: list[str], *, dlat: float = 0.0, dt_s: float = 0.0,
                source_type: str = "acoustic", cep_m: float = 150.0) -> dict[str, Any]:
    """Observation number ``i`` of an event grid: 10 min and about 5.5 km apart, so events never merge."""
    time_ = (T0 + timedelta(minutes=10 * i, seconds=dt_s)).isoformat().replace("+00:00", "Z")
    return {
        "id": oid, "time": time_, "kind": "explosion",
        "location": {"lat": 47.5 + 0.05 * i + dlat, "lon": 37.5, "cep_m": cep_m},
        "source": {"id": f"{org.lower()}-{source_type}-1", "type": source_type, "org": org},
        "reliability": "B", "credibility": 2, "releasable_to": releasable_to,
    }


def hub_ids(hub: Proc) -> list[str]:
    ids: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 10_000, **({"cursor": cursor} if cursor else {})}
        page = hub.get("/api/v1/observations", params=params).json()
        ids += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            return ids


def outbox(node: Proc) -> dict[str, Any]:
    return dict(node.get("/api/v1/outbox").json())


def forward_waiting_at(port: int) -> bool:
    """Whether a request of more than 1,000 bytes (a batch, not a node report) sits unread in a connection
    to 127.0.0.1:``port``: the frozen hub holds a forward in flight."""
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, state, rx_queue = fields[1], fields[3], int(fields[4].split(":")[1], 16)
        if state == "01" and int(local.split(":")[1], 16) == port and rx_queue > 1000:
            return True
    return False


def test_partition_kill_9_mid_forward_and_hub_restart_lose_leak_and_duplicate_nothing(cluster: Cluster) -> None:
    hub = cluster.serve("hub")
    node = cluster.node("ua", hub, "UA", ["--upstream-alert-after", "2"])
    shared: list[str] = []
    national: list[str] = []
    n = 0

    def post(proc: Proc, count: int) -> None:
        nonlocal n
        batch = []
        for _ in range(count):
            n += 1
            nation_only = n % 5 == 0
            oid = f"ua-{n:04d}"
            (national if nation_only else shared).append(oid)
            batch.append(observation(oid, "UA", n, ["UA"] if nation_only else ["COALITION"]))
        response = proc.post(batch)
        assert response.status_code == 201, response.text  # the node takes it whatever the hub's state

    post(node, 10)
    eventually("the first batch on the hub", lambda: set(hub_ids(hub)) == set(shared))

    # Partition: the hub hangs (SIGSTOP) while the node keeps accepting.
    os.kill(hub.process.pid, signal.SIGSTOP)
    for _ in range(3):
        post(node, 10)
    eventually("a forward hanging on the frozen hub", lambda: forward_waiting_at(hub.port))
    cluster.kill9(node)  # mid-forward
    node = cluster.restart(node)
    post(node, 10)
    figures = outbox(node)
    assert figures["pending"] == len(shared) - 8  # everything after the first batch is still owed
    eventually("the alert on a backlog older than 2 s", lambda: outbox(node)["alert"])
    assert "truceline_outbox_alert 1.0" in node.get("/metrics").text
    # logged while a forward still hangs on the frozen hub, not only once that call times out
    eventually("the alert in the node's log during the partition", lambda: "ALERT outbox" in node.log.read_text(), 10)
    os.kill(hub.process.pid, signal.SIGCONT)
    eventually("the backlog on the hub after the partition", lambda: set(hub_ids(hub)) == set(shared), 120)
    eventually("the outbox drained", lambda: outbox(node)["pending"] == 0)

    # The hub is stopped and restarted while the node keeps accepting.
    hub.process.terminate()
    hub.process.wait(timeout=30)
    post(node, 10)
    eventually("the node saying the hub is unreachable", lambda: "ConnectError" in (outbox(node)["last_error"] or ""))
    hub = cluster.restart(hub)
    eventually("the backlog on the restarted hub", lambda: set(hub_ids(hub)) == set(shared), 120)

    ids = hub_ids(hub)
    assert len(ids) == len(set(ids)) == len(shared)  # nothing lost, nothing twice
    assert not set(national) & set(ids)  # nothing releasable to UA alone left the node
    figures = eventually("the outbox settled", lambda: (f := outbox(node))["pending"] == 0 and not f["alert"] and f)
    assert (figures["sent"], figures["refused"], figures["nation"]) == (len(shared), 0, "UA")
    assert figures["last_success"] and "ALERT outbox" in node.log.read_text()
    [row] = hub.get("/api/v1/nodes").json()["nodes"]
    assert (row["org"], row["node"]) == ("UA", "ua")


def test_two_nations_through_a_frozen_hub_and_a_killed_node(cluster: Cluster) -> None:
    """The issue's check in miniature: UA and FR nodes, one UA observation in five for UA alone."""
    hub = cluster.serve("hub")
    registry = open_store(hub.data_dir)  # the hub's operator registers both nations in COALITION
    for nation in ("UA", "FR"):
        registry.set_organisation(nation, ["COALITION"])
    registry.close()
    ua = cluster.node("ua", hub, "UA", ["--upstream-pull-every", "2"])
    fr = cluster.node("fr", hub, "FR", ["--upstream-pull-every", "2"])
    events = 25
    ua_only = {f"ua-{e}" for e in range(events) if e % 5 == 0}
    shared = {f"ua-{e}" for e in range(events)} - ua_only | {f"fr-{e}" for e in range(events)}
    forged = observation("fr-forged", "FR", 99, ["COALITION"])  # posted to the UA node: the hub must refuse it

    def post_event(e: int) -> None:
        ua_labels = ["UA"] if f"ua-{e}" in ua_only else ["COALITION"]
        assert ua.post([observation(f"ua-{e}", "UA", e, ua_labels)]).status_code == 201
        fr_doc = observation(f"fr-{e}", "FR", e, ["COALITION"], dlat=0.0005, dt_s=5, source_type="uav", cep_m=100)
        assert fr.post([fr_doc]).status_code == 201

    for e in range(5):
        post_event(e)
    os.kill(hub.process.pid, signal.SIGSTOP)
    for e in range(5, 15):
        post_event(e)
    assert ua.post([forged]).status_code == 201  # the node keeps it; it is FR's, not UA's to forward
    cluster.kill9(ua)
    ua = cluster.restart(ua)
    for e in range(15, events):
        post_event(e)
    os.kill(hub.process.pid, signal.SIGCONT)

    eventually("every shared observation on the hub", lambda: shared <= set(hub_ids(hub)), 120)
    ids = hub_ids(hub)
    assert set(ids) == shared and len(ids) == len(shared)  # no UA-only, no forged, nothing twice

    two_nation = [e for e in range(events) if f"ua-{e}" not in ua_only]

    def fused() -> list[int]:
        features = hub.get("/api/v1/incidents").json()["features"]
        together = [set(f["properties"]["observation_ids"]) for f in features]
        return [e for e in two_nation if any({f"ua-{e}", f"fr-{e}"} <= members for members in together)]

    eventually("≥ 95% of the two-nation events fused into one incident", lambda: len(fused()) >= 0.95 * len(two_nation), 120)
    refused = eventually("the forged observation marked refused", lambda: outbox(ua)["refused_items"])
    assert refused[0]["id"] == "fr-forged" and "source.org is UA" in refused[0]["reason"]
    assert outbox(fr)["pending"] == 0
    assert {row["org"] for row in hub.get("/api/v1/nodes").json()["nodes"]} == {"UA", "FR"}

    # Going beyond: the UA node shows the hub's picture as released to UA, beside its own, labelled.
    def coalition_fused() -> int:
        picture = ua.get("/api/v1/coalition")
        if picture.status_code != 200:
            return 0
        members = [set(f["properties"]["observation_ids"]) for f in picture.json()["incidents"]["features"]]
        return sum(any({f"ua-{e}", f"fr-{e}"} <= m for m in members) for e in two_nation)

    eventually("the coalition picture pulled back to the UA node", lambda: coalition_fused() >= 0.95 * len(two_nation), 120)
    picture = ua.get("/api/v1/coalition").json()
    assert picture["nation"] == "UA" and "released to UA" in picture["label"]
    national = {fid for f in ua.get("/api/v1/incidents").json()["features"] for fid in f["properties"]["observation_ids"]}
    assert {i for i in national if i.startswith("fr-")} == {"fr-forged"}  # the node's own picture: only what it was given
