"""Mode S / ADS-B throughput: truceline's decoding pipeline next to bare pyModeS on the same messages, same run.

    truceline bench adsb [--aircraft 40] [--repeat 5] [--live-rate 2000] [--live-seconds 10] [--no-live]
    python bench/adsb.py [...]

Messages: the real recorded flight of tests/data/modes (pyModeS's sample, 600 DF17 messages of 406B90:
identification, airborne position, velocity), replayed by ``--aircraft`` aircraft at once, each with its
own ICAO address (parity recomputed) and a time offset, interleaved in time order like a busy receiver.

File figures (messages per CPU second of this process, best of ``--repeat`` interleaved rounds):

- bare ``pyModeS.decode(msg)`` per message (stateless: no CPR pairing, no positions) and pyModeS's own
  streaming ``PipeDecoder.decode(msg, timestamp=)`` (pairs CPR frames like truceline does);
- truceline, bytes in → ``TrackPoint`` out, for modes-csv, AVR (``@`` time stamps), Beast and SBS
  (dump1090's rows of the same traffic; SBS carries no raw message, so pyModeS is not involved there).

The run checks that truceline placed as many positions as pyModeS's PipeDecoder resolved, so a fast wrong
answer fails. Goal: ≥ 0.50 of bare ``pyModeS.decode``.

Live figure: a separate process serves Beast over TCP at ``--live-rate`` messages/s for ``--live-seconds``;
truceline's ``AdsbFeed`` reads it (sink: count the points). Printed: messages decoded of those sent, the CPU
time this process spent (share of one core), and how long after the last message the last point arrived.
Storage is not included (the sink only counts): the store's own cost is in the store's figures.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pyModeS
from pyModeS.util import crc

from truceline.ingest.modes import decode_avr, decode_beast, decode_modes_csv, decode_sbs
from truceline.ingest.modes_formats import TICKS_HZ
from truceline.track.model import DecodeReport

GOAL_RATIO = 0.50
FLIGHT = Path(__file__).resolve().parents[1] / "tests" / "data" / "modes" / "pymodes_sample_adsb_406b90.csv"


def traffic(aircraft: int) -> list[tuple[float, str]]:
    """The recorded flight replayed by ``aircraft`` addresses, 7 s apart, sorted by time."""
    rows = [(float(r[0]), r[1]) for r in csv.reader(FLIGHT.read_text().splitlines())]
    out: list[tuple[float, str]] = []
    for k in range(aircraft):
        icao = f"{0x508000 + 17 * k:06X}"
        for t, msg in rows:
            body = msg[:2] + icao + msg[8:22]
            out.append((t + 7 * k + (k % 10) / 10, body + f"{crc(body + '000000'):06X}"))
    out.sort(key=lambda x: x[0])
    return out


def as_modes_csv(msgs: list[tuple[float, str]]) -> bytes:
    return "".join(f"{t:.1f},{m}\n" for t, m in msgs).encode()


def as_avr(msgs: list[tuple[float, str]]) -> bytes:
    t0 = msgs[0][0]
    return "".join(f"@{round((t - t0) * TICKS_HZ):012X}{m};\n" for t, m in msgs).encode()


def beast_frame(msg: str, ticks: int) -> bytes:
    body = ticks.to_bytes(6, "big") + b"\x80" + bytes.fromhex(msg)
    return b"\x1a" + (b"3" if len(msg) == 28 else b"2") + body.replace(b"\x1a", b"\x1a\x1a")


def as_beast(msgs: list[tuple[float, str]]) -> bytes:
    t0 = msgs[0][0]
    return b"".join(beast_frame(m, round((t - t0) * TICKS_HZ) + 1) for t, m in msgs)


def as_sbs(msgs: list[tuple[float, str]]) -> bytes:
    """dump1090-fa's SBS rows of the same traffic (positions as truceline decoded them)."""
    report = decode_modes_csv(as_modes_csv(msgs), "sbs-source")
    lines = []
    for p in report.points:
        when = p.time.strftime("%Y/%m/%d,%H:%M:%S.%f")[:-3]
        kind = 1 if p.callsign else 3 if p.alt_m is not None else 4
        alt = f"{round(p.alt_m / 0.3048)}" if p.alt_m is not None else ""
        pos = f"{p.lat:.5f},{p.lon:.5f}" if p.lat is not None else ","
        gs = f"{p.speed_mps / 0.514444:.0f}" if p.speed_mps is not None else ""
        trk = f"{p.course_deg:.0f}" if p.course_deg is not None else ""
        lines.append(f"MSG,{kind},1,1,{p.ident.upper()},1,{when},{when},{p.callsign or ''},{alt},{gs},{trk},{pos},,,,,,0")
    return ("\r\n".join(lines) + "\r\n").encode()


