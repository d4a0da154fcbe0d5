"""Conflict-fire analytic on all of 2022 against the 2021 baseline: numpy vs a plain pandas groupby, same run.

    truceline bench firms [--year 2022] [--baseline-year 2021] [--datasets DIR] [--ingest] [--reality]
    python bench/firms.py [...]

Both implementations compute the same baseline (active days per cell × day-of-year window, 3 × 3
neighbourhood, floor, season factor) and the same flags; the run checks that they agree before reporting. Time includes building the
baseline and analysing the year, not reading the CSV (done once, shared). Peak memory is the
tracemalloc peak (numpy and pandas buffers are traced) of each analysis.

``--ingest`` also times ``truceline ingest --format firms`` of the whole year into a fresh SQLite store
(decode, analytic with the bundled baseline, validation, storage with ledger leaves). ``--reality`` prints
the figures of docs/satellite.md: flagged shares near the ISW line and in the west, and Bellingcat's
verified incidents matched against chance.
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.special import bdtrc

from truceline.fuse.conflict_fire import (
    ACTIVITY_HALF_WINDOW_DAYS,
    ALPHA,
    BLOCK_CELLS,
    CARRY_OVER_DAYS,
    CELL_DEG,
    DEFAULT_FLOOR,
    DEFAULT_HALF_WINDOW_DAYS,
    MIN_BLOCK_ACTIVITY,
    MIN_SEPARATION_DAYS,
    PERSISTENT_MIN_ACTIVE_DAYS,
    FireBaseline,
    detect_conflict_fires,
)

GOAL_S = 10.0
DATASETS = Path(__file__).resolve().parents[1].parent / "shared" / "datasets"
Columns = tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.datetime64]]


def load_minimal_firms(path: Path) -> Columns:
    """``(lat, lon, date)`` arrays of a FIRMS CSV (any layout with latitude, longitude, acq_date; any case)."""
    with path.open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.reader(fh)
        header = [c.strip().lower() for c in next(reader)]
        i_lat, i_lon, i_date = header.index("latitude"), header.index("longitude"), header.index("acq_date")
        rows = [(r[i_lat], r[i_lon], r[i_date]) for r in reader if r]
    lat = np.array([r[0] for r in rows], dtype=np.float64)
    lon = np.array([r[1] for r in rows], dtype=np.float64)
    date = np.array([r[2] for r in rows], dtype="datetime64[D]")
    return lat, lon, date


def pandas_flags(base: Columns, year: Columns) -> NDArray[np.bool_]:
    """The same analytic written the plain pandas way (groupby, merge, merge_asof): the bench baseline."""
    import pandas as pd

    def frame(cols: Columns) -> Any:
        df = pd.DataFrame({"lat": cols[0], "lon": cols[1], "date": cols[2]})
        df["iy"] = np.floor(np.round(df["lat"] / CELL_DEG, 9)).astype("int64")
        df["ix"] = np.floor(np.round(df["lon"] / CELL_DEG, 9)).astype("int64")
        doy = df["date"].dt.day_of_year - 1
        df["doy"] = doy - ((df["date"].dt.is_leap_year) & (doy >= 59)).astype("int64")
        df["year"] = df["date"].dt.year
        return df

    def shifted(df: Any, column: str, half: int, modulo: int | None = None) -> Any:
        out = df.merge(pd.DataFrame({"shift": np.arange(-half, half + 1)}), how="cross")
        out[column] = out[column] + out["shift"] if modulo is None else (out[column] + out["shift"]) % modulo
        return out.drop(columns="shift")

    w, h = DEFAULT_HALF_WINDOW_DAYS, ACTIVITY_HALF_WINDOW_DAYS
    b = frame(base)
    years = b["year"].nunique()
    act = b[["iy", "ix", "year", "doy"]].drop_duplicates()
    per_cell = act.groupby(["iy", "ix"]).size() / years
    persistent = per_cell[per_cell >= PERSISTENT_MIN_ACTIVE_DAYS].reset_index()[["iy", "ix"]].assign(persistent=True)
    own = shifted(act, "doy", w, 365).groupby(["iy", "ix", "doy"]).size().rename("own").reset_index()
    nb = own.merge(pd.DataFrame({"dy": np.repeat([-1, 0, 1], 3), "dx": np.tile([-1, 0, 1], 3)}), how="cross")
    nb["iy"] += nb["dy"]
    nb["ix"] += nb["dx"]
    neigh = nb.groupby(["iy", "ix", "doy"])["own"].sum().rename("neigh").reset_index()
    score = neigh.merge(own, on=["iy", "ix", "doy"], how="left").fillna({"own": 0})
    score["score"] = np.maximum(9 * score["own"], score["neigh"])
    by_lo, by_hi = (b["iy"].min() - 1) // BLOCK_CELLS, (b["iy"].max() + 1) // BLOCK_CELLS
    bx_lo, bx_hi = (b["ix"].min() - 1) // BLOCK_CELLS, (b["ix"].max() + 1) // BLOCK_CELLS

    def blocks(cells: Any) -> Any:
        c = cells.assign(by=cells["iy"] // BLOCK_CELLS, bx=cells["ix"] // BLOCK_CELLS)
        c = c[c["by"].between(by_lo, by_hi) & c["bx"].between(bx_lo, bx_hi)]
        return shifted(c, "doy", w, 365).groupby(["year", "by", "bx", "doy"]).size().rename("n").reset_index()

    base_blocks = blocks(act).groupby(["by", "bx", "doy"])["n"].sum().rename("base").reset_index()
    base_blocks["base"] = base_blocks["base"] / years

    y = frame(year)
    cd = y.groupby(["iy", "ix", "date", "doy", "year"]).size().rename("k").reset_index()
    window = cd[["iy", "ix", "date"]].assign(d=cd["date"])
    window = window.merge(pd.DataFrame({"off": pd.to_timedelta(np.arange(-h, h + 1), unit="D")}), how="cross")
    window["d"] = window["d"] + window["off"]
    hits = window.merge(cd[["iy", "ix", "date"]].rename(columns={"date": "d"}), on=["iy", "ix", "d"])
    m = hits.groupby(["iy", "ix", "date"]).size().rename("m").reset_index()
    cd = cd.merge(m, on=["iy", "ix", "date"])

    now = blocks(cd[["iy", "ix", "year", "doy"]])
    grid = base_blocks.merge(pd.DataFrame({"year": cd["year"].unique()}), how="cross")
    votes = grid.merge(now, on=["year", "by", "bx", "doy"], how="outer").fillna({"base": 0.0, "n": 0})
    votes = votes[(votes["n"] + votes["base"]) >= MIN_BLOCK_ACTIVITY]
    votes["ratio"] = (votes["n"] + 1) / (votes["base"] + 1)
    factor = votes.groupby(["year", "doy"])["ratio"].median().clip(lower=1.0).rename("factor").reset_index()
    cd = cd.merge(factor, on=["year", "doy"], how="left").fillna({"factor": 1.0})
    cd = cd.merge(score[["iy", "ix", "doy", "score"]], on=["iy", "ix", "doy"], how="left").fillna({"score": 0})
    rate = np.maximum(cd["score"] / (9.0 * (2 * w + 1) * years), DEFAULT_FLOOR)
    cd["p"] = np.minimum(rate * cd["factor"], 1.0)
    cd["prob"] = bdtrc(cd["m"] - 1, 2 * h + 1, cd["p"])
    cd = cd.merge(persistent, on=["iy", "ix"], how="left").fillna({"persistent": False})
    cd["q"] = (cd["prob"] < ALPHA) & ~cd["persistent"].astype(bool)
    q = cd[cd["q"]]
    extent = q.groupby(["iy", "ix"])["date"].agg(["min", "max"])
    war = extent[(extent["max"] - extent["min"]).dt.days >= MIN_SEPARATION_DAYS].reset_index()[["iy", "ix"]]
    war["war"] = True
    cd = cd.merge(war, on=["iy", "ix"], how="left").fillna({"war": False})
    cd["cell"] = cd["iy"] * 100_000 + cd["ix"]
    wq = cd[cd["q"] & cd["war"]][["cell", "date"]].rename(columns={"date": "qdate"}).sort_values("qdate")
    probe = cd[["cell", "date"]].copy()
    probe["probe"] = (probe["date"] - pd.Timedelta(days=1)).astype(probe["date"].dtype)
    probe = probe.sort_values("probe")
    hit = pd.merge_asof(probe, wq, left_on="probe", right_on="qdate", by="cell", direction="backward", tolerance=pd.Timedelta(days=CARRY_OVER_DAYS - 1))
    cd = cd.merge(hit[["cell", "date", "qdate"]], on=["cell", "date"], how="left")
    cd["flag"] = cd["war"].astype(bool) & (cd["q"] | cd["qdate"].notna())
    out = y.merge(cd[["iy", "ix", "date", "flag"]], on=["iy", "ix", "date"], how="left")
    return out["flag"].to_numpy(dtype=bool)


def numpy_flags(base: Columns, year: Columns) -> NDArray[np.bool_]:
    """The shipped implementation: :class:`FireBaseline` and :func:`detect_conflict_fires`."""
    baseline = FireBaseline.from_detections(*base)
    return detect_conflict_fires(*year, baseline).flagged


def measure(fn: Callable[[], NDArray[np.bool_]]) -> tuple[NDArray[np.bool_], float, float]:
    """Result, wall seconds and traced peak MiB of one call."""
    tracemalloc.start()
    t0 = time.perf_counter()
    result = fn()
    elapsed = time.perf_counter() - t0
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return result, elapsed, peak / 2**20


def main(argv: list[str] | None = None) -> int:
    """Run the bench; exit 0 if the goal is met and both implementations agree, 1 otherwise."""
    parser = argparse.ArgumentParser(prog="truceline bench firms", description=__doc__.splitlines()[0])
    parser.add_argument("--year", type=int, default=2022)
    parser.add_argument("--baseline-year", type=int, default=2021)
    parser.add_argument("--datasets", type=Path, default=DATASETS)
    parser.add_argument("--ingest", action="store_true", help="also time the full ingest path of the analysed year")
    parser.add_argument("--reality", action="store_true", help="also print the check against reality (docs/satellite.md)")
    args = parser.parse_args(argv)
    t0 = time.perf_counter()
    base = load_minimal_firms(args.datasets / f"firms-ukraine-{args.baseline_year}.csv")
    year = load_minimal_firms(args.datasets / f"firms-ukraine-{args.year}.csv")
    t_load = time.perf_counter() - t0
    try:
        import pandas  # noqa: F401
    except ImportError:
        print("pandas is not installed: pip install pandas", file=sys.stderr)
        return 2
    print(f"detections analysed: {len(year[0])} ({args.year}); baseline detections: {len(base[0])} ({args.baseline_year}, 1 year)")
    print(f"CSV load time (both files, shared): {t_load:.3f} s")
    flags_np, t_np, mem_np = measure(lambda: numpy_flags(base, year))
    flags_pd, t_pd, mem_pd = measure(lambda: pandas_flags(base, year))
    agree = bool(np.array_equal(flags_np, flags_pd))
    print(f"flagged: {int(flags_np.sum())} ({flags_np.mean():.1%})")
    print(f"numpy time: {t_np:.3f} s")
    print(f"numpy peak memory: {mem_np:.1f} MiB")
    print(f"pandas groupby time: {t_pd:.3f} s")
    print(f"pandas groupby peak memory: {mem_pd:.1f} MiB")
    print(f"speed-up vs pandas: {t_pd / t_np:.1f}x")
    print(f"implementations agree: {agree} ({int((flags_np != flags_pd).sum())} differing flags)")
    ok = agree and t_np < GOAL_S and t_np <= t_pd
    print(f"goal (<{GOAL_S:.0f} s and <= pandas): {'met' if ok else 'NOT met'}")
    if args.ingest:
        ingest_whole_file(args.datasets / f"firms-ukraine-{args.year}.csv")
    if args.reality:
        reality_figures(args.datasets, args.baseline_year)
    return 0 if ok else 1


def ingest_whole_file(path: Path) -> None:
    """Time the CLI's ingest path for one FIRMS file into a fresh store: wall and CPU seconds (wall includes
    the commits' fsyncs and, on a shared machine, other jobs), peak RSS of this process too."""
    import resource
    import tempfile

    from truceline.ingest.firms_flags import FireAnalysis
    from truceline.ingest.pipeline import IngestSummary, ingest_records, open_records
    from truceline.store.sqlite import open_store

    with tempfile.TemporaryDirectory() as tmp:
        store = open_store(Path(tmp) / "data")
        fires = FireAnalysis()
        t0, c0 = time.perf_counter(), time.process_time()
        fmt, records, _, handle = open_records(path, "firms", fires=fires)
        try:
            summary = ingest_records(store, records, IngestSummary(str(path), fmt, fires=fires))
        finally:
            handle.close()
            store.close()
        elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"ingest {path.name}: {summary.records:,} rows, {summary.stored:,} stored, {summary.duplicates:,} duplicates, "
        f"{summary.rejected_count} rejected, {fires.flagged:,} flagged, in {elapsed:.1f} s wall, {cpu:.1f} s CPU "
        f"({summary.records / elapsed:,.0f} rows/s); process peak RSS {rss:.0f} MiB; goal < {GOAL_S:.0f} s wall: "
        f"{'met' if elapsed < GOAL_S else 'not met'} (CPU time is its floor on an idle machine)"
    )


