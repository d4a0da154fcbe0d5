"""Decode + validate throughput per input format, next to the bare parser of the same bytes, same run.

    truceline bench formats [--records 20000] [--repeat 3] [--only NAME ...]
    python bench/formats.py [...]

For each format the same generated file is read twice: by the bare parser alone (stdlib ``json`` or
``csv``: the floor any importer pays) and by truceline's decoder plus observation validation in chunks,
as ``truceline ingest`` does, without storage. truceline pauses Python's cyclic garbage collector while it
decodes JSON documents and builds observations; the bare parser runs with it paused too, so neither side
pays collections the other does not (with it on, ``json.loads`` of 20,000 records takes up to twice as long). Both must account for every record, so a fast wrong
answer fails the run. The figure is records per CPU second of this process (wall time for KLV, whose floor
runs in another process) and the ratio truceline / bare (goal ≥ 0.50).

To add a format, append a :class:`FormatCase` to :data:`CASES`: a name, a generator of N records as
bytes, the bare parser (returns how many records it saw) and the truceline decoder (returns a stream of
``Record``/``Rejection``).
"""

from __future__ import annotations

import argparse
import copy
import csv
import io
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

from truceline.domain.observation_fast import collector_paused
from truceline.ingest.acled_compiled import BACKEND as ACLED_BACKEND
from truceline.ingest.acled_compiled import decode_acled_validated_bytes
from truceline.ingest.cot import CotOptions, decode_cot
from truceline.ingest.firms_columns import decode_firms_columns_bytes
from truceline.ingest.firms_compiled import BACKEND as FIRMS_BACKEND
from truceline.ingest.geojson import decode_geojson
from truceline.ingest.klv import decode_klv
from truceline.ingest.native import decode_json, decode_json_lines
from truceline.ingest.pipeline import CHUNK_SIZE
from truceline.ingest.records import Record, Rejection, Validated
from truceline.ingest.sensorthings import decode_sensorthings
from truceline.ingest.validation import validate_batch, validation_context

GOAL_RATIO = 0.5
_START = datetime(2023, 4, 1, tzinfo=UTC)
_KINDS = ("explosion", "impact", "launch", "muzzle-flash", "flight", "thermal")


class FormatCase(NamedTuple):
    """One input format: generate N records as bytes, parse them bare, decode them with truceline."""

    name: str
    generate: Callable[[int, random.Random], bytes]
    bare: Callable[[bytes], int]
    decode: Callable[[bytes], Iterable[Record | Rejection | Validated]]
    #: When the bare parser cannot run in this interpreter: (data, repeat) → (best seconds, records seen).
    external_bare: Callable[[bytes, int], tuple[float, int]] | None = None
    note: str = ""


def _iso(rng: random.Random) -> str:
    return (_START + timedelta(seconds=rng.uniform(0, 60 * 86400))).isoformat(timespec="seconds").replace("+00:00", "Z")


def _lat_lon(rng: random.Random) -> tuple[float, float]:
    return round(rng.uniform(46.5, 49.5), 5), round(rng.uniform(35.0, 39.5), 5)


def _native(i: int, rng: random.Random) -> dict[str, Any]:
    lat, lon = _lat_lon(rng)
    return {
        "id": f"bench-{i:09d}",
        "time": _iso(rng),
        "time_uncertainty_s": 2.0,
        "kind": _KINDS[i % len(_KINDS)],
        "location": {"lat": lat, "lon": lon, "cep_m": 150},
        "source": {"id": "ua-acoustic-17", "type": "acoustic", "org": "UA"},
        "reliability": "B",
        "credibility": 2,
        "releasable_to": ["COALITION"],
    }


def gen_native_json(n: int, rng: random.Random) -> bytes:
    return json.dumps([_native(i, rng) for i in range(n)]).encode()


def gen_json_lines(n: int, rng: random.Random) -> bytes:
    return "".join(json.dumps(_native(i, rng)) + "\n" for i in range(n)).encode()


def gen_geojson(n: int, rng: random.Random) -> bytes:
    features = []
    for i in range(n):
        doc = _native(i, rng)
        loc = doc.pop("location")
        features.append(
            {"type": "Feature", "geometry": {"type": "Point", "coordinates": [loc["lon"], loc["lat"]]}, "properties": {**doc, "cep_m": 150}}
        )
    return json.dumps({"type": "FeatureCollection", "features": features}).encode()


