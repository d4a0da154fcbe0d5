"""Human reports: monitors, open sources and officials naming a place, roughly when, often late.

A report names a place at an ACLED-style precision and is placed with an error that is a fraction of that
precision's nominal radius; its time is approximate and stated so; it arrives minutes to hours late; some
are re-posted (duplicates, another id, the same content), and some describe nothing that happened.
"""

from __future__ import annotations

import math

from truceline.domain.observation import PLACE_PRECISION_SIGMA_M, PlacePrecision
from truceline.sim.draft import Draft, stream
from truceline.sim.scenario import Reports
from truceline.sim.sensors import Context
from truceline.sim.world import TruthEvent


def reports(spec: Reports, ctx: Context, events: list[TruthEvent]) -> list[Draft]:
    """Reports of impacts, their duplicates and false reports, for every channel of one reporting body."""
    rng = stream(ctx.scenario.seed, spec.id)
    channels = [f"{spec.id}-{k:02d}" for k in range(1, spec.channels + 1)] if spec.channels > 1 else [spec.id]
    levels = sorted(spec.precision)
    weights = [spec.precision[k] for k in levels]
    out: list[Draft] = []
    seq = 0

    def draft(event_id: str | None, t: float, x: float, y: float, tag: str) -> Draft:
        nonlocal seq
        seq += 1
        precision = int(rng.choice(levels, p=weights))
        spread = spec.place_error * PLACE_PRECISION_SIGMA_M[PlacePrecision(precision)]
        px, py = x + rng.normal(0.0, spread), y + rng.normal(0.0, spread)
        delay = min(spec.delay_median_min * 60.0 * math.exp(rng.normal(0.0, spec.delay_sigma)), spec.delay_max_h * 3600.0)
        channel = channels[int(rng.integers(len(channels)))]
        return Draft(
            id=f"{spec.id}-r{seq:06d}",
            time=t + rng.normal(0.0, spec.time_sd_s),
            time_sd=spec.time_sd_s,
            kind=str(rng.choice(spec.kinds)),
            source_id=channel,
            source_type=spec.source_type,
            org=spec.org,
            reliability=spec.reliability.value,
            credibility=int(spec.credibility.value),
            arrival=t + delay,
            event=event_id,
            phase="impact" if event_id else None,
            tag=tag,  # type: ignore[arg-type]
            place=(px, py, precision, f"grid {px / 1000.0:+.0f}/{py / 1000.0:+.0f} km"),
        )

    originals: list[Draft] = []
    for event in events:
        if rng.uniform() < spec.p_report:
            originals.append(draft(event.id, event.impact_time, event.impact_x, event.impact_y, "signal"))
    days = (ctx.end - ctx.start) / 86400.0
    for _ in range(int(rng.poisson(spec.false_per_day * days))):
        x, y = ctx.geometry.random_point(rng)
        originals.append(draft(None, float(rng.uniform(ctx.start, ctx.end)), x, y, "false-report"))
    for original in originals:
        out.append(original)
        if rng.uniform() < spec.p_duplicate:
            seq += 1
            copy = Draft(**{**original.__dict__})
            copy.id = f"{spec.id}-r{seq:06d}"
            copy.source_id = channels[int(rng.integers(len(channels)))]
            copy.arrival = original.arrival + float(rng.uniform(60.0, 3600.0))
            copy.tag = "duplicate"
            out.append(copy)
    return out
