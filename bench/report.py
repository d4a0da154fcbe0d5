"""Daily report for a day with 2,000 incidents: time per format next to the data gathering alone, same run.

    truceline bench report [--incidents 2000] [--history-incidents 2000] [--seed 0] [--keep DIR]
    python bench/report.py [...]

Builds a data dir with the demo agreement and simulated observations of ``--incidents`` events on the report
day and ``--history-incidents`` on each of the 7 days before (1–3 observations each from different
organisations, a third with an estimated origin, 70% releasable to PUBLIC, the rest to COALITION only),
ingests and fuses them for real, then times the public edition end to end — gather (read, re-fuse for the
reader, judge 8 days, sectors, evidence, checkpoint), charts, map and rendering — once per format. The
baseline is the gathering alone; "warm-up" is the one-off cost a fresh process pays first (agreement geometry,
gazetteer, matplotlib), counted in none of the figures.
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

GOAL_S = 10.0
DAY = date(2023, 5, 10)
ORGS = (("FR", "radar"), ("US", "uav"), ("GB", "acoustic"), ("UA", "acoustic"))


def _points_near_line(geometry: Any, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """n points within ~20 km of the line of contact, uniform along its length."""
    line = geometry.contact_line_xy
    at = rng.uniform(0, line.length, n)
    import shapely

    base = shapely.line_interpolate_point(line, at)
    x = shapely.get_x(base) + rng.normal(0, 12_000, n)
    y = shapely.get_y(base) + rng.normal(0, 12_000, n)
    lon, lat = geometry.projection.inverse(x, y)
    return np.asarray(lat), np.asarray(lon)


def _records(geometry: Any, day: date, n: int, rng: np.random.Generator, prefix: str) -> list[dict[str, Any]]:
    lat, lon = _points_near_line(geometry, n, rng)
    olat, olon = _points_near_line(geometry, n, rng)
    start = datetime.combine(day, datetime.min.time(), tzinfo=UTC)
    seconds = np.sort(rng.uniform(0, 86_399, n))
    out: list[dict[str, Any]] = []
    for k in range(n):
        when = start + timedelta(seconds=float(seconds[k]))
        labels = ["PUBLIC"] if rng.random() < 0.7 else ["COALITION"]
        with_origin = rng.random() < 1 / 3
        for j in range(int(rng.integers(1, 4))):
            org, stype = ORGS[j]
            dlat = rng.normal(0, 0.0008)
            doc: dict[str, Any] = {
                "id": f"{prefix}-{k}-{j}",
                "time": (when + timedelta(seconds=float(rng.normal(0, 1)))).isoformat().replace("+00:00", "Z"),
                "time_uncertainty_s": 5,
                "kind": "explosion" if rng.random() < 0.9 else "thermal",
                "location": {"lat": float(lat[k] + dlat), "lon": float(lon[k] + rng.normal(0, 0.0011)), "cep_m": 150},
                "source": {"id": f"{org.lower()}-{stype}-{k % 7}", "type": stype, "org": org},
                "reliability": "B",
                "credibility": 2,
                "releasable_to": labels,
            }
            if with_origin and j == 0:
                doc["attributes"] = {"origin": {"lat": float(olat[k]), "lon": float(olon[k]), "cep_m": 400}}
            out.append(doc)
    return out


def build(data_dir: Path, incidents: int, history: int, seed: int) -> tuple[Any, Any]:
    """A fused data dir for the bench; returns (store, ledger key)."""
    from truceline.api.routes_ledger import ensure_ledger_key
    from truceline.ingest.validation import validate_batch, validation_context
    from truceline.service.fusion import FusionWorker
    from truceline.store.sqlite import open_store
    from truceline.verify.agreement_loader import load_demo_agreement
    from truceline.verify.geometry import geometry_for

    rng = np.random.default_rng(seed)
    agreement = load_demo_agreement()
    geometry = geometry_for(agreement)
    store = open_store(data_dir)
    store.save_agreement(agreement.canonical_document(), agreement.digest(), "bench")
    for org in ("FR", "US", "GB"):
        store.set_organisation(org, ["COALITION"])
    context = validation_context()
    for back in range(7, -1, -1):
        day = DAY - timedelta(days=back)
        records = _records(geometry, day, incidents if back == 0 else history, rng, f"d{back}")
        observations, errors = validate_batch(records, context)
        if errors:
            raise SystemExit(f"bench data invalid: {errors[0]}")
        for i in range(0, len(observations), 5000):
            store.add_observations(observations[i : i + 5000])
    FusionWorker(store).run_until_idle()
    return store, ensure_ledger_key(data_dir)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; returns 0 (figures are printed, the goal is reported, not enforced)."""
    parser = argparse.ArgumentParser(prog="bench/report.py", description=__doc__.splitlines()[0])
    parser.add_argument("--incidents", type=int, default=2000, help="events on the report day (default 2,000)")
    parser.add_argument("--history-incidents", type=int, default=2000, help="events on each of the 7 days before (default 2,000)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--keep", type=Path, help="build the data dir here and keep it (default: a temporary dir)")
    args = parser.parse_args(argv)
    if args.incidents < 1 or args.history_incidents < 0:
        parser.error("--incidents must be positive and --history-incidents not negative")

    from truceline.report.audience import edition_reader
    from truceline.report.build import agreement_in_force
    from truceline.report.daily import LedgerRef, gather_daily
    from truceline.report.render import render
    from truceline.report.sectors import default_sectors
    from truceline.store.ports import IncidentQuery

    with tempfile.TemporaryDirectory(prefix="truceline-bench-report-") as tmp:
        data_dir = args.keep or Path(tmp) / "data"
        t0 = time.perf_counter()
        store, key = build(data_dir, args.incidents, args.history_incidents, args.seed)
        t_build = time.perf_counter() - t0
        try:
            reader = edition_reader("public")
            start = datetime.combine(DAY, datetime.min.time(), tzinfo=UTC)
            on_day = len(store.list_incidents(IncidentQuery(since=start, until=start + timedelta(days=1), limit=10**7)))
            in_week = len(store.list_incidents(IncidentQuery(since=start - timedelta(days=7), until=start + timedelta(days=1), limit=10**7)))

            def sign() -> LedgerRef:
                return LedgerRef.from_signed(store.ledger_checkpoint(key), key.verifier_key())

            t0 = time.perf_counter()
            agreement, geometry = agreement_in_force(store)
            sectors = default_sectors()
            warm = gather_daily(store, agreement, geometry, sectors, reader, DAY - timedelta(days=20), "public", sign)
            render(warm, geometry, "html")
            render(warm, geometry, "pdf")
            t_warm = time.perf_counter() - t0

            def gather() -> Any:
                return gather_daily(store, agreement, geometry, sectors, reader, DAY, "public", sign)

            t0 = time.perf_counter()
            report = gather()
            t_gather = time.perf_counter() - t0
            timings: dict[str, tuple[float, int]] = {}
            for fmt in ("html", "md", "pdf"):
                t0 = time.perf_counter()
                content = render(gather(), geometry, fmt)
                timings[fmt] = (time.perf_counter() - t0, len(content))
        finally:
            store.close()

    print(f"data: {on_day:,} incidents on {DAY.isoformat()} ({in_week:,} in the 8 days), built and fused in {t_build:.1f} s")
    print(f"public edition: {report.incidents:,} incidents, {report.violations:,} violations, "
          f"{len(report.unverified):,} not verified, {len(report.notable)} notable")
    print(f"warm-up (geometry, gazetteer, matplotlib, WeasyPrint; once per process): {t_warm:.2f} s")
    print(f"baseline: gather alone (read, re-fuse for the reader, judge 8 days, sectors, evidence, checkpoint): {t_gather:.2f} s")
    for fmt, (seconds, size) in timings.items():
        print(f"{fmt}: {seconds:.2f} s end to end ({seconds - t_gather:+.2f} s over the baseline), {size:,} bytes")
    worst = max(s for s, _ in timings.values())
    print(f"goal: every format under {GOAL_S:.0f} s for {args.incidents:,} incidents: {'met' if worst < GOAL_S else 'NOT met'} "
          f"(slowest {worst:.2f} s)")
    return 0 if math.isfinite(worst) else 1


if __name__ == "__main__":
    sys.exit(main())