def gen_firms(n: int, rng: random.Random) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["latitude", "longitude", "bright_ti4", "scan", "track", "acq_date", "acq_time", "satellite", "instrument",
                     "confidence", "version", "bright_ti5", "frp", "daynight"])
    for _ in range(n):
        lat, lon = _lat_lon(rng)
        when = _START + timedelta(seconds=rng.uniform(0, 60 * 86400))
        writer.writerow([lat, lon, round(rng.uniform(300, 360), 2), 0.39, 0.36, when.date().isoformat(), when.strftime("%H%M"),
                         "N", "VIIRS", "n", "2.0NRT", 290.1, round(rng.uniform(1, 40), 2), "N"])
    return out.getvalue().encode()


def gen_sensorthings(n: int, rng: random.Random) -> bytes:
    """An Observations collection, each with its Datastream (Thing location, Sensor, ObservedProperty) expanded."""
    datastreams = []
    for k in range(4):
        lat, lon = _lat_lon(rng)
        datastreams.append(
            {
                "@iot.id": k,
                "name": f"array {k} events",
                "properties": {"org": "UA", "reliability": "B", "credibility": 2, "releasable_to": ["COALITION"]},
                "unitOfMeasurement": {"name": "pascal", "symbol": "Pa"},
                "Sensor": {"name": f"Acoustic array {k}", "description": "infrasound microphone array"},
                "ObservedProperty": {"name": "Explosion", "definition": "https://example.org/def/explosion"},
                "Thing": {"@iot.id": k, "name": f"post {k}", "Locations": [{"location": {"type": "Point", "coordinates": [lon, lat]}}]},
            }
        )
    value = []
    for i in range(n):
        lat, lon = _lat_lon(rng)
        value.append(
            {
                "@iot.id": i,
                "phenomenonTime": _iso(rng),
                "result": round(rng.uniform(1, 500), 1),
                "Datastream": datastreams[i % len(datastreams)],
                "FeatureOfInterest": {"name": "event", "encodingType": "application/geo+json",
                                      "feature": {"type": "Point", "coordinates": [lon, lat]}},
            }
        )
    return json.dumps({"value": value}).encode()


def gen_sensorthings_distinct(n: int, rng: random.Random) -> bytes:
    """:func:`gen_sensorthings` with a Datastream (and Thing, at its own place) of its own for every Observation:
    the worst case for the mapping once per distinct Datastream. A server's ``$expand=Datastream`` response
    usually repeats a few Datastreams (each groups many Observations), as :func:`gen_sensorthings` does."""
    doc = json.loads(gen_sensorthings(n, rng))
    for i, obs in enumerate(doc["value"]):
        lat, lon = _lat_lon(rng)
        ds = copy.deepcopy(obs["Datastream"])
        ds["@iot.id"], ds["name"] = 1000 + i, f"array {1000 + i} events"
        ds["Thing"].update({"@iot.id": 1000 + i, "name": f"post {1000 + i}"})
        ds["Thing"]["Locations"][0]["location"]["coordinates"] = [lon, lat]
        obs["Datastream"] = ds
    return json.dumps(doc).encode()


def gen_acled(n: int, rng: random.Random) -> bytes:
    from truceline.ingest.acled import REQUIRED_COLUMNS

    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(REQUIRED_COLUMNS)
    for i in range(n):
        lat, lon = _lat_lon(rng)
        day = (_START + timedelta(days=rng.randrange(60))).date().isoformat()
        writer.writerow([f"UKR{i:07d}", day, "Explosions/Remote violence", "Shelling/artillery/missile attack",
                         "Military Forces of Russia (2000-)", "Civilians (Ukraine)", "Donetsk", "Pokrovskyi", "Avdiivska",
                         "Avdiivka", lat, lon, 1 + i % 3, 1 + i % 2, "Ukrinform; Telegram",
                         "On 2 April 2023, Russian forces shelled Avdiivka, Donetsk. Casualties unknown.", 0])
    return out.getvalue().encode()


def bare_json(data: bytes) -> int:
    doc = json.loads(data)
    return len(doc["value"] if isinstance(doc, dict) and "value" in doc else doc["features"] if isinstance(doc, dict) else doc)


