"""Geoparsing on a held-out set of 2024–25: WarSpotting volunteers' place strings against their geolocated points.

    truceline bench geoparse_heldout WARSPOTTING_CSV [--years 2024 2025] [--sample 2000] [--misses 15]
    python bench/geoparse_heldout.py WARSPOTTING_CSV [...]

Why: Bellingcat's 2022–23 incidents (``truceline bench geoparse``) are the set the geoparser was developed on; issue
#16 asks for the figures on reports it has never seen, of the 2024–25 theatre (Kursk and Belgorod oblasts, the
Pokrovsk and Toretsk fronts). WarSpotting.net's volunteers record each geolocated loss of equipment with a place
string ("Martynovka, Sudzha raion", "Novotoretske (Shakhove hromada), Pokrovsk raion") and the point.

The data is not bundled: its reuse terms are unchecked. The file used on 2026-12-06 is ``warspotting_losses.csv``
of github.com/lazar-bit/automated-warspotting-scraper at commit 29fba10203e1c2a7b673e3f350c866cfb79cf845 (scraped
from the WarSpotting public API; data © WarSpotting.net volunteers); columns ``id``, ``date``,
``nearest_location``, ``latitude``, ``longitude``. Any file with those columns works.

Rows dated 2024-01-01..2025-12-31 (``--years``: other calendar years instead, e.g. 2022 2023 as more
development data, or a later year held out) with a place string and a point in the theatre's box are kept, identical
(string, point) pairs once; ``--sample`` of them are taken evenly over (date, id). Scored as the Bellingcat bench
is: the first resolved place of ``parse_location`` within 10 km (an unplaced string is a miss), > 100 km as a
share of returned points, and the ceiling (an oracle picking the nearest place the string names). 2024 is the
half thresholds were tuned on, 2025 the half looked at only at the end: each is reported on its own.
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from truceline.text.evaluation import Incident, Score, ceiling, first_point, score
from truceline.text.gazetteer import distance_km
from truceline.text.geoparse import Geoparser

#: The held-out years by default: 2024 tuned on, 2025 looked at only at the end.
YEARS = (2024, 2025)
#: Years ``--years`` accepts: the war's years in the export, and later ones as they come.
FIRST_YEAR, LAST_YEAR = 2022, 2100
#: Points outside this box (lat, lon) are not of the theatre: a typo in a coordinate, not a geoparsing question.
BOX = (40.0, 60.0, 20.0, 50.0)


def read_incidents(path: Path, sample: int, years: Sequence[int] = YEARS) -> list[Incident]:
    """The incidents of ``years`` in a WarSpotting CSV with a place string and a point, deduplicated, sampled evenly.

    Rows of other years are skipped before anything else is read of them.
    """
    wanted = {f"{year:04d}" for year in years}
    rows: list[tuple[str, int, Incident]] = []
    seen: set[tuple[str, float, float]] = set()
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        missing = {"id", "date", "nearest_location", "latitude", "longitude"} - set(reader.fieldnames or ())
        if missing:
            raise ValueError(f"{path}: not a WarSpotting export, missing column(s) {', '.join(sorted(missing))}")
        for row in reader:
            day, location = (row["date"] or "")[:10], (row["nearest_location"] or "").strip()
            if day[:4] not in wanted or len(day) < 10 or not location:
                continue
            try:
                lat, lon, ident = float(row["latitude"]), float(row["longitude"]), int(row["id"])
            except (TypeError, ValueError):
                continue  # no point (or no id): nothing to score against
            if not (BOX[0] < lat < BOX[1] and BOX[2] < lon < BOX[3]):
                continue
            key = (location, round(lat, 6), round(lon, 6))
            if key not in seen:
                seen.add(key)
                rows.append((day, ident, Incident(location, lat, lon, day)))
    rows.sort(key=lambda r: (r[0], r[1]))
    if sample and len(rows) > sample:
        rows = [rows[i * len(rows) // sample] for i in range(sample)]
    return [incident for _, _, incident in rows]


def _years(text: str) -> int:
    """A calendar year for ``--years``, refused with a precise message outside the range the export can hold."""
    try:
        year = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a year: {text!r}") from None
    if not FIRST_YEAR <= year <= LAST_YEAR:
        raise argparse.ArgumentTypeError(f"year {year} outside {FIRST_YEAR}..{LAST_YEAR}")
    return year


def _line(label: str, result: Score, ceiling_hits: int) -> str:
    of_ceiling = f"{result.within_near / ceiling_hits:.3f}" if ceiling_hits else "-"
    return (f"{label:<10} n={result.total:>5}  within 10 km {100 * result.within_near_share:5.1f}%  ceiling "
            f"{100 * ceiling_hits / max(result.total, 1):5.1f}%  of the ceiling {of_ceiling}  unplaced "
            f"{100 * (result.total - result.returned) / max(result.total, 1):4.1f}%  > 100 km {100 * result.beyond_wrong_share:4.1f}% of returned")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("csv", type=Path, help="a WarSpotting export (warspotting_losses.csv)")
    parser.add_argument("--years", type=_years, nargs="+", default=list(YEARS),
                        help=f"calendar years of the rows scored (default: {' '.join(map(str, YEARS))}, the held-out years)")
    parser.add_argument("--sample", type=int, default=2000, help="incidents taken evenly over time (0: all)")
    parser.add_argument("--misses", type=int, default=15, help="misses to print, evenly spaced by distance")
    args = parser.parse_args(argv)
    try:
        years = sorted(set(args.years))
        incidents = read_incidents(args.csv, args.sample, years)
    except (OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if not incidents:
        print(f"error: {args.csv} has no incident of {', '.join(map(str, years))} with a place string and a point", file=sys.stderr)
        return 2
    geoparser = Geoparser()
    started = time.process_time()
    points = [first_point(geoparser.parse_location(incident.location)) for incident in incidents]
    seconds = time.process_time() - started
    oracle = ceiling(incidents, geoparser)
    print(f"{len(incidents):,} incidents of {args.csv.name} ({', '.join(map(str, years))}); {len(incidents) / max(seconds, 1e-9):,.0f} strings per CPU second")
    halves = {"all": list(range(len(incidents)))}
    for year in sorted({incident.date[:4] for incident in incidents}):
        halves[year] = [i for i, incident in enumerate(incidents) if incident.date.startswith(year)]
    for label, chosen in halves.items():
        result = score([incidents[i] for i in chosen], [points[i] for i in chosen])
        print(_line(label, result, sum(oracle.hits[i] for i in chosen)))
    print(f"ceiling misses by the kind of the nearest named point: {oracle.misses_by_kind}")
    misses = sorted(
        ((distance_km(incident.lat, incident.lon, point[0], point[1]) if point else None, incident)
         for incident, point in zip(incidents, points, strict=True)
         if point is None or distance_km(incident.lat, incident.lon, point[0], point[1]) > 10),
        key=lambda m: (m[0] is None, m[0] or 0.0),
    )
    shown = min(args.misses, len(misses))
    print(f"{shown} of {len(misses):,} misses, evenly spaced by distance:")
    for k in range(shown):
        km, incident = misses[k * len(misses) // shown]
        print(f"  {incident.location!r}: {'unplaced' if km is None else f'{km:.1f} km off'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