def bare_decode(msgs: list[tuple[float, str]]) -> int:
    decode = pyModeS.decode
    for _, m in msgs:
        decode(m)
    return len(msgs)


def bare_pipe(msgs: list[tuple[float, str]]) -> int:
    pipe = pyModeS.PipeDecoder()
    placed = 0
    for t, m in msgs:
        placed += pipe.decode(m, timestamp=t).get("latitude") is not None
    return placed


def placed(report: DecodeReport) -> int:
    return sum(p.lat is not None for p in report.points)


SERVER = r"""
import socket, sys, time
data_path, rate, seconds = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
frames = open(data_path, 'rb').read().split(b'\x00SPLIT\x00')
srv = socket.socket(); srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(('127.0.0.1', 0)); srv.listen(1)
print(srv.getsockname()[1], flush=True)
conn, _ = srv.accept()
n = int(rate * seconds); batch = max(1, int(rate / 100)); t0 = time.perf_counter(); sent = 0
while sent < n:
    k = min(batch, n - sent)
    conn.sendall(b''.join(frames[(sent + i) % len(frames)] for i in range(k)))
    sent += k
    delay = t0 + sent / rate - time.perf_counter()
    if delay > 0:
        time.sleep(delay)
print(sent, time.time(), flush=True)
time.sleep(2)
conn.close()
"""