def bare_json_lines(data: bytes) -> int:
    return sum(1 for line in data.splitlines() if line.strip() and json.loads(line) is not None)


def bare_csv(data: bytes) -> int:
    reader = csv.reader(io.StringIO(data.decode("utf-8")))
    next(reader)
    return sum(1 for _ in reader)


_COT_TYPES = ("a-h-G-E-W-A", "a-h-A-M-F-Q", "a-u-G-U-C-I", "b-m-p-s-m", "b-r-f-h-c")


def gen_cot(n: int, rng: random.Random) -> bytes:
    """One CoT event per line, as a TAK client's log or a TAK server export holds them."""
    lines = []
    for i in range(n):
        lat, lon = _lat_lon(rng)
        when = _iso(rng)
        lines.append(
            f'<event version="2.0" uid="bench-{i:09d}" type="{_COT_TYPES[i % len(_COT_TYPES)]}" how="h-e" time="{when}" '
            f'start="{when}" stale="{when[:-1]}.5Z"><point lat="{lat}" lon="{lon}" hae="150.0" ce="{rng.randint(5, 200)}" '
            f'le="9999999.0"/><detail><contact callsign="MONITOR-{i % 17}"/><remarks>seen from post {i % 40}</remarks></detail></event>'
        )
    return ("\n".join(lines) + "\n").encode()


def bare_defusedxml(data: bytes) -> int:
    """defusedxml alone: every line parsed with DTDs forbidden, nothing mapped."""
    from defusedxml.ElementTree import fromstring

    return sum(1 for line in data.splitlines() if line.strip() and fromstring(line, forbid_dtd=True) is not None)


#: Runs under python3.12 with pymisb (it needs ≥ 3.12): encode N packets, or time pymisb decoding a file.
_PYMISB = """
import json, random, sys, time
from pymisb.common.encoder import build_st0601_packet
from pymisb.klvdata import StreamParser
mode, arg, path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
if mode == "encode":
    rng = random.Random(int(sys.argv[4]))
    t0 = 1680398100000000
    with open(path, "wb") as out:
        for i in range(arg):
            lat, lon = rng.uniform(46.5, 49.5), rng.uniform(35.0, 39.5)
            out.write(build_st0601_packet({"timestamp_us": t0 + 40000 * i, "platform_heading": rng.uniform(0, 360),
                "platform_pitch": rng.uniform(-5, 5), "platform_roll": rng.uniform(-10, 10), "sensor_lat": lat,
                "sensor_lon": lon, "sensor_alt": rng.uniform(500, 4000), "sensor_rel_az": rng.uniform(0, 360),
                "sensor_rel_el": rng.uniform(-80, -10), "sensor_rel_roll": 0.0, "slant_range": rng.uniform(1e3, 8e3),
                "target_width": rng.uniform(100, 2000), "fc_lat": lat + 0.02, "fc_lon": lon + 0.02, "fc_elev": 180.0}))
else:
    data = open(path, "rb").read()
    best, count = float("inf"), 0
    for _ in range(arg):
        start = time.perf_counter()
        count = 0
        for local_set in StreamParser(data):
            values = {key[0]: getattr(element.value, "value", None) for key, element in local_set.items.items()}
            count += bool(values)
        best = min(best, time.perf_counter() - start)
    print(json.dumps({"seconds": best, "count": count}))
"""


def _pymisb_python() -> str:
    """The python3.12 that has pymisb: $TRUCELINE_MISB_PYTHON, else /tmp/misb/bin/python (see docs/formats.md)."""
    python = os.environ.get("TRUCELINE_MISB_PYTHON", "/tmp/misb/bin/python")
    if not os.path.exists(python):
        raise SystemExit(
            f"klv needs python3.12 with pymisb at {python} (or $TRUCELINE_MISB_PYTHON): "
            "python3.12 -m venv /tmp/misb && /tmp/misb/bin/pip install pymisb==2.0.2"
        )
    return python


