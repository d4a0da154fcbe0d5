"""Where a JSON record's decoding time goes: each step of file ingest's validated path, timed alone.

    truceline bench json_steps [--records 20000] [--repeat 7]
    python bench/json_steps.py [...]

For the formats benchmark's native JSON and SensorThings files (bench/formats.py's generators; SensorThings
also with a Datastream of its own per Observation), one line per step: CPU microseconds per record, best of ``--repeat``, with the cyclic collector paused (as the decoders
run), next to ``json.loads`` of the same bytes (the floor ``truceline bench formats`` divides by).
docs/performance.md ("Third round") reads these figures.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import msgspec

from truceline.domain.observation_fast import RecordIn, collector_paused, decode_records, record_parts
from truceline.ingest import sensorthings, sensorthings_fast
from truceline.ingest.validated_json import validated_document, validated_or_checked


def _best(n: int, repeat: int, run: Callable[[], Any]) -> float:
    best = float("inf")
    for _ in range(repeat):
        with collector_paused():
            start = time.process_time()
            result = run()
            best = min(best, time.process_time() - start)
            del result
    return best / n * 1e6


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args(argv)
    n, repeat = args.records, args.repeat
    sys.path.insert(0, str(Path(__file__).parent))
    from formats import gen_native_json, gen_sensorthings, gen_sensorthings_distinct  # the formats benchmark's files

    latest = datetime.now(UTC) + timedelta(minutes=5)

    def line(fmt: str, step: str, run: Callable[[], Any]) -> None:
        print(f"{fmt:<13} {step:<48} {_best(n, repeat, run):6.2f} µs/record")
        sys.stdout.flush()

    native = gen_native_json(n, random.Random(7))
    decoded = decode_records(native)
    assert isinstance(decoded, list)
    line("native-json", "json.loads (the floor)", lambda: json.loads(native))
    line("native-json", "msgspec decode into RecordIn", lambda: decode_records(native))
    line("native-json", "record_parts", lambda: [record_parts(r) for r in decoded])
    line("native-json", "validated_or_checked (parts, document, item)", lambda: [validated_or_checked(r, latest) for r in decoded])
    line("native-json", "validated_document (all of it)", lambda: validated_document(native, datetime.now(UTC)))

    sta = gen_sensorthings(n, random.Random(7))
    doc = sensorthings.load_json(sta)
    mapped = [item.value for item in sensorthings._document(doc, None, None)]
    converted = [msgspec.convert(record, RecordIn) for record in mapped]
    line("sensorthings", "json.loads (the floor)", lambda: json.loads(sta))
    line("sensorthings", "orjson.loads", lambda: sensorthings.load_json(sta))
    line("sensorthings", "mapping to native records", lambda: list(sensorthings._document(doc, None, None)))
    line("sensorthings", "msgspec.convert to RecordIn", lambda: [msgspec.convert(record, RecordIn) for record in mapped])
    line("sensorthings", "record_parts", lambda: [record_parts(r) for r in converted])
    line("sensorthings", "validated_or_checked (parts, document, item)", lambda: [validated_or_checked(r, latest) for r in converted])
    line("sensorthings", "old path: orjson, mapping, checks (all of it)", lambda: list(
        sensorthings.decode_sensorthings_document(sensorthings.load_json(sta), None, datetime.now(UTC))))  # fmt: skip
    response = sensorthings_fast._decode(sta)
    line("sensorthings", "fast path: number-shape scan", lambda: sensorthings_fast._may_overflow(sta))
    line("sensorthings", "fast path: msgspec decode, Datastreams raw", lambda: sensorthings_fast._decode(sta))
    streams = {bytes(o.datastream): sensorthings_fast._stream(msgspec.json.decode(o.datastream), None) for o in response.value}
    line("sensorthings", "fast path: per Observation (_validated)", lambda: [
        sensorthings_fast._validated(o, streams[bytes(o.datastream)], latest) for o in response.value])  # fmt: skip
    line("sensorthings", "decode_sensorthings (all of it)", lambda: list(sensorthings.decode_sensorthings(sta, None, datetime.now(UTC))))
    distinct = gen_sensorthings_distinct(n, random.Random(7))
    line("sta-distinct", "json.loads (the floor)", lambda: json.loads(distinct))
    line("sta-distinct", "decode_sensorthings (all of it)", lambda: list(sensorthings.decode_sensorthings(distinct, None, datetime.now(UTC))))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
