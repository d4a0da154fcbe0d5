"""AIS throughput: truceline's pipeline next to bare pyais on the same messages, in the same run.

    truceline bench ais [--copies 100] [--repeat 3]
    python bench/ais.py [...]

Messages: GPSD's real sample (tests/data/ais/gpsd_sample.aivdm: types 1-5, 18, 19, 21, 24, 27 and others,
single and multi-sentence), every sentence given an NMEA 4.0 tag block, the whole replayed ``--copies``
times one minute apart (so each copy is new data, not a duplicate).

Figures (messages per CPU second of this process, best of ``--repeat`` interleaved rounds):

- bare pyais: ``IterMessages`` (its own multi-sentence assembly, tag blocks parsed) and ``.decode()`` of
  every message of the types truceline turns into points, the library's own streaming path;
- truceline decode: bytes in → ``TrackPoint``s out (checksums of sentence and tag block, payload length,
  reassembly, tag block time, not-available values);
- truceline pipeline: decode, then store in SQLite (WAL, synchronous=FULL) with one ledger leaf per
  track-minute, then the air and sea checks against the demo agreement — what ``ingest --format ais`` does.

A fast wrong answer fails: every message truceline decodes must be one pyais decoded too (MMSI and type,
as a multiset), and each message pyais decoded that truceline did not must be one truceline rejected (pyais
decodes a bad checksum or a cut payload; truceline refuses them).
Goal: pipeline ≥ 0.50 of bare pyais.

Live figure: a separate process serves the same sentences over TCP at ``--live-rate`` messages/s for
``--live-seconds`` (an AIS server, AIS-catcher or gpsd); this process reads them the way ``serve --ais``
does (``FeedClient`` + live ``AisDecoder`` + ``TrackIntake``: batched storage with ledger leaves, then the
air and sea checks). Printed: messages decoded of those sent, points stored, the CPU time this process spent
(share of one core), and how long after the last message was sent the last point was stored.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyais
from pyais.stream import IterMessages

from truceline.ingest.ais import DECODED_TYPES, decode_ais
from truceline.service.airsea import TrackChecker
from truceline.store.sqlite import open_store
from truceline.store.tracks import add_track_points
from truceline.verify.agreement_loader import load_demo_agreement

GOAL_RATIO = 0.50
SAMPLE = Path(__file__).resolve().parents[1] / "tests" / "data" / "ais" / "gpsd_sample.aivdm"
T0 = 1714564800  # 2024-05-01T12:00:00Z


def _xor(data: bytes) -> int:
    v = 0
    for b in data:
        v ^= b
    return v


def traffic(copies: int) -> list[bytes]:
    """The sample's AIS sentences with a tag block each, ``copies`` times, one minute apart."""
    sentences = [line.strip() for line in SAMPLE.read_bytes().splitlines() if line.startswith((b"!AIVDM", b"!AIVDO"))]
    out = []
    for k in range(copies):
        tag = f"c:{T0 + 60 * k}".encode()
        block = b"\\" + tag + b"*" + b"%02X" % _xor(tag) + b"\\"
        out.extend(block + s for s in sentences)
    return out


def bare_pyais(lines: list[bytes]) -> list[tuple[int, int]]:
    decoded = []
    for msg in IterMessages(lines):
        if msg.ais_id not in DECODED_TYPES:  # like truceline, decode only the types that make track points
            continue
        try:
            m = msg.decode()
        except Exception:  # pyais raises for some of the sample's deliberately broken messages
            continue
        if m.msg_type in DECODED_TYPES:
            decoded.append((m.mmsi, m.msg_type))
    return decoded


SERVER = r"""
import socket, sys, time
lines = open(sys.argv[1], 'rb').read().splitlines(keepends=True)
rate, seconds = float(sys.argv[2]), float(sys.argv[3])
srv = socket.socket(); srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(('127.0.0.1', 0)); srv.listen(1)
print(srv.getsockname()[1], flush=True)
conn, _ = srv.accept()
n = min(len(lines), int(rate * seconds)); batch = max(1, int(rate / 100)); t0 = time.perf_counter(); sent = 0
while sent < n:
    k = min(batch, n - sent)
    conn.sendall(b''.join(lines[sent:sent + k]))
    sent += k
    delay = t0 + sent / rate - time.perf_counter()
    if delay > 0:
        time.sleep(delay)
print(sent, time.time(), flush=True)
time.sleep(3)
conn.close()
"""