def _pymisb(args: list[str]) -> str:
    result = subprocess.run([_pymisb_python(), "-c", _PYMISB, *args], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise SystemExit(f"pymisb helper failed: {result.stderr.strip()[-500:]}")
    return result.stdout


def gen_klv(n: int, rng: random.Random) -> bytes:
    """N ST 0601 packets from pymisb's own encoder (in the python3.12 subprocess)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "bench.klv")
        _pymisb(["encode", str(n), path, str(rng.randrange(2**31))])
        with open(path, "rb") as fh:
            return fh.read()


def pymisb_bare(data: bytes, repeat: int) -> tuple[float, int]:
    """pymisb's StreamParser timed inside the python3.12 process (start-up and file reading excluded)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "bench.klv")
        with open(path, "wb") as fh:
            fh.write(data)
        result = json.loads(_pymisb(["decode", str(repeat), path]))
    return float(result["seconds"]), int(result["count"])


def _no_bare(data: bytes) -> int:
    raise NotImplementedError("measured by external_bare")


_KLV_NOTE = (
    "bare = pymisb 2.0.2 StreamParser under python3.12 in a subprocess (pymisb needs ≥ 3.12), timed in that "
    "process; it checks no checksum, truceline checks checksum and lengths"
)

_FIRMS_NOTE = (
    "truceline = the file read once as columns, as truceline ingest reads FIRMS: rows the checks accept come out "
    "validated with their canonical JSON and id (what the store takes), the rest through the model; the conflict-fire "
    f"analytic is not included; rows split, checked and serialised by: {'the compiled scanner (ingest/_firms_rows.c)' if FIRMS_BACKEND == 'c' else 'Python (ingest/firms_columns.py; the compiled scanner is not built)'}"
)

_ACLED_NOTE = (
    "truceline = the decoder as truceline ingest calls it: csv.reader splits the rows, and rows the checks accept come out "
    "validated with their canonical JSON, the rest through the row decoder and the model; rows checked and serialised by: "
    f"{'the compiled checker (ingest/_acled_rows.c)' if ACLED_BACKEND == 'c' else 'Python (the row decoder; ingest/_acled_rows.c is not built)'}"
)

_JSON_NOTE = (
    "truceline = the decoder as truceline ingest calls it: plainly valid records come out validated with their canonical "
    "JSON (ingest/validated_json.py, what the store takes), the rest through the model"
)

_COT_NOTE = (
    "truceline = the decoder as truceline ingest calls it: each event parsed by expat with defusedxml's protections, "
    "and events the checks accept come out validated with their canonical JSON (what the store takes), the rest through the model"
)

_STA_DISTINCT_NOTE = (
    "every Observation with a Datastream of its own (the sensorthings row repeats 4, as a server's "
    "$expand=Datastream response repeats its few Datastreams): each is mapped once, so here once per Observation"
)

CASES: list[FormatCase] = [
    FormatCase("native-json", gen_native_json, bare_json, lambda data: decode_json(data, datetime.now(UTC)), note=_JSON_NOTE),
    FormatCase("json-lines", gen_json_lines, bare_json_lines, lambda data: decode_json_lines(data.splitlines(), datetime.now(UTC)), note=_JSON_NOTE),
    FormatCase("geojson", gen_geojson, bare_json, lambda data: decode_geojson(data, datetime.now(UTC)), note=_JSON_NOTE),
    FormatCase(
        "firms-csv",
        gen_firms,
        bare_csv,
        lambda data: decode_firms_columns_bytes(data, datetime.now(UTC)),
        note=_FIRMS_NOTE,
    ),
    FormatCase("sensorthings", gen_sensorthings, bare_json, lambda data: decode_sensorthings(data, None, datetime.now(UTC)), note=_JSON_NOTE),
    FormatCase(
        "sensorthings-distinct",
        gen_sensorthings_distinct,
        bare_json,
        lambda data: decode_sensorthings(data, None, datetime.now(UTC)),
        note=_STA_DISTINCT_NOTE,
    ),
    FormatCase("acled-csv", gen_acled, bare_csv, lambda data: decode_acled_validated_bytes(data, datetime.now(UTC)), note=_ACLED_NOTE),
    FormatCase("cot-xml", gen_cot, bare_defusedxml, lambda data: decode_cot(data, CotOptions(org="UA"), datetime.now(UTC)), note=_COT_NOTE),
    FormatCase(
        "klv-st0601",
        gen_klv,
        _no_bare,
        lambda data: decode_klv(data, org="UA", default_source_id="bench"),
        external_bare=pymisb_bare,
        note=_KLV_NOTE,
    ),
]


def decode_and_validate(records: Iterable[Record | Rejection | Validated]) -> tuple[int, list[str]]:
    """Valid observations of a record stream, validated in chunks as file ingest does; and the problems.

    :class:`Validated` items (a columnar decoder's rows) count as valid as they are: file ingest stores them
    without validating them again."""
    context = validation_context()
    good, problems, chunk = 0, [], []

    def flush() -> int:
        observations, errors = validate_batch(chunk, context)
        problems.extend(f"{e.field}: {e.message}" for e in errors[:5])
        chunk.clear()
        return len(observations)

    for item in records:
        if isinstance(item, Rejection):
            problems.append(f"{item.where} {item.field}: {item.message}")
            continue
        if isinstance(item, Validated):
            good += 1
            continue
        chunk.append(item.value)
        if len(chunk) >= CHUNK_SIZE:
            good += flush()
    if chunk:
        good += flush()
    return good, problems


def _best_of(repeat: int, run: Callable[[], int], clock: Callable[[], float] = time.process_time) -> tuple[float, int]:
    best, count = float("inf"), 0
    for _ in range(repeat):
        t0 = clock()
        count = run()
        best = min(best, clock() - t0)
    return best, count


def run_case(case: FormatCase, n: int, repeat: int, seed: int) -> tuple[float, float, list[str]]:
    """(bare records/s, truceline records/s, problems); problems is non-empty if counts disagree.

    Runs alternate (bare, truceline, bare, ...) and each side keeps its best, so load from other jobs
    that comes and goes during the run falls on both sides alike. Times are CPU seconds of this process.
    """
    data = case.generate(n, random.Random(seed))
    problems: list[str] = []

    def truceline() -> int:
        good, found = decode_and_validate(case.decode(data))
        problems[:] = found
        return good

    t_bare = t_ours = float("inf")
    bare_count = our_count = 0
    # CPU seconds of this process: decoding is CPU-bound, and on a shared machine wall time mostly measures
    # the other jobs. The external (pymisb) floor is timed by the wall clock in its process, so ours is too.
    clock = time.perf_counter if case.external_bare is not None else time.process_time
    if case.external_bare is not None:
        t_bare, bare_count = case.external_bare(data, repeat)
    for _ in range(repeat):
        if case.external_bare is None:
            with collector_paused():  # truceline pauses it while decoding and building; the floor gets the same
                seconds, bare_count = _best_of(1, lambda: case.bare(data), clock)
            t_bare = min(t_bare, seconds)
        seconds, our_count = _best_of(1, truceline, clock)
        t_ours = min(t_ours, seconds)
    if bare_count != n or our_count != n:
        problems.insert(0, f"expected {n} records: bare parser saw {bare_count}, truceline accepted {our_count}")
    return n / t_bare, n / t_ours, problems


def main(argv: list[str] | None = None) -> int:
    """Run every (or the chosen) format case; returns 1 if any case loses or invents records."""
    parser = argparse.ArgumentParser(prog="bench/formats.py", description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=20_000, help="records per format (default 20,000)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement; the best is reported (default 3)")
    parser.add_argument("--only", nargs="+", choices=[c.name for c in CASES], help="formats to run (default all)")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    if args.records < 1 or args.repeat < 1:
        parser.error("--records and --repeat must be positive")
    failed = False
    print(f"{'format':<14} {'records':>8} {'bare parser':>16} {'truceline':>16} {'ratio':>6}  goal ≥ {GOAL_RATIO:.2f} of bare")
    for case in CASES:
        if args.only and case.name not in args.only:
            continue
        bare, ours, problems = run_case(case, args.records, args.repeat, args.seed)
        verdict = "met" if ours / bare >= GOAL_RATIO else "not met"
        print(f"{case.name:<14} {args.records:>8,d} {bare:>12,.0f} r/s {ours:>12,.0f} r/s {ours / bare:>6.2f}  {verdict}")
        if case.note:
            print(f"    note: {case.note}")
        if problems:
            failed = True
            for problem in problems[:5]:
                print(f"    problem: {problem}")
        sys.stdout.flush()
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
