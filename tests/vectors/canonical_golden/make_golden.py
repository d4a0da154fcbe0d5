"""Golden digests of canonical observation bytes, ledger commitments, leaves and store rows.

Parties verify reports against the ledger with their own verifiers, so the canonical JSON of an
observation, its salted commitment and its leaf must never change for the same input. This script builds a
varied corpus and writes ``golden.json`` beside it with the digests the *current* code gives; the test
``tests/test_canonical_golden.py`` rebuilds the corpus and compares. Regenerate only when a change of the
canonical form is intended (it never should be for existing leaves):

    .venv/bin/python tests/vectors/canonical_golden/make_golden.py           # write golden.json
    .venv/bin/python tests/vectors/canonical_golden/make_golden.py --inputs  # also rewrite inputs/ (format samples)

The corpus:

- ``demo-firms``: every detection of the bundled FIRMS sample (``data/demo``), decoded and annotated by the
  conflict-fire analytic exactly as ``truceline demo`` ingests it;
- ``format-*``: small files of every machine format, generated once by ``bench/formats.py``'s generators
  (kept in ``inputs/`` so later bench edits cannot move them) plus the KLV test vectors;
- ``random``: seeded random observations with odd floats (integral, tiny, huge, -0.0, subnormal), unicode
  (non-BMP, private-use, escapes), nested attributes, covariances, bearings, places, offsets, leap seconds;
- ``invalid``: mutations of a valid record, nearly all refused; each one's outcome (its errors: field, rule,
  message, value; or its digests where lax mode accepts it) is digested, so validation keeps refusing
  exactly the same things with the same reasons.

Commitments use a salt derived from the id (the store draws a random one), the leaves a fixed receipt time.
"""

from __future__ import annotations

import argparse
import copy
import gzip
import hashlib
import io
import json
import math
import random
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
INPUTS = HERE / "inputs"
GOLDEN = HERE / "golden.json"
REPO = HERE.parents[2]
NOW = datetime(2026, 1, 1, tzinfo=UTC)
RECEIVED_US = 1_767_225_600_123_456
RECEIVED_ISO = "2026-01-01T00:00:00.123456Z"
BLOCK = 50
FORMAT_FILES = {  # file in inputs/ -> (format, decoder name)
    "native.json": "json",
    "lines.jsonl": "jsonl",
    "features.geojson": "geojson",
    "firms.csv": "firms-plain",
    "sensorthings.json": "sensorthings",
    "acled.csv": "acled",
    "events.cot": "cot",
}


# -- corpus ---------------------------------------------------------------------------------------------
def demo_firms_records() -> list[Any]:
    from truceline.ingest.firms import decode_firms, read_positions
    from truceline.ingest.firms_flags import FireAnalysis, annotate_conflict_fires, load_baseline
    from truceline.ingest.records import Record

    raw = resources.files("truceline.data.demo").joinpath("firms-ukraine-2023-04-06.csv.gz").read_bytes()
    text = gzip.decompress(raw).decode("utf-8")
    items = annotate_conflict_fires(
        lambda: read_positions(io.StringIO(text)), lambda: decode_firms(io.StringIO(text)), load_baseline(), FireAnalysis()
    )
    return [item.value for item in items if isinstance(item, Record)]


def write_inputs() -> None:
    """Sample files of each format from bench/formats.py's generators (run once; the files are kept)."""
    sys.path.insert(0, str(REPO / "bench"))
    import formats  # type: ignore[import-not-found]

    INPUTS.mkdir(exist_ok=True)
    gens = {
        "native.json": formats.gen_native_json,
        "lines.jsonl": formats.gen_json_lines,
        "features.geojson": formats.gen_geojson,
        "firms.csv": formats.gen_firms,
        "sensorthings.json": formats.gen_sensorthings,
        "acled.csv": formats.gen_acled,
        "events.cot": formats.gen_cot,
    }
    for k, (name, gen) in enumerate(gens.items()):
        (INPUTS / name).write_bytes(gen(40, random.Random(1000 + k)))


