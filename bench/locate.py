"""Benchmark: side of the line plus distance to it for random points in the country.

Runs the vectorised locator (``AgreementGeometry.locate_many``) on N uniformly random points of the demo
agreement's country and, in the same run, a per-point shapely loop (prepared polygon ``contains`` plus
``LineString.distance`` per point) on a sample, and prints one figure per line. Also checks the answers
against each other so a fast wrong answer cannot pass unnoticed.

    python bench/locate.py [--points N] [--sample M] [--seed S]
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np
import shapely


def _random_points(geometry: object, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Uniform by area: sample the equal-area local frame, keep points inside the country, back to lon/lat."""
    from truceline.verify.geometry import AgreementGeometry

    assert isinstance(geometry, AgreementGeometry)
    rng = np.random.default_rng(seed)
    country = geometry.country_xy
    shapely.prepare(country)
    minx, miny, maxx, maxy = country.bounds
    xs: list[np.ndarray] = []
    have = 0
    while have < n:
        x = rng.uniform(minx, maxx, 2 * n)
        y = rng.uniform(miny, maxy, 2 * n)
        keep = shapely.contains_xy(country, x, y)
        xs.append(np.column_stack([x[keep], y[keep]]))
        have += int(keep.sum())
    xy = np.vstack(xs)[:n]
    lon, lat = geometry.projection.inverse(xy[:, 0], xy[:, 1])
    return lat, lon


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; returns 0, or 1 if the fast and slow answers disagree."""
    parser = argparse.ArgumentParser(prog="bench/locate.py", description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=1_000_000, help="points for the vectorised run (default 1,000,000)")
    parser.add_argument("--sample", type=int, default=2_000, help="points for the per-point shapely loop (default 2,000)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.points < 1 or args.sample < 1:
        parser.error("--points and --sample must be positive")

    from truceline.verify.agreement_loader import load_demo_agreement
    from truceline.verify.geometry import BATCH_REL_TOL, geometry_for

    t0 = time.perf_counter()
    agreement = load_demo_agreement()
    geometry = geometry_for(agreement)
    t_load = time.perf_counter() - t0
    t0 = time.perf_counter()
    index = geometry.distance_index()
    geometry.classify([48.0], [35.0])
    geometry.locate_many(np.full(10_000, 48.0), np.full(10_000, 35.0))  # builds the side raster too
    t_build = time.perf_counter() - t0
    lat, lon = _random_points(geometry, args.points, args.seed)

    t0 = time.perf_counter()
    located = geometry.locate_many(lat, lon)
    t_fast = time.perf_counter() - t0
    fast_rate = args.points / t_fast

    m = min(args.sample, args.points)
    x, y = geometry.projection.forward(lon[:m], lat[:m])
    areas = [(i, geometry.partition.areas[code]) for i, code in enumerate(geometry.party_codes)]
    for _, area in areas:
        shapely.prepare(area)
    line = geometry.contact_line_xy
    slow_side = np.full(m, -1)
    slow_dist = np.empty(m)
    t0 = time.perf_counter()
    for k in range(m):
        point = shapely.Point(x[k], y[k])
        for i, area in areas:
            if area.contains(point):
                slow_side[k] = i
                break
        slow_dist[k] = line.distance(point)
    t_slow = time.perf_counter() - t0
    slow_rate = m / t_slow

    same_side = float(np.mean(slow_side == located.side[:m]))
    rel = np.abs(located.distance_m[:m] - slow_dist) / np.maximum(slow_dist, 1.0)
    print(f"agreement: {agreement.id} v{agreement.version}, line of contact {geometry.contact_line_length_m / 1e3:.1f} km, "
          f"{len(geometry.segments)} segments")
    print(f"load and derive geometry: {t_load:.2f} s")
    print(f"index build (distance quadtree + side raster): {t_build:.2f} s ({index.stats['interpolated_cells']} interpolated "
          f"cells, {index.stats['exact_cells']} exact cells)")
    print(f"vectorised side+distance+zones: {fast_rate:,.0f} points/s ({args.points:,} points in {t_fast:.3f} s)")
    print(f"per-point shapely loop: {slow_rate:,.0f} points/s ({m:,} points in {t_slow:.3f} s)")
    print(f"speed-up: {fast_rate / slow_rate:,.0f}x")
    print(f"same side as the loop: {same_side:.4%} of {m:,} points")
    print(f"max relative distance difference vs the loop: {rel.max():.4%} (bound {BATCH_REL_TOL:.2%})")
    ok = same_side == 1.0 and rel.max() <= BATCH_REL_TOL + 1e-9
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