def live(msgs: list[tuple[float, str]], rate: float, seconds: float) -> tuple[int, int, float, float, float]:
    """Serve Beast at ``rate`` msg/s from another process; returns sent, decoded, cpu share, wall s, lag s."""
    from truceline.service.adsb_feed import AdsbFeed

    t0 = msgs[0][0]
    frames = [beast_frame(m, round((t - t0) * TICKS_HZ) + 1) for t, m in msgs]
    with tempfile.NamedTemporaryFile(suffix=".frames", delete=False) as fh:
        fh.write(b"\x00SPLIT\x00".join(frames))
        path = fh.name
    server = subprocess.Popen([sys.executable, "-c", SERVER, path, str(rate), str(seconds)],
                              stdout=subprocess.PIPE, text=True)
    try:
        port = int(server.stdout.readline())  # type: ignore[union-attr]
        counts = {"messages": 0, "points": 0, "last": 0.0}

        async def sink(report: DecodeReport) -> None:
            counts["messages"] += report.messages
            counts["points"] += len(report.points)
            counts["last"] = time.time()

        async def run() -> tuple[float, float]:
            feed = AdsbFeed(f"127.0.0.1:{port}/beast", sink)
            cpu0, wall0 = time.process_time(), time.perf_counter()
            await feed.start()
            target = int(rate * seconds)
            deadline = time.perf_counter() + seconds + 30
            while counts["messages"] < target and time.perf_counter() < deadline:
                await asyncio.sleep(0.05)
            cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
            await feed.stop()
            return cpu, wall

        cpu, wall = asyncio.run(run())
        sent_line = server.stdout.readline().split()  # type: ignore[union-attr]
        sent, sent_at = int(sent_line[0]), float(sent_line[1])
        return sent, counts["messages"], cpu / wall, wall, max(0.0, counts["last"] - sent_at)
    finally:
        server.wait(timeout=30)
        Path(path).unlink(missing_ok=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--aircraft", type=int, default=40)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--live-rate", type=float, default=2000.0)
    ap.add_argument("--live-seconds", type=float, default=10.0)
    ap.add_argument("--no-live", action="store_true")
    args = ap.parse_args(argv)

    msgs = traffic(args.aircraft)
    n = len(msgs)
    start = datetime.fromtimestamp(msgs[0][0], UTC)
    inputs = {"modes-csv": as_modes_csv(msgs), "avr": as_avr(msgs), "beast": as_beast(msgs), "sbs": as_sbs(msgs)}
    print(f"messages: {n:,d} (the recorded flight of 406B90 × {args.aircraft} aircraft), pyModeS {pyModeS.__version__}, "
          f"Python {sys.version.split()[0]}, best of {args.repeat}")
    runs: dict[str, Callable[[], DecodeReport]] = {
        "modes-csv": lambda: decode_modes_csv(inputs["modes-csv"], "bench"),
        "avr": lambda: decode_avr(inputs["avr"], "bench", start_time=start),
        "beast": lambda: decode_beast(inputs["beast"], "bench", start_time=start),
        "sbs": lambda: decode_sbs(inputs["sbs"], "bench", tz="UTC"),
    }
    # CPU time of this process (not wall time: on a shared machine the wall clock also counts the time other
    # jobs held the core), interleaved rounds (baselines and every format once per round), best of each.
    best: dict[str, float] = {}
    reports: dict[str, DecodeReport] = {}
    pipe_placed = 0
    for _ in range(args.repeat):
        for name, fn in [("bare", lambda: bare_decode(msgs)), ("pipe", lambda: bare_pipe(msgs)), *runs.items()]:
            t = time.process_time()
            out = fn()
            secs = time.process_time() - t
            best[name] = min(best.get(name, float("inf")), secs)
            if isinstance(out, DecodeReport):
                reports[name] = out
            elif name == "pipe":
                pipe_placed = out
    bare, pipe = best["bare"], best["pipe"]
    print(f"{'bare pyModeS.decode':<28} {n / bare:>10,.0f} msg/s  (stateless, no positions)")
    print(f"{'bare pyModeS PipeDecoder':<28} {n / pipe:>10,.0f} msg/s  ({pipe_placed:,d} positions)")
    problems = []
    for name in runs:
        secs, report = best[name], reports[name]
        count = report.messages
        verdict = "met" if n / secs / (n / bare) >= GOAL_RATIO else "NOT met"
        print(f"{'truceline ' + name:<28} {count / secs:>10,.0f} msg/s  ratio {count / secs / (n / bare):.2f} of "
              f"pyModeS.decode, {count / secs / (n / pipe):.2f} of PipeDecoder; {placed(report):,d} positions, "
              f"{len(report.rejected)} rejected  goal ≥ {GOAL_RATIO:.2f}: {verdict}")
        if report.rejected or count != n:
            problems.append(f"{name}: {count} messages, {len(report.rejected)} rejected, e.g. {report.rejected[:2]}")
        if name != "sbs" and placed(report) < pipe_placed:
            problems.append(f"{name}: {placed(report)} positions, fewer than PipeDecoder's {pipe_placed}")
    if not args.no_live:
        sent, got, share, wall, lag = live(msgs, args.live_rate, args.live_seconds)
        print(f"{'live Beast over TCP':<28} {args.live_rate:>10,.0f} msg/s offered for {args.live_seconds:.0f} s: "
              f"{got:,d} of {sent:,d} decoded, {share:.0%} of one core, last point {lag:.2f} s after the last "
              f"message sent ({wall:.1f} s wall)")
        if got < sent:
            problems.append(f"live: {sent - got} messages not decoded")
    for problem in problems:
        print(f"    problem: {problem}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