def format_records() -> Iterator[tuple[str, list[Any]]]:
    from truceline.ingest.acled import decode_acled_bytes
    from truceline.ingest.cot import CotOptions, decode_cot
    from truceline.ingest.firms import decode_firms_bytes
    from truceline.ingest.geojson import decode_geojson
    from truceline.ingest.klv import decode_klv
    from truceline.ingest.native import decode_json, decode_json_lines
    from truceline.ingest.records import Record
    from truceline.ingest.sensorthings import decode_sensorthings

    decoders = {
        "json": decode_json,
        "jsonl": lambda data: decode_json_lines(data.splitlines()),
        "geojson": decode_geojson,
        "firms-plain": decode_firms_bytes,
        "sensorthings": decode_sensorthings,
        "acled": decode_acled_bytes,
        "cot": lambda data: decode_cot(data, CotOptions(org="UA", releasable_to=("COALITION",))),
    }
    for name, fmt in FORMAT_FILES.items():
        items = decoders[fmt]((INPUTS / name).read_bytes())
        yield f"format-{fmt}", [item.value for item in items if isinstance(item, Record)]
    klv = REPO / "tests" / "vectors" / "klv"
    for name in ("flight.klv", "marked.klv"):
        items = decode_klv((klv / name).read_bytes(), org="UA", default_source_id=name.split(".")[0])
        yield f"format-klv-{name}", [item.value for item in items if isinstance(item, Record)]


_ODD_FLOATS = [
    0.0, -0.0, 1.0, -1.0, 150.0, 1e-7, 1e-6, 9.999e-7, 1e-5, 1.5e-5, 0.0001, 0.00012345, 1e15, 1e16, 1.5e16, 1e20,
    1e21, 1.2345e21, 1e22, 123456789012345680000.0, 5e-324, 2.2250738585072014e-308, 1.7976931348623157e308,
    0.1 + 0.2, 1 / 3, 2 / 3, 100.0 / 3, 4.35, 0.5, 9007199254740991.0, 9007199254740992.0, -9007199254740991.0,
    333333333.33333329, 1e-4 - 1e-20, 12.5e-7, -1e-300, 2**60 * 1.0, 1e300,
]
_ODD_INTS = [0, 1, -1, 2**31, 2**53 - 1, -(2**53 - 1), 10**15, 7]
_STRINGS = [
    "", "plain", "with space", "quote\"back\\slash", "tab\tnew\nline\rcr\bbs\fff", "\x00\x01\x1f\x7f", "é ü ß",
    "Київ", "Запоріжжя", "\u2028\u2029", "😀 emoji", "\U0001f600", "\ue000private", "\uffff", "\ufeffbom",
    "</script>", "&<>'", "a" * 300, "ℵ∂∞", "\u00a0nbsp",
]
_KEYS = [
    "a", "b", "A", "Z", "aa", "a_b", "a-b", "1", "10", "2", "é", "ü", "€", "\ue000", "\U0001f600", "\U00010000", "\uff61",
    "ﬀ", "key with space", "\"q\"", "\\", "\u007f", "conf", "z" * 40,
]


def _value(rng: random.Random, depth: int) -> Any:
    roll = rng.random()
    if depth < 7 and roll < 0.12:
        return {rng.choice(_KEYS) + ("" if rng.random() < 0.7 else str(rng.randrange(9))): _value(rng, depth + 1)
                for _ in range(rng.randrange(0, 5))}
    if depth < 7 and roll < 0.22:
        return [_value(rng, depth + 1) for _ in range(rng.randrange(0, 5))]
    if roll < 0.45:
        return rng.choice(_ODD_FLOATS) * rng.choice([1, 1, -1])
    if roll < 0.55:
        return rng.uniform(-1e6, 1e6) if rng.random() < 0.5 else rng.random() * 10 ** rng.randrange(-12, 25)
    if roll < 0.68:
        return rng.choice(_ODD_INTS) * rng.choice([1, -1])
    if roll < 0.88:
        return rng.choice(_STRINGS)
    return rng.choice([True, False, None])