def reality_figures(datasets: Path, baseline_year: int) -> None:
    """The check against reality of docs/satellite.md, recomputed."""
    from truceline.eval.conflict_fires import FireIndex, compare_with_chance, load_located_incidents
    from truceline.verify.agreement_loader import load_demo_agreement
    from truceline.verify.geometry import geometry_for

    baseline = FireBaseline.from_detections(*load_minimal_firms(datasets / f"firms-ukraine-{baseline_year}.csv"))
    geometry = geometry_for(load_demo_agreement())
    print("year | detections | flagged | within 20 km of line: flagged / unflagged | median km flagged / unflagged | west of 27° E flagged")
    flagged_parts = []
    for year in (baseline_year, 2022, 2023):
        lat, lon, date = load_minimal_firms(datasets / f"firms-ukraine-{year}.csv")
        result = detect_conflict_fires(lat, lon, date, baseline)
        f = result.flagged
        distance = geometry.locate_many(lat, lon).distance_m
        near = distance < 20_000
        west = lon < 27.0
        print(
            f"{year} | {len(f):,} | {int(f.sum()):,} ({f.mean():.1%}) | {near[f].mean():.1%} / {near[~f].mean():.1%} | "
            f"{np.median(distance[f]) / 1000:.0f} / {np.median(distance[~f]) / 1000:.0f} | {f[west].mean():.2%} of {int(west.sum()):,}"
        )
        if year != baseline_year:
            flagged_parts.append((lat[f], lon[f], date[f]))
            persistent = result.reason_code == 4
            print(f"     persistent-source detections (never flagged): {int(persistent.sum()):,}, of which within 20 km: {int((persistent & near).sum()):,}")
    index = FireIndex.build(*(np.concatenate(column) for column in zip(*flagged_parts, strict=True)))
    lat, lon, day = load_located_incidents(datasets / "bellingcat-civilian-harm-2022-2023.json")
    c = compare_with_chance(index, lat, lon, day, start=np.datetime64("2022-01-01"), end=np.datetime64("2023-12-31"))
    print(
        f"Bellingcat verified incidents 2022-23 with a flagged detection within 5 km and ±1 day: {c.matched} of {c.incidents} "
        f"({c.matched / c.incidents:.1%}); with dates shifted ±15-60 days, {c.draws} draws: mean {c.shifted_mean:.1f} "
        f"(range {c.shifted_min}-{c.shifted_max}); {c.ratio:.2f}x chance"
    )


if __name__ == "__main__":
    raise SystemExit(main())
