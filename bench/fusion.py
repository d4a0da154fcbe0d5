"""Fusion, localization, speed and memory, each beside its baseline in the same run; one line per figure.

    truceline bench fusion [--only quality,locate,speed,memory] [--seeds 5] [--trials 1000]
                           [--speed-observations 100000] [--speed-rounds 3] [--rss-observations 1000000 [10000000 ...]]
    python bench/fusion.py [...]

quality  pairwise co-membership F1 of the streaming fuser (observations in arrival order, one default
         configuration) against the oracle (each observation to its most likely true event) and against
         scikit-learn DBSCAN on (east, north, time) scaled, best of a grid *chosen with the truth* (a generous
         baseline); mean over seeds of each preset. Then the same observations *as real senders post* them
         (``sim.senders.as_posted``: no ``time_uncertainty_s``, no bearing ``sensor_cep_m``; truceline assumes
         its documented defaults), with the oracle of those posts and of the honest ones beside it. The
         presets ``nations-sparse-day`` and ``nations-salvos`` are issue 16's case: each explosion reported by
         2–4 nations' sources (σ 40–450 m, clock errors 2–45 s that nobody states).
locate   TDOA RMSE / Cramér–Rao bound over random geometries (10 ms timing noise; sensors and source uniform
         in a 6 km square, or a jittered ring of 6 km diameter with the source within 6 km of its centre),
         maximum likelihood (Levenberg–Marquardt from Chan's start) vs Chan's closed form alone. Fixes whose
         likelihood has a distant rival minimum are flagged ambiguous (as a processor would withhold them);
         the ratio is over the reported fixes, with all fixes alongside. Bearings likewise.
speed    streaming observations per second on one core, replaying contact-line-week (batches of 1000), with
         and without building the Incident objects of every update (each with the share of its CPU time spent in
         the cyclic garbage collector); DBSCAN's batch rate on the same rows as the baseline (with the share of
         it that is ``fuse.measurement``, the projection both share), and the ratio of the two (goal ≥ 0.80).
         Fuser and DBSCAN run alternately ``--speed-rounds`` times, both with the cyclic collector paused (the fuser
         pauses it inside each call); the ratio is the median of the rounds' own ratios, each round's is printed
         beside it: on a shared 2-core machine one pair's ratio moved between 0.61 and 1.08 (docs/performance.md).
fingerprint  (not run by default) SHA-256 over the full repr of every update the fuser publishes while
         streaming the replayed week (``--fingerprint-observations``, batches of 1000, then ``flush``): a change
         that should only make fusion faster must leave it unchanged, compiled or interpreted.
order    (not run by default) how much the incidents depend on arrival order: one seed of each preset fused in
         arrival order, in time order (time, then id), as four connections would store it (batches of
         ``--order-batch`` in arrival order, the batches dealt to 4 connections and stored in a random
         interleaving of the connections) and with small swaps (arrival order sorted on time plus a uniform
         jitter of up to ``--order-jitter-s``), ``--order-runs`` random orders of each; pairwise co-membership
         F1 of each order's incidents against arrival order's, and each against the truth (min–max).
memory   resident set size while streaming the week replayed (new ids, shifted a week at a time) up to each
         count given: flat means the sliding window bounds memory.
Wall-clock figures depend on the machine and its load; quality and localization figures are deterministic.
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import math
import os
import resource
import statistics
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import replace
from datetime import timedelta
from typing import Any

import numpy as np

from truceline.domain.identity import local_id
from truceline.domain.observation import Observation
from truceline.domain.observation_fast import collector_paused
from truceline.eval import evaluate, fused, parse_truth
from truceline.eval.data import Truth
from truceline.eval.metrics import pairwise, truth_clusters
from truceline.eval.report import EvalReport
from truceline.fuse import Fuser, fuse_all, native
from truceline.fuse.grid import backend as grid_backend
from truceline.fuse.measurement import MeasurementModel, measure
from truceline.fuse.native import compiled
from truceline.ingest.validation import validate_batch, validation_context
from truceline.locate import bearing_crlb, chan_tdoa, locate_tdoa, sound_speed, tdoa_crlb, triangulate
from truceline.locate.enu import LocalFrame
from truceline.sim import load_scenario, observation_records, simulate, truth_records
from truceline.sim.senders import NATIONS_PRESETS, as_posted, nations_scenario

GOALS = {"salvo-sector": ("ratio", 0.90), "sparse-day": ("f1", 0.98)}
#: Issue 16's checks on observations posted without time_uncertainty_s.
POSTED_GOALS = {"nations-sparse-day": ("f1", 0.97), "nations-salvos": ("ratio", 0.90), "salvo-sector": ("ratio", 0.90)}
GOAL_RMSE_CRLB = 1.15
GOAL_OBS_PER_S = 50_000
GOAL_RATIO_DBSCAN = 0.80  # issue 19: streaming fusion at least this fraction of DBSCAN's batch rate
DBSCAN_SPACE_M = (100.0, 200.0, 400.0, 800.0, 1600.0, 3200.0, 6400.0, 12800.0)
DBSCAN_TIME_S = (5.0, 30.0, 120.0, 600.0, 1800.0, 3600.0)


def _validated(records: list[dict[str, Any]]) -> list[Observation]:
    observations, errors = validate_batch(records, validation_context())
    if errors:
        raise RuntimeError(f"simulated observation {errors[0].index} invalid: {errors[0].field}: {errors[0].message}")
    return observations


def scenario_records(name: str, seed: int | None = None) -> tuple[list[dict[str, Any]], Truth]:
    """Simulated native records with every uncertainty stated (arrival order) and the truth."""
    if name in NATIONS_PRESETS:
        nations = NATIONS_PRESETS[name]
        records, truth = nations_scenario(nations if seed is None else replace(nations, seed=seed), honest=True)
        return records, parse_truth((("truth", r) for r in truth), name)
    spec = load_scenario(name)
    if seed is not None:
        spec = spec.model_copy(update={"seed": seed})
    sim = simulate(spec)
    return observation_records(sim), parse_truth((("truth", r) for r in truth_records(sim)), name)


def scenario_data(name: str, seed: int | None = None) -> tuple[list[Observation], Truth]:
    """Simulated observations (arrival order, validated like any input) and the truth."""
    records, truth = scenario_records(name, seed)
    return _validated(records), truth


def _base_seed(name: str) -> int:
    return NATIONS_PRESETS[name].seed if name in NATIONS_PRESETS else load_scenario(name).seed


def dbscan_best(observations: Sequence[Observation], truth: Truth) -> tuple[float, float, float]:
    """Best pairwise F1 of DBSCAN over the grid, with its space and time scales (bearings stay alone)."""
    from sklearn.cluster import DBSCAN

    points = [o for o in observations if o.point is not None]
    lat0, lon0 = points[0].point  # type: ignore[misc]
    frame = LocalFrame(lat0, lon0)
    epoch = min(o.time.timestamp() for o in points)
    ms, _, _ = measure(points, frame, epoch, MeasurementModel())
    xyz = np.array([[m.x, m.y, m.t] for m in ms])
    ids = [local_id(m.id) for m in ms]  # fusion keys "ORG/id"; the truth labels plain ids
    truth_of = truth_clusters(truth.labels)
    best = (-1.0, 0.0, 0.0)
    for space in DBSCAN_SPACE_M:
        for tscale in DBSCAN_TIME_S:
            labels = DBSCAN(eps=1.0, min_samples=1).fit_predict(xyz / np.array([space, space, tscale]))
            f1 = pairwise({i: str(c) for i, c in zip(ids, labels.tolist(), strict=True)}, truth_of).f1
            if f1 > best[0]:
                best = (f1, space, tscale)
    return best


def bench_quality(presets: Sequence[str], seeds: int) -> None:
    for name in presets:
        base_seed = _base_seed(name)
        rows = []
        posted_rows = []
        for k in range(seeds):
            records, truth = scenario_records(name, base_seed + k)
            observations = _validated(records)
            incidents = fuse_all(observations)
            report = evaluate(truth, [fused(i) for i in incidents], observations)
            db = dbscan_best(observations, truth)
            rows.append((report, db, len(observations)))
            posted = _validated(as_posted(records))
            posted_report = evaluate(truth, [fused(i) for i in fuse_all(posted)], posted)
            posted_rows.append((posted_report, report))
        f1 = float(np.mean([r.pairwise.f1 for r, _, _ in rows]))
        oracle = float(np.mean([r.oracle_pairwise.f1 for r, _, _ in rows if r.oracle_pairwise]))
        ratio = float(np.mean([r.oracle_ratio or 0.0 for r, _, _ in rows]))
        worst = min(r.oracle_ratio or 0.0 for r, _, _ in rows)
        db_f1 = float(np.mean([d[0] for _, d, _ in rows]))
        inc = float(np.mean([r.detection.f1 for r, _, _ in rows]))
        loc = float(np.mean([r.location_error_m["p50"] for r, _, _ in rows]))
        dup = float(np.mean([r.duplicate_rate for r, _, _ in rows]))
        obs = int(np.mean([n for _, _, n in rows]))
        goal = GOALS.get(name)
        goal_text = ""
        if goal is not None:
            value = ratio if goal[0] == "ratio" else f1
            goal_text = f"  goal {'F1/oracle' if goal[0] == 'ratio' else 'F1'} ≥{goal[1]:.2f}: {'met' if value >= goal[1] else 'NOT met'}"
        print(f"quality {name:<18} pairwise F1 fuser      {f1:8.4f}  ({seeds} seed(s), ~{obs:,} obs each){goal_text}")
        print(f"quality {name:<18} pairwise F1 oracle     {oracle:8.4f}  fuser/oracle mean {ratio:.3f}, worst seed {worst:.3f}")
        spaces = sorted({d[1] for _, d, _ in rows})
        times = sorted({d[2] for _, d, _ in rows})
        print(f"quality {name:<18} pairwise F1 DBSCAN     {db_f1:8.4f}  (best of grid per seed, tuned on truth; eps {spaces} m, {times} s)")
        print(f"quality {name:<18} incident F1 {inc:.4f}, location error p50 {loc:.1f} m, duplicate rate {dup:.4f}")
        _print_posted(name, seeds, posted_rows)


def _print_posted(name: str, seeds: int, rows: Sequence[tuple[EvalReport, EvalReport]]) -> None:
    """The as-posted figures: fuser, the oracle of the same posts, and the oracle of the honest posts."""
    f1 = float(np.mean([p.pairwise.f1 for p, _ in rows]))
    oracle = float(np.mean([p.oracle_pairwise.f1 if p.oracle_pairwise else 0.0 for p, _ in rows]))
    honest_oracle = float(np.mean([h.oracle_pairwise.f1 if h.oracle_pairwise else 0.0 for _, h in rows]))
    ratio = float(np.mean([p.oracle_ratio or 0.0 for p, _ in rows]))
    worst = min(p.oracle_ratio or 0.0 for p, _ in rows)
    vs_honest = float(np.mean([p.pairwise.f1 / h.oracle_pairwise.f1 if h.oracle_pairwise and h.oracle_pairwise.f1 else 0.0 for p, h in rows]))
    goal = POSTED_GOALS.get(name)
    goal_text = ""
    if goal is not None:
        value = ratio if goal[0] == "ratio" else f1
        goal_text = f"  goal {'F1/oracle' if goal[0] == 'ratio' else 'F1'} ≥{goal[1]:.2f}: {'met' if value >= goal[1] else 'NOT met'}"
    print(f"quality {name:<18} as real senders post: pairwise F1 fuser {f1:8.4f}  ({seeds} seed(s), no time_uncertainty_s){goal_text}")
    print(
        f"quality {name:<18} as real senders post: pairwise F1 oracle {oracle:8.4f}  fuser/oracle mean {ratio:.3f}, worst seed {worst:.3f}; "
        f"fuser/oracle of the honest posts ({honest_oracle:.4f}) {vs_honest:.3f}"
    )


def _tdoa_geometry(rng: np.random.Generator, n: int, layout: str) -> tuple[np.ndarray, np.ndarray]:
    if layout == "random":
        return rng.uniform(-3000.0, 3000.0, (n, 2)), rng.uniform(-3000.0, 3000.0, 2)
    angles = 2 * np.pi * np.arange(n) / n + rng.uniform(-0.3, 0.3, n)  # a fielded ring, as the simulator lays out
    radii = 3000.0 * rng.uniform(0.6, 1.0, n)
    bearing, distance = rng.uniform(0.0, 2 * np.pi), 6000.0 * math.sqrt(rng.uniform())
    return np.column_stack([radii * np.sin(angles), radii * np.cos(angles)]), np.array([distance * math.sin(bearing), distance * math.cos(bearing)])


def bench_locate(trials: int) -> None:
    c = sound_speed(15.0)
    sd = 0.010
    for layout in ("random", "ring"):
        rng = np.random.default_rng(12345)
        for n in (4, 5, 6, 8):
            every, reported, chan, flagged = [], [], [], 0
            for _ in range(trials):
                sensors, source = _tdoa_geometry(rng, n, layout)
                arrivals = 100.0 + np.hypot(*(source - sensors).T) / c + rng.normal(0.0, sd, n)
                bound = float(np.trace(tdoa_crlb(sensors, float(source[0]), float(source[1]), c, sd)))
                fix = locate_tdoa(sensors, arrivals, c, sd)
                err = float(np.sum((np.array([fix.x, fix.y]) - source) ** 2)) / bound
                every.append(err)
                if fix.ambiguous:
                    flagged += 1
                else:
                    reported.append(err)
                start = chan_tdoa(sensors, arrivals, c, sd)
                chan.append(float(np.sum((np.array(start[0]) - source) ** 2)) / bound if start else math.nan)
            ratio = math.sqrt(float(np.mean(reported)))
            status = "met" if ratio <= GOAL_RMSE_CRLB else "NOT met"
            print(
                f"locate  TDOA {n} sensors, {layout:<6} 10 ms  RMSE/CRLB of reported fixes {ratio:6.3f}  goal ≤{GOAL_RMSE_CRLB}: {status}; "
                f"{flagged}/{trials} flagged ambiguous and withheld (all fixes: {math.sqrt(float(np.mean(every))):.3f}); "
                f"Chan closed form alone {math.sqrt(float(np.nanmean(chan))):.3f}"
            )
    rng = np.random.default_rng(12345)
    for n in (2, 3, 4):
        ratios = []
        for _ in range(trials):
            sensors = rng.uniform(-3000.0, 3000.0, (n, 2))
            source = rng.uniform(-3000.0, 3000.0, 2) + np.array([0.0, 8000.0])
            bearings = np.arctan2(source[0] - sensors[:, 0], source[1] - sensors[:, 1]) + rng.normal(0.0, math.radians(1.0), n)
            try:
                crossing = triangulate(sensors, bearings, math.radians(1.0))
            except ArithmeticError:
                continue
            bound = float(np.trace(bearing_crlb(sensors, float(source[0]), float(source[1]), math.radians(1.0))))
            ratios.append(float(np.sum((np.array([crossing.x, crossing.y]) - source) ** 2)) / bound)
        print(f"locate  bearings {n} sensors, 1°    RMSE/CRLB {math.sqrt(float(np.mean(ratios))):6.3f}  ({len(ratios)} of {trials} triangulable)")


def replay(observations: Sequence[Observation], total: int) -> Iterator[Observation]:
    """The observations again and again, each pass a week later with new ids, up to ``total``."""
    week = timedelta(weeks=1)
    span = max(o.time for o in observations) - min(o.time for o in observations)
    passes = math.ceil(span / week) or 1
    k = 0
    produced = 0
    while produced < total:
        shift = week * passes * k
        for obs in observations:
            if produced >= total:
                return
            yield obs if k == 0 else obs.model_copy(update={"id": f"{obs.id}~{k}", "time": obs.time + shift})
            produced += 1
        k += 1


def _rss_mb() -> float:
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


class _GcClock:
    """CPU seconds spent in the cyclic garbage collector while installed (``gc.callbacks``)."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self._start = 0.0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._start = time.process_time()
        else:
            self.seconds += time.process_time() - self._start