def _time(rng: random.Random) -> str:
    base = datetime(2020, 1, 1, tzinfo=UTC).timestamp() + rng.uniform(0, 5 * 365 * 86400)
    dt = datetime.fromtimestamp(base, tz=UTC)
    roll = rng.random()
    if roll < 0.15:
        return rng.choice(["2016-12-31T23:59:60Z", "2021-06-30T23:59:60.5+00:00", "2022-12-31T23:59:60z", "2023-06-30T23:59:60Z"])
    if roll < 0.35:
        hours = rng.choice(["+05:30", "-03:00", "+14:00", "-12:00", "+0200", "+00:00"])
        return dt.replace(tzinfo=None).isoformat(timespec=rng.choice(["seconds", "milliseconds", "microseconds"])) + hours
    if roll < 0.45:
        return dt.isoformat(timespec="microseconds").replace("+00:00", "Z").replace("T", " ")
    if roll < 0.55:
        # Once the Unix seconds as a string, which lax validation read as this instant; input is strict since
        # issue 20, so the same draw is sent as the ISO time it meant (same observation, same digests).
        return datetime.fromtimestamp(int(base), tz=UTC).isoformat().replace("+00:00", "Z")
    return dt.isoformat(timespec=rng.choice(["seconds", "milliseconds", "microseconds"])).replace("+00:00", "Z")


def _location(rng: random.Random) -> dict[str, Any]:
    roll = rng.random()
    lat = rng.choice([rng.uniform(-90, 90), rng.uniform(44, 52), 90.0, -90.0, 0.0, 48.0])
    lon = rng.choice([rng.uniform(-180, 180), rng.uniform(22, 40), 180.0, -180.0, -0.0, 37.5])
    if roll < 0.5:
        loc: dict[str, Any] = {"lat": lat, "lon": lon}
        if rng.random() < 0.3:
            loc["type"] = "point"
        u = rng.random()
        if u < 0.35:
            loc["cep_m"] = rng.choice([150, 150.0, 0.001, 1e6, rng.uniform(1, 5000), 12.5, 1e-5])
        elif u < 0.75:
            a, d = rng.uniform(1, 1e8), rng.uniform(1, 1e8)
            b = rng.uniform(-0.5, 0.5) * math.sqrt(a * d)
            loc["cov_m2"] = rng.choice([[[a, b], [b, d]], [[a, 0.0], [0.0, d]], [[100, 0], [0, 100]], ((a, b), (b, d))])
        if rng.random() < 0.3:
            loc["alt_m"] = rng.choice([0.0, -500, 100000, rng.uniform(-10, 3000), 150.0])
        return loc
    if roll < 0.75:
        loc = {"sensor_lat": lat, "sensor_lon": lon, "bearing_deg": rng.choice([0.0, 359.999, rng.uniform(0, 360), 90]),
               "bearing_sd_deg": rng.choice([180.0, 0.5, rng.uniform(0.01, 30), 2])}
        if rng.random() < 0.5:
            loc["sensor_cep_m"] = rng.uniform(1, 100)
        if rng.random() < 0.5:
            loc["max_range_m"] = rng.choice([1e6, 20_000, rng.uniform(100, 50_000)])
        if rng.random() < 0.3:
            loc["type"] = "bearing"
        return loc
    loc = {"name": rng.choice(["Bakhmut", "  Авдіївка ", "Saint-Péterbourg", "X", "😀 town", "a" * 200]),
           "precision": rng.choice([1, 2, 3, 4])}
    if rng.random() < 0.6:
        loc["lat"], loc["lon"] = lat, lon
    if rng.random() < 0.5:
        loc["admin"] = rng.choice(["Donetsk", "", "Запорізька область", " padded "])
    if rng.random() < 0.3:
        loc["type"] = "place"
    return loc