def live(rate: float, seconds: float, agreement: Any) -> tuple[int, int, int, float, float]:
    """Serve AIS at ``rate`` lines/s from another process into the live path; sent, read, stored, cpu share, lag s."""
    import asyncio
    import subprocess

    from truceline.ingest.ais import AisDecoder
    from truceline.service.feeds import FeedClient, parse_feed_address
    from truceline.service.track_intake import TrackIntake

    copies = int(rate * seconds) // len(traffic(1)) + 1
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "feed.nmea"
        path.write_bytes(b"\n".join(traffic(copies)) + b"\n")
        store = open_store(Path(tmp) / "live")
        store.save_agreement(agreement.canonical_document(), agreement.digest(), "bench")
        checker = TrackChecker(store)
        server = subprocess.Popen([sys.executable, "-c", SERVER, str(path), str(rate), str(seconds)],
                                  stdout=subprocess.PIPE, text=True)
        try:
            port = int(server.stdout.readline())  # type: ignore[union-attr]
            intake = TrackIntake(store, "bench", on_stored=checker.check)
            done = {"last": 0.0}

            async def sink(report: Any) -> None:
                await intake(report)
                done["last"] = time.time()

            async def run() -> tuple[float, float]:
                client = FeedClient("ais", parse_feed_address(f"127.0.0.1:{port}"), lambda: AisDecoder("bench", live=True), sink)
                cpu0, wall0 = time.process_time(), time.perf_counter()
                await client.start()
                target = int(rate * seconds)
                deadline = time.perf_counter() + seconds + 30
                while client.state.messages < target and time.perf_counter() < deadline:
                    await asyncio.sleep(0.05)
                await client.stop()
                await intake.flush()
                done["last"] = time.time()
                return time.process_time() - cpu0, time.perf_counter() - wall0

            cpu, wall = asyncio.run(run())
            sent_line = server.stdout.readline().split()  # type: ignore[union-attr]
            sent, sent_at = int(sent_line[0]), float(sent_line[1])
            return sent, intake.summary.messages, intake.summary.stored, cpu / wall, max(0.0, done["last"] - sent_at)
        finally:
            server.wait(timeout=30)
            store.close()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--copies", type=int, default=100)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--live-rate", type=float, default=2000.0)
    ap.add_argument("--live-seconds", type=float, default=10.0)
    ap.add_argument("--no-live", action="store_true")
    args = ap.parse_args(argv)
    lines = traffic(args.copies)
    data = b"\n".join(lines) + b"\n"
    n = len(lines)
    agreement = load_demo_agreement()
    print(f"messages: {n:,d} sentences (GPSD's sample × {args.copies}), pyais {pyais.__version__}, "
          f"Python {sys.version.split()[0]}, best of {args.repeat}")
    best: dict[str, float] = {}
    found: dict[str, list[tuple[int, int]]] = {}
    rejected = 0
    with tempfile.TemporaryDirectory() as tmp:
        for round_ in range(args.repeat):
            t = time.process_time()
            found["bare"] = bare_pyais(lines)
            best["bare"] = min(best.get("bare", 1e9), time.process_time() - t)

            t = time.process_time()
            report = decode_ais(data, "bench", received_at=datetime.fromtimestamp(T0, UTC))
            best["decode"] = min(best.get("decode", 1e9), time.process_time() - t)
            found["decode"] = [(int(p.ident), p.extra["msg_type"]) for p in report.points]
            rejected = len(report.rejected)

            store = open_store(Path(tmp) / f"round{round_}")
            store.save_agreement(agreement.canonical_document(), agreement.digest(), "bench")
            checker = TrackChecker(store)
            t = time.process_time()
            report = decode_ais(data, "bench", received_at=datetime.fromtimestamp(T0, UTC))
            for i in range(0, len(report.points), 5000):  # the chunks ingest stores, one transaction each
                chunk = report.points[i : i + 5000]
                add_track_points(store, chunk, "bench")
                checker.check(chunk)
            best["pipeline"] = min(best.get("pipeline", 1e9), time.process_time() - t)
            leaves = store.ledger_size() - 1  # the agreement version is a leaf too
            store.close()
    missing = Counter(found["bare"]) - Counter(found["decode"])
    invented = Counter(found["decode"]) - Counter(found["bare"])
    if invented or sum(missing.values()) > rejected:
        print(f"FAIL: truceline decoded {len(found['decode']):,d} messages, pyais {len(found['bare']):,d}; "
              f"{sum(invented.values())} not decoded by pyais, {sum(missing.values())} missing with {rejected} rejected")
        return 1
    print(f"decoded: pyais {len(found['bare']):,d}, truceline {len(found['decode']):,d} "
          f"(truceline rejected {rejected:,d}: bad checksums, cut payloads, broken lines)")
    rate = {k: n / v for k, v in best.items()}
    print(f"bare pyais (IterMessages + decode):     {rate['bare']:>10,.0f} msg/s")
    print(f"truceline decode (bytes -> TrackPoint): {rate['decode']:>10,.0f} msg/s  ratio {rate['decode'] / rate['bare']:.2f}")
    print(f"truceline pipeline (decode+store+ledger+checks): {rate['pipeline']:>10,.0f} msg/s  ratio "
          f"{rate['pipeline'] / rate['bare']:.2f} (goal >= {GOAL_RATIO:.2f}; {leaves:,d} ledger leaves)")
    if not args.no_live:
        sent, read, stored, share, lag = live(args.live_rate, args.live_seconds, agreement)
        print(f"live TCP feed at {args.live_rate:,.0f} msg/s for {args.live_seconds:g} s: {read:,d} of {sent:,d} sentences read, "
              f"{stored:,d} points stored with ledger leaves and checked; {share:.0%} of one core; "
              f"last point stored {lag:.2f} s after the last message was sent")
    return 0 if rate["pipeline"] / rate["bare"] >= GOAL_RATIO else 1


if __name__ == "__main__":
    sys.exit(main())