def _fuse_seconds(data: list[Observation], materialise: bool) -> tuple[float, float]:
    """CPU seconds of streaming ``data`` through a new fuser in calls of 1,000 (then ``flush``), and of that the
    cyclic collector's (which runs after each call: the fuser pauses it only inside)."""
    fuser = Fuser()
    gc.collect()
    clock = _GcClock()
    gc.callbacks.append(clock)
    start = time.process_time()
    for i in range(0, len(data), 1000):
        updates = fuser.add(data[i : i + 1000])
        if materialise:
            for update in updates:
                update.incident  # noqa: B018 - building the Incident is what is measured
    fuser.flush()
    spent = time.process_time() - start
    gc.callbacks.remove(clock)
    return spent, clock.seconds


def _dbscan_seconds(data: list[Observation]) -> tuple[float, float, int]:
    """CPU seconds of the DBSCAN baseline on the located points of ``data``, of that ``measure``'s, and the count.

    Run with the collector paused, as the fuser runs its calls: the floor at its best, under the same conditions."""
    from sklearn.cluster import DBSCAN

    frame = LocalFrame(*data[0].point)  # type: ignore[misc]
    epoch = data[0].time.timestamp()
    gc.collect()
    with collector_paused():
        start = time.process_time()
        ms, _, _ = measure([o for o in data if o.point is not None], frame, epoch, MeasurementModel())
        projected = time.process_time()
        xyz = np.array([[m.x / 400.0, m.y / 400.0, m.t / 30.0] for m in ms])
        DBSCAN(eps=1.0, min_samples=1).fit(xyz)
        spent = time.process_time() - start
    return spent, projected - start, len(ms)