_SOURCE_TYPES = ["acoustic", "seismic", "radar", "uav", "satellite", "monitor", "osint", "official"]
_KINDS = ["explosion", "impact", "launch", "muzzle-flash", "small-arms-fire", "flight", "thermal", "equipment-sighting",
          "troop-movement", "damage", "casualty-report", "mine", "other"]
_LABELS = ["UA", "RU", "FR", "COALITION", "PUBLIC", "OSCE", "US", "A_B-9"]


def random_observation(i: int, rng: random.Random) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "time": _time(rng),
        "kind": rng.choice(_KINDS),
        "location": _location(rng),
        "source": {"id": rng.choice(["ua-acoustic-17", "x", "a.b:c@d/e+f-g", " padded-src "]), "type": rng.choice(_SOURCE_TYPES),
                   "org": rng.choice(_LABELS)},
    }
    if rng.random() < 0.85:
        doc["id"] = rng.choice([f"rnd-{i:05d}", f"A{i}.x:y@z/w+v-u", f" sp-{i} "])
    if rng.random() < 0.7:
        doc["time_uncertainty_s"] = rng.choice([0, 0.0, 2.0, 1e-7, 60, 43200.0, 2592000.0, rng.uniform(0, 1000), 0.1 + 0.2])
    if rng.random() < 0.8:
        doc["reliability"] = rng.choice("ABCDEF")
    if rng.random() < 0.8:
        credibility = rng.choice([1, 2, 3, 4, 5, 6, "3"])  # the same draws as before issue 20 ...
        doc["credibility"] = 3 if credibility == "3" else credibility  # ... but "3" is no longer read as 3
    if rng.random() < 0.8:
        doc["releasable_to"] = rng.sample(_LABELS, rng.randrange(0, 4)) * rng.choice([1, 1, 2])
    if rng.random() < 0.7:
        doc["attributes"] = {rng.choice(_KEYS) + str(k): _value(rng, 1) for k in range(rng.randrange(1, 12))}
    if rng.random() < 0.2:
        doc["evidence_hash"] = "sha256:" + hashlib.sha256(str(i).encode()).hexdigest()
    return doc


def random_records(count: int = 400, seed: int = 20261123) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    return [random_observation(i, rng) for i in range(count)]


