"""The NATS bus of API replicas: live events across processes and the announcement an intake waits for.

    truceline bench bus [--events 20000] [--announcements 200] [--ids 500]

Starts its own ``nats-server -js`` on a free port with a temporary store. Figures, each beside its floor
measured in the same run:

- events/s that ``NatsBus.publish`` accepts in the caller (what an intake thread pays per observation),
  beside the in-process bus with no reader (the embedded server's cost);
- events/s delivered to a reader on a second NatsBus connection (publish to last event received);
- one ``announce_stored`` of N ids, waiting for JetStream's PubAck, beside a bare NATS round trip (PING/PONG)
  on the same connection: the price of a durable acknowledgement over the network's minimum;
- a replica's intake path without HTTP (``service.intake.accept_prepared``: PostgreSQL commit, PubAck, live
  events) beside the same commits with the in-process bus, on a fresh database of the machine's PostgreSQL
  (``TRUCELINE_TEST_PG`` names its maintenance database; ``--intake 0`` skips it).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from typing import Any

import orjson

from truceline.bus.inproc import InProcessBus
from truceline.bus.nats import NatsBus
from truceline.bus.ports import Event
from truceline.service.procs import die_with_parent

DOC = orjson.dumps({
    "id": "ua-ac17-000123", "time": "2023-04-02T03:15:00Z", "kind": "explosion",
    "location": {"lat": 48.105, "lon": 37.712, "cep_m": 150},
    "source": {"id": "ua-acoustic-17", "type": "acoustic", "org": "UA"},
    "reliability": "B", "credibility": 2, "releasable_to": ["COALITION"],
})  # fmt: skip


def _event() -> Event:
    return Event("observation", orjson.loads(DOC), "UA", ("COALITION",))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _events(url: str, count: int) -> tuple[float, float, float]:
    """(NatsBus.publish per s, in-process publish per s, delivered to another connection per s)."""
    local = InProcessBus()
    started = time.perf_counter()
    for _ in range(count):
        local.publish(_event())
    floor = count / (time.perf_counter() - started)
    sender, receiver = NatsBus(url), NatsBus(url)
    try:
        if not (sender.start(10) and receiver.start(10)):
            raise SystemExit("could not connect to the bench's nats-server")

        async def run() -> tuple[float, float]:
            subscription = receiver.subscribe()
            await asyncio.sleep(0.2)
            began = time.perf_counter()
            for _ in range(count):
                sender.publish(_event())
            published = time.perf_counter() - began
            got = 0
            async for _event_received in subscription:
                got += 1
                if got == count:
                    break
            return count / published, count / (time.perf_counter() - began)

        publish_rate, delivered_rate = asyncio.run(run())
    finally:
        sender.close()
        receiver.close()
    return publish_rate, floor, delivered_rate


def _announce(url: str, announcements: int, ids: int) -> tuple[float, float]:
    """(ms per announce_stored of ``ids`` ids, ms per bare round trip)."""
    bus = NatsBus(url)
    try:
        if not bus.start(10):
            raise SystemExit("could not connect to the bench's nats-server")
        bus.announce_stored([("UA", "warm-up")])
        began = time.perf_counter()
        for n in range(announcements):
            bus.announce_stored([("UA", f"obs-{n}-{i}") for i in range(ids)])
        per_announce = (time.perf_counter() - began) / announcements * 1000

        async def round_trips() -> None:
            for _ in range(announcements):
                await bus._nc.flush()

        began = time.perf_counter()
        asyncio.run_coroutine_threadsafe(round_trips(), bus._loop).result(timeout=300)
        per_round_trip = (time.perf_counter() - began) / announcements * 1000
    finally:
        bus.close()
    return per_announce, per_round_trip


def main(argv: list[str] | None = None) -> int:
    """Start a private nats-server, measure, print one line per figure."""
    parser = argparse.ArgumentParser(prog="truceline bench bus", description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--announcements", type=int, default=200)
    parser.add_argument("--ids", type=int, default=500, help="ids per announcement (one intake batch)")
    parser.add_argument("--intake", type=int, default=9000, help="observations per intake run (0: skip)")
    args = parser.parse_args(argv)
    exe = shutil.which("nats-server")
    if exe is None:
        raise SystemExit("nats-server is not installed (.ci/services installs it)")
    port, parent = _free_port(), os.getpid()
    with tempfile.TemporaryDirectory(prefix="truceline-bench-bus-") as store:
        server = subprocess.Popen(
            [exe, "-js", "-a", "127.0.0.1", "-p", str(port), "-sd", store], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            preexec_fn=lambda: die_with_parent(parent),  # no broker outlives the bench
        )
        try:
            deadline = time.monotonic() + 15
            while True:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise SystemExit("nats-server did not start") from None
                    time.sleep(0.05)
            url = f"nats://127.0.0.1:{port}"
            publish_rate, floor, delivered = _events(url, args.events)
            per_announce, per_round_trip = _announce(url, args.announcements, args.ids)
            intake = _intake(url, args.intake, args.ids) if args.intake else None
        finally:
            server.terminate()
            server.wait(timeout=10)
    print(f"events: NatsBus.publish {publish_rate:,.0f}/s in the caller vs in-process bus {floor:,.0f}/s "
          f"(ratio {publish_rate / floor:.2f}); delivered to another connection {delivered:,.0f}/s")  # fmt: skip
    print(f"announce {args.ids} ids with PubAck: {per_announce:.2f} ms vs bare NATS round trip {per_round_trip:.3f} ms "
          f"(ratio {per_announce / per_round_trip:.1f}); {args.ids / per_announce * 1000:,.0f} ids/s on one connection")  # fmt: skip
    if intake is not None:
        with_bus, commit_only = intake
        print(f"intake without HTTP, batches of {args.ids}: commit + PubAck + events {with_bus:,.0f} obs/s vs commit only "
              f"{commit_only:,.0f} obs/s (ratio {with_bus / commit_only:.2f})")  # fmt: skip
    return 0


def _intake(url: str, count: int, batch: int) -> tuple[float, float]:
    """(obs/s through accept_prepared with NatsBus, obs/s with the in-process bus) on a fresh database."""
    import types
    import uuid
    from datetime import UTC, datetime
    from pathlib import Path

    import psycopg

    from truceline.access.policy import Principal, Role
    from truceline.ingest.validation import validate_batch, validation_context
    from truceline.service.intake import accept_prepared
    from truceline.store.open import open_store_url
    from truceline.store.sqlite import prepare_batch

    sys.path.insert(0, str(Path(__file__).parent))
    from scale import make_observations  # the cluster bench's synthetic day

    observations, errors = validate_batch(make_observations(2 * count + batch), validation_context())
    if errors:
        raise SystemExit(f"synthetic observations rejected: {errors[:3]}")
    admin_dsn = os.environ.get("TRUCELINE_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
    name = f"truceline_bench_bus_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin_dsn, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    dsn = admin_dsn.rpartition("/")[0] + "/" + name
    principal = Principal("bench", "ADMIN", Role.ADMIN, frozenset())
    try:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")
        with tempfile.TemporaryDirectory(prefix="truceline-bench-bus-") as tmp:
            store = open_store_url(Path(tmp), dsn)
            bus = NatsBus(url)
            try:
                bus.start(10)

                def rate(part: list[Any], with_bus: Any) -> float:
                    state = types.SimpleNamespace(store=store, bus=with_bus, fusion=types.SimpleNamespace(notify=lambda: None))
                    began = time.perf_counter()
                    for i in range(0, len(part), batch):
                        accept_prepared(state, principal, prepare_batch(part[i : i + batch], datetime.now(UTC)))
                    return len(part) / (time.perf_counter() - began)

                rate(observations[:batch], InProcessBus())  # warm-up: pool, partitions
                commit_only = rate(observations[batch : batch + count], InProcessBus())
                with_bus = rate(observations[batch + count :], bus)
            finally:
                bus.close()
                store.close()
    finally:
        with psycopg.connect(admin_dsn, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    return with_bus, commit_only


if __name__ == "__main__":
    sys.exit(main())