def bench_speed(observations: list[Observation], count: int, rounds: int) -> None:
    """Fuser and DBSCAN alternated ``rounds`` times on the same rows. The ratio is the median of each round's own
    (the two sides measured in the same minutes: the best of each side would pair runs from different minutes);
    every round's ratio is printed, so that the machine's noise is in view."""
    data = list(replay(observations, count))
    built = compiled()
    engine = f"compiled with mypyc ({', '.join(built)})" if built else f"interpreted ({native.interpreted_because or 'sources'})"
    print(f"speed   fusion engine: {engine}; space-time grid: {grid_backend()} (fuse/grid.py)")
    fused: list[tuple[float, float]] = []
    baseline: list[tuple[float, float, int]] = []
    for _ in range(rounds):
        fused.append(_fuse_seconds(data, materialise=False))
        baseline.append(_dbscan_seconds(data))
    rates = [len(data) / f[0] for f in fused]
    rate = statistics.median(rates)
    in_gc = statistics.median(f[1] / f[0] for f in fused)
    status = "met" if rate >= GOAL_OBS_PER_S else "NOT met"
    print(
        f"speed   streaming fusion (updates as snapshots  ) {rate:>9,.0f} obs/s  CPU time, {len(data):,} obs, median of {rounds} rounds "
        f"(best {max(rates):,.0f}); goal ≥{GOAL_OBS_PER_S:,}: {status}  ({100 * in_gc:.0f}% of it in the cyclic GC)"
    )
    spent_m, in_gc_m = _fuse_seconds(data, materialise=True)
    print(
        f"speed   streaming fusion (incl. Incident objects) {len(data) / spent_m:>9,.0f} obs/s  CPU time, one run  "
        f"({100 * in_gc_m / spent_m:.0f}% of it in the cyclic GC)"
    )
    db_rates = [b[2] / b[0] for b in baseline]
    db_measure = statistics.median(b[1] / b[0] for b in baseline)
    print(
        f"speed   DBSCAN batch baseline (same rows, points only)    {statistics.median(db_rates):>9,.0f} obs/s  CPU time, median of {rounds} rounds "
        f"(best {max(db_rates):,.0f}; not streaming, no re-assignment; {100 * db_measure:.0f}% of it fuse.measurement, shared with fusion)"
    )
    each = [(len(data) / f[0]) / (b[2] / b[0]) for f, b in zip(fused, baseline, strict=True)]
    ratio = statistics.median(each)
    status = "met" if ratio >= GOAL_RATIO_DBSCAN else "NOT met"
    print(
        f"speed   streaming fusion / DBSCAN batch                   {ratio:9.2f}  goal ≥{GOAL_RATIO_DBSCAN:.2f}: {status}  "
        f"(the median of each round's ratio; round by round: {', '.join(f'{r:.2f}' for r in each)})"
    )