def invalid_records() -> list[Any]:
    """Records validation refuses, one broken rule (or a few) each."""
    base = {"id": "bad-0", "time": "2023-04-02T03:15:00Z", "kind": "explosion", "location": {"lat": 48.1, "lon": 37.7, "cep_m": 150},
            "source": {"id": "ua-acoustic-17", "type": "acoustic", "org": "UA"}, "reliability": "B", "credibility": 2,
            "releasable_to": ["COALITION"], "attributes": {"ok": 1}}
    deep: Any = 1
    for _ in range(9):
        deep = {"d": deep}
    deep_list: Any = 1
    for _ in range(9):
        deep_list = [deep_list]
    changes: list[tuple[tuple[str, ...], Any]] = [
        (("attributes", "nan"), float("nan")), (("attributes", "inf"), float("inf")), (("attributes", "big"), 2**53),
        (("attributes", "neg"), -(2**53)), (("attributes", "deep"), deep), (("attributes", "deeplist"), deep_list),
        (("attributes", "tuple"), (1, 2)), (("attributes", "set"), {1}), (("attributes", "bytes"), b"x"),
        (("attributes", "nested"), {"a": [1, {"b": float("-inf")}]}), (("attributes", "obj"), ValueError("obj")),
        (("attributes",), {f"k{i}": i for i in range(65)}), (("attributes",), {1: "int key"}),
        (("attributes", "x"), {"y": [1, 2, {"z": 2**60}]}),
        (("time",), "2023-04-02T03:15:00"), (("time",), "2023-04-02T23:59:60Z"), (("time",), "1999-12-31T23:59:59Z"),
        (("time",), "2100-01-01T00:00:00Z"), (("time",), "not a time"), (("time",), "2023-02-30T00:00:00Z"),
        (("time_uncertainty_s",), -1), (("time_uncertainty_s",), 1e9), (("time_uncertainty_s",), float("nan")),
        (("kind",), "explosions"), (("kind",), "EXPLOSION"), (("location", "lat"), 91), (("location", "lon"), -180.5),
        (("location", "cep_m"), 0), (("location", "cep_m"), 1e7), (("location", "cov_m2"), [[1, 0], [0, 1]]),
        (("location",), {"lat": 1, "lon": 2, "cov_m2": [[1, 2], [3, 4]]}), (("location",), {"lat": 1, "lon": 2, "cov_m2": [[1, 2], [2, 1]]}),
        (("location",), {"lat": 1, "lon": 2, "cov_m2": [[1e13, 0], [0, 1]]}), (("location",), {"lat": 1, "lon": 2, "cov_m2": [[1, 0]]}),
        (("location",), {"type": "polygon"}), (("location",), {"type": 3}), (("location",), "somewhere"),
        (("location",), {"sensor_lat": 1, "sensor_lon": 2, "bearing_deg": 360, "bearing_sd_deg": 0}),
        (("location",), {"name": "", "precision": 5}), (("location",), {"name": "X", "precision": 1, "lat": 1}),
        (("location",), {"lat": 1, "lon": 2, "extra": 1}), (("source", "type"), "drone"), (("source", "org"), "ua"),
        (("source", "id"), "-bad"), (("source",), {"id": "x"}), (("reliability",), "G"), (("credibility",), 7),
        (("credibility",), "seven"), (("releasable_to",), ["coalition"]), (("releasable_to",), ["X" + str(i) for i in range(65)]),
        (("evidence_hash",), "sha256:xyz"), (("id",), ""), (("id",), "a" * 129), (("extra",), 1),
        (("location", "alt_m"), -501), (("location", "lat"), "48.1"), (("location", "lat"), True),
    ]
    out: list[Any] = []
    for path, value in changes:
        doc = copy.deepcopy(base)
        target = doc
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value
        out.append(doc)
    for drop in ("time", "kind", "location", "source"):
        doc = copy.deepcopy(base)
        del doc[drop]
        out.append(doc)
    out.extend([None, [], "a string", 3])
    # appended, so the indexes above stay put: "drone" (above) is a synonym of "uav" since issue 22 and is
    # accepted; these stay refused, naming the words accepted
    for word in ("helicopter", "Drone"):
        doc = copy.deepcopy(base)
        doc["source"]["type"] = word
        out.append(doc)
    # appended for issue 20 (strict input): values lax validation used to coerce, and the attributes cap
    strict: list[tuple[tuple[str, ...], Any]] = [
        (("credibility",), True), (("credibility",), "2"), (("credibility",), 2.0), (("time",), 1680405300),
        (("time",), "1680405300"), (("time",), 1680405300.5), (("time",), True), (("time_uncertainty_s",), "5"),
        (("time_uncertainty_s",), False), (("location", "cep_m"), "150"), (("location", "lon"), "37.7"),
        (("location", "lat"), float("nan")), (("location", "lon"), float("inf")), (("location", "cov_m2"), [["1", 0], [0, 1]]),
        (("location",), {"lat": 1, "lon": 2, "alt_m": "100"}), (("location",), {"name": "X", "precision": True}),
        (("location",), {"name": "X", "precision": "2"}), (("location",), {"sensor_lat": 1, "sensor_lon": 2, "bearing_deg": True, "bearing_sd_deg": 2}),
        (("attributes", "blob"), "x" * (56 * 1024)),
    ]
    for path, value in strict:
        doc = copy.deepcopy(base)
        target = doc
        for key in path[:-1]:
            target = target[key]
        if path == ("location", "cov_m2"):
            del target["cep_m"]
        target[path[-1]] = value
        out.append(doc)
    return out


def corpus() -> Iterator[tuple[str, list[Any]]]:
    """(group, raw records) of every valid group."""
    yield "demo-firms", demo_firms_records()
    yield from format_records()
    yield "random", random_records()