def bench_fingerprint(observations: list[Observation], count: int) -> str:
    """SHA-256 (16 hex) over ``repr`` of every update (every field, floats in full) of the replayed week; printed."""
    data = list(replay(observations, count))
    fuser = Fuser()
    digest = hashlib.sha256()
    updates = 0
    for i in range(0, len(data) + 1, 1000):
        for update in fuser.add(data[i : i + 1000]) if i < len(data) else fuser.flush():
            digest.update(repr(update).encode())
            digest.update(b"\n")
            updates += 1
    built = compiled()
    engine = f"{'compiled' if built else 'interpreted'}, {grid_backend()} grid"
    print(f"fingerprint  {digest.hexdigest()[:16]}  ({updates:,} updates of {len(data):,} observations, {engine})")
    return digest.hexdigest()[:16]


def _deal(observations: Sequence[Observation], batch: int, rng: np.random.Generator) -> list[Observation]:
    """Arrival order cut in batches, dealt round-robin to 4 connections whose posts interleave at random."""
    batches = [list(observations[i : i + batch]) for i in range(0, len(observations), batch)]
    queues = [batches[c::4] for c in range(4)]
    out: list[Observation] = []
    while any(queues):
        ready = [q for q in queues if q]
        out.extend(ready[int(rng.integers(len(ready)))].pop(0))
    return out


def _jittered(observations: Sequence[Observation], jitter_s: float, rng: np.random.Generator) -> list[Observation]:
    """Time order with each observation's key moved by up to ``jitter_s``: neighbours a few seconds apart swap."""
    keys = [o.time.timestamp() + float(rng.uniform(0.0, jitter_s)) for o in observations]
    return [o for _, o in sorted(zip(keys, observations, strict=True), key=lambda pair: pair[0])]


def _clusters(observations: Sequence[Observation], add_batch: int) -> dict[str, str]:
    return {oid: incident.id for incident in fuse_all(observations, batch_size=add_batch) for oid in incident.observation_ids}


def bench_order(presets: Sequence[str], runs: int, batch: int, jitter_s: float) -> None:
    """Pairwise F1 between the incidents of one scenario fused in different arrival orders, and against truth:
    all of it in one ``Fuser.add`` call, then streamed in calls of 50 observations."""
    for name in presets:
        for add_batch in (1_000_000, 50):
            _order_rows(name, runs, batch, jitter_s, add_batch)


def _order_rows(name: str, runs: int, batch: int, jitter_s: float, add_batch: int) -> None:
    """One preset's rows: each kind of order against arrival order and against the truth."""
    observations, truth = scenario_data(name)
    truth_of = truth_clusters(truth.labels)
    size = max(1, min(batch, len(observations) // 8))
    rng = np.random.default_rng(20261206)
    reference = _clusters(observations, add_batch)
    calls = "one add call" if add_batch >= len(observations) else f"add calls of {add_batch}"

    def score(clusters: dict[str, str], against: dict[str, str]) -> float:
        return pairwise(clusters, {o: against.get(o, f"alone/{o}") for o in truth_of}).f1

    orders: dict[str, list[list[Observation]]] = {
        "time order (time, id)": [sorted(observations, key=lambda o: (o.time, o.source.org, str(o.id)))],
        f"4 connections, batches of {size}": [_deal(observations, size, rng) for _ in range(runs)],
        f"swaps within {jitter_s:g} s": [_jittered(observations, jitter_s, rng) for _ in range(runs)],
    }
    base = score(reference, truth_of)
    print(f"order   {name:<18} arrival order                     vs truth {base:.4f}  ({len(observations):,} obs, {calls})")
    for label, variants in orders.items():
        fused_orders = [_clusters(v, add_batch) for v in variants]
        agree = [score(c, reference) for c in fused_orders]
        vs_truth = [score(c, truth_of) for c in fused_orders]
        identical = sum(1 for c in fused_orders if _partition(c) == _partition(reference))
        print(
            f"order   {name:<18} {label:<33} vs arrival F1 {min(agree):.4f}–{max(agree):.4f} "
            f"({identical}/{len(variants)} identical), vs truth {min(vs_truth):.4f}–{max(vs_truth):.4f}"
        )
    sys.stdout.flush()


def _partition(clusters: dict[str, str]) -> set[frozenset[str]]:
    groups: dict[str, set[str]] = {}
    for oid, cluster in clusters.items():
        groups.setdefault(cluster, set()).add(oid)
    return {frozenset(g) for g in groups.values()}


def bench_memory(observations: list[Observation], checkpoints: Sequence[int]) -> None:
    fuser = Fuser()
    marks = sorted(set(checkpoints))
    done = 0
    batch: list[Observation] = []
    start = time.perf_counter()
    print(f"memory  RSS before streaming                   {_rss_mb():8.1f} MB")
    for obs in replay(observations, marks[-1]):
        batch.append(obs)
        if len(batch) == 1000:
            fuser.add(batch)
            done += len(batch)
            batch = []
            if done in marks:
                stats = fuser.stats
                print(
                    f"memory  RSS after {done:>11,} observations {_rss_mb():8.1f} MB  (live: {stats.live_incidents:,} incidents, "
                    f"{stats.live_measurements:,} observations; {time.perf_counter() - start:.0f} s)"
                )
                sys.stdout.flush()


def main(argv: list[str] | None = None) -> int:
    """Run the selected sections and print one line per figure."""
    parser = argparse.ArgumentParser(prog="bench fusion", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", default="quality,locate,speed,memory", help="comma-separated sections")
    parser.add_argument("--seeds", type=int, default=5, help="seeds per preset for quality (default 5)")
    parser.add_argument("--presets", default="sparse-day,salvo-sector,nations-sparse-day,nations-salvos,contact-line-week")
    parser.add_argument("--trials", type=int, default=1000, help="random geometries per localization figure")
    parser.add_argument("--speed-observations", type=int, default=100_000)
    parser.add_argument("--speed-rounds", type=int, default=3, help="fuser and DBSCAN alternated this often; the median of the rounds' ratios counts")
    parser.add_argument("--fingerprint-observations", type=int, default=30_000)
    parser.add_argument("--order-runs", type=int, default=4, help="random orders of each kind (section order)")
    parser.add_argument("--order-batch", type=int, default=1000, help="observations per post (section order)")
    parser.add_argument("--order-jitter-s", type=float, default=5.0, help="swap window in seconds (section order)")
    parser.add_argument("--rss-observations", type=int, nargs="+", default=[100_000, 1_000_000], help="checkpoints, e.g. 1000000 10000000")
    args = parser.parse_args(argv)
    sections = {s.strip() for s in args.only.split(",") if s.strip()}
    unknown = sections - {"quality", "locate", "speed", "memory", "fingerprint", "order"}
    if unknown:
        parser.error(f"unknown section(s): {', '.join(sorted(unknown))}")
    if args.seeds < 1 or args.trials < 10 or args.speed_observations < 1000 or args.speed_rounds < 1 or min(args.rss_observations) < 1000:
        parser.error("need --seeds ≥ 1, --trials ≥ 10 and observation counts ≥ 1000")
    print(f"machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}; wall-clock figures depend on load")
    if "quality" in sections:
        presets = [p.strip() for p in args.presets.split(",") if p.strip()]
        bench_quality([p for p in presets if p != "contact-line-week"], args.seeds)
        if "contact-line-week" in presets:
            bench_quality(["contact-line-week"], 1)
    if "order" in sections:
        bench_order([p.strip() for p in args.presets.split(",") if p.strip()], args.order_runs, args.order_batch, args.order_jitter_s)
    if "locate" in sections:
        bench_locate(args.trials)
    if sections & {"speed", "memory", "fingerprint"}:
        week, _ = scenario_data("contact-line-week")
        if "fingerprint" in sections:
            bench_fingerprint(week, args.fingerprint_observations)
        if "speed" in sections:
            bench_speed(week, args.speed_observations, args.speed_rounds)
        if "memory" in sections:
            bench_memory(week, [n - n % 1000 for n in args.rss_observations])
    return 0


if __name__ == "__main__":
    sys.exit(main())