# -- digests --------------------------------------------------------------------------------------------
def _hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def reference_bytes(document: Any) -> bytes:
    """RFC 8785 bytes by the slow, path-tracking reference encoder alone (no orjson, no fast paths)."""
    from truceline.ledger.canonical import _write

    out: list[str] = []
    _write(document, "$", out, 0)
    return "".join(out).encode("utf-8")


def record_line(obs: Any) -> str:
    """One line per observation: id, canonical digest, commitment, leaf hash, store-row digest."""
    from truceline.ledger.canonical import canonical_json
    from truceline.ledger.commitment import canonical_observation, commit_canonical, commitment, observation_leaf
    from truceline.ledger.merkle import leaf_hash
    from truceline.store.sqlite import prepare_observation

    canonical = canonical_observation(obs)
    document = obs.model_dump(mode="json", exclude_none=True)
    if not canonical == canonical_json(document) == reference_bytes(document):
        raise AssertionError(f"{obs.id}: canonical_observation differs from the reference encoder")
    salt = hashlib.sha256(b"golden-salt|" + str(obs.id).encode()).digest()[:16]
    commit = commit_canonical(salt, canonical)
    if commit != commitment(salt, obs.model_dump(mode="json", exclude_none=True)):
        raise AssertionError(f"{obs.id}: commit_canonical differs from commitment")
    leaf = observation_leaf(commit, RECEIVED_ISO)
    prepared = prepare_observation(obs, RECEIVED_US, RECEIVED_ISO)
    if prepared.leaf != observation_leaf(commit_canonical(prepared.salt, canonical), RECEIVED_ISO):
        raise AssertionError(f"{obs.id}: the store's leaf is not the leaf of its document")
    row = repr((prepared.id, prepared.owner_org, prepared.labels, prepared.columns, prepared.doc_sha256)).encode()
    return f"{obs.id} {_hex(canonical)} {commit} {leaf_hash(leaf).hex()} {_hex(row)}"


def group_digests(records: list[Any]) -> dict[str, Any]:
    from truceline.ingest.validation import validate_batch, validation_context

    good, errors = validate_batch(records, validation_context(now=NOW))
    lines = [record_line(obs) for obs in good]
    blocks = [_hex("\n".join(lines[i : i + BLOCK]).encode()) for i in range(0, len(lines), BLOCK)]
    return {
        "records": len(records),
        "valid": len(good),
        "errors": _hex(json.dumps([e.as_dict() for e in errors], ensure_ascii=False).encode()),
        "blocks": blocks,
    }


def invalid_digests() -> list[str]:
    from truceline.ingest.validation import validate_batch, validation_context

    out = []
    for record in invalid_records():
        good, errors = validate_batch([record], validation_context(now=NOW))
        accepted = [record_line(obs) for obs in good]  # none since issue 20 (lax mode once took "48.1" as a number)
        out.append(_hex(json.dumps([accepted, [e.as_dict() for e in errors]], ensure_ascii=False).encode()))
    return out


def schema_digests() -> dict[str, str]:
    from truceline.domain.observation import Observation

    return {
        mode: _hex(json.dumps(Observation.model_json_schema(mode=mode), sort_keys=True).encode())  # type: ignore[arg-type]
        for mode in ("validation", "serialization")
    }


def compute() -> dict[str, Any]:
    return {
        "groups": {name: group_digests(records) for name, records in corpus()},
        "invalid": invalid_digests(),
        "schema": schema_digests(),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inputs", action="store_true", help="also regenerate inputs/ from bench/formats.py")
    args = parser.parse_args()
    if args.inputs:
        write_inputs()
    result = compute()
    GOLDEN.write_text(json.dumps(result, indent=1, sort_keys=True) + "\n")
    for name, group in result["groups"].items():
        print(f"{name}: {group['valid']} of {group['records']} valid, {len(group['blocks'])} blocks")
    print(f"invalid: {len(result['invalid'])}; wrote {GOLDEN}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
