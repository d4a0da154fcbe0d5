"""Launch-to-impact linking: which observed launch fired an impact, and how sure that is.

An impact alone never shows who fired. A launch-phase incident (launch, muzzle-flash) does: its position is
the firing point. When a launch precedes an impact by a time of flight that some weapon class can fly over
their distance, within that class's reach (and along the direction of fire, when a sensor reported one), the
two may be one engagement. Each candidate launch *k* of an impact gets a likelihood

    λ_k = Σ_c π_c · P(range within reach_c) · f_c(Δt | range) · L_bearing

where f_c is the time-of-flight window of class *c* (uniform, see :data:`WEAPON_CLASSES`) widened by the
time uncertainties of both incidents (each fusion's inverse-variance estimate from its members' stated or
assumed σ, so a vague report joining a precise one does not widen the gate), and π_c the class's prior
share. The hypothesis "none of these launches fired it" gets the density ``b`` of unrelated launches able
to reach the impact (counted in the same batch over the hour before, weighted by reach) times ``(1 − P_D) / P_D`` for the chance that a shot's launch is seen at
all. Then P(k) = λ_k / (b + Σ_j λ_j) — probabilistic data association. A lone candidate in a quiet sector
links with high probability; two launches from opposite sides that both fit split it, so neither side
reaches the agreement's threshold; dense fire raises ``b`` and lowers every link.

Everything here is a pure function of the judged events (no I/O, no randomness) so a verdict is reproducible.
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from truceline.domain.agreement import AttributionSettings
from truceline.domain.geo import GEOD, normal_cdf
from truceline.domain.strict import parse_decimal
from truceline.domain.violation import (
    IMPACT_PHASE_KINDS,
    LAUNCH_PHASE_KINDS,
    OUTSIDE,
    UNDETERMINED,
    UNLINKED,
    Attribution,
    AttributionMethod,
    Engagement,
    JudgedEvent,
)

G = 9.80665


@dataclass(frozen=True)
class WeaponClass:
    """Envelope of one weapon class: reach, fastest projectile, steepest elevation, share of fire."""

    name: str
    min_range_m: float
    max_range_m: float
    max_speed_mps: float  # muzzle (or rocket burn-out) speed at the top charge: sets the flattest, fastest flight
    max_elevation_deg: float  # steepest fire the class uses: sets the slowest flight
    prior: float  # share of fire of this class when a launch does not say its class


#: Envelopes from public figures: mortars 82 mm (2B14, 4.1 km) to 120 mm (2S12, 7.1 km; M120 7.2 km) with
#: rocket-assisted rounds to ~9 km, fired at 45–85°; tube artillery 100–155 mm (D-30 15 km, 2A65 24.7 km,
#: M777 24–30 km, base-bleed/RAP ~40 km), top muzzle speed ~830–950 m/s, high-angle fire up to ~70°; MLRS
#: (BM-21 Grad 20–40 km, burn-out ~690 m/s); heavy MLRS (BM-27 Uragan 35 km, BM-30 Smerch/Tornado-S 70–120 km,
#: GMLRS 70–84 km, ~1,000–1,200 m/s); tactical missiles (Tochka-U 120 km, Iskander/ATACMS up to ~500 km,
#: ~2,000 m/s and more). Priors follow the OSCE SMM's ceasefire-violation records for 2015–2021, where
#: mortar and artillery fire dominate and rockets and missiles are rare.
WEAPON_CLASSES: tuple[WeaponClass, ...] = (
    WeaponClass("mortar", 200.0, 9_500.0, 330.0, 85.0, 0.35),
    WeaponClass("artillery", 2_000.0, 42_000.0, 950.0, 70.0, 0.35),
    WeaponClass("mlrs", 3_000.0, 42_000.0, 750.0, 55.0, 0.18),
    WeaponClass("heavy-mlrs", 10_000.0, 120_000.0, 1_200.0, 55.0, 0.08),
    WeaponClass("tactical-missile", 15_000.0, 500_000.0, 2_300.0, 45.0, 0.04),
)
#: Air drag only lengthens a flight; the slowest drag-free flight is stretched by up to this factor.
DRAG_STRETCH = 1.4
#: Added in quadrature to the incidents' own time uncertainty: fusion's floor for a time stated as exact.
TIME_FLOOR_S = 2.0
#: Unrelated launches are counted over this many seconds before the impact (only the past: a verdict must not
#: change when later fire is reported, and a page of ``/violations`` needs only what precedes it).
CLUTTER_WINDOW_S = 3_600.0
#: Launches up to this long after an impact are still considered (clock errors): far beyond every time floor.
LATE_LAUNCH_S = 60.0
#: Least density of unrelated launches assumed, even in a batch that holds no other launch: one a day.
CLUTTER_FLOOR_PER_S = 1.0 / 86_400.0
#: Chance that a shot's launch is observed at all (acoustic arrays, drones and radars do not cover all of it).
LAUNCH_DETECTION_PROBABILITY = 0.5
#: Weight of a link whose launch and impact lie on the same party's ground. Fire across a ceasefire line
#: lands on the other side; a round landing on the shooter's own ground (a short round, training, a
#: demolition) is rare, while the other side's reply landing near the first gun is common. Such a link
#: can still win when nothing else explains the impact, but no longer outweighs a cross-line one.
SAME_SIDE_WEIGHT = 0.05
#: Launch attribute: direction of fire (degrees from north) reported by the sensor that saw the launch.
FIRE_AZIMUTH = "fire_azimuth_deg"
#: Its 1-σ in degrees; this is assumed when a sender gives the direction without it.
FIRE_AZIMUTH_SD = "fire_azimuth_sd_deg"
DEFAULT_FIRE_AZIMUTH_SD_DEG = 15.0
#: Launch attribute naming the weapon class (one of :data:`WEAPON_CLASSES`); others are ignored.
WEAPON_CLASS = "weapon_class"
#: Candidates with a smaller link probability are dropped (they change no verdict and clutter the basis).
MIN_CANDIDATE_PROBABILITY = 0.01
#: Candidates spelled out in a basis; the rest are counted (the probabilities include them all).
MAX_CANDIDATES_IN_BASIS = 4

_LONGEST_FLIGHT_S: float = max(DRAG_STRETCH * math.sqrt(2 * c.max_range_m * math.tan(math.radians(c.max_elevation_deg)) / G)
                        for c in WEAPON_CLASSES)


#: How far before the first impact of a batch its launches must be known for every verdict to be the same as
#: in a longer batch (the callers' ``context`` window).
LINK_LOOKBACK_S: float = max(CLUTTER_WINDOW_S, _LONGEST_FLIGHT_S) + LATE_LAUNCH_S


@dataclass(frozen=True)
class LinkCandidate:
    """One launch that may have fired an impact."""

    launch: int  # index of the launch event in the judged batch
    probability: float
    time_of_flight_s: float
    range_m: float
    classes: tuple[str, ...]  # classes whose envelope fits
    bearing_note: str = ""


@dataclass(frozen=True)
class ImpactLinks:
    """An impact's candidate launches, best first, and the density the no-link hypothesis got."""

    impact: int
    candidates: tuple[LinkCandidate, ...]
    unlinked: float  # probability that none of the candidates fired it
    clutter_per_s: float
    launches_considered: int


def flight_time_window(range_m: float, weapon: WeaponClass) -> tuple[float, float] | None:
    """Shortest and longest time of flight (s) for ``weapon`` over ``range_m``; None when out of its reach.

    Drag-free flight over range r at elevation θ lasts sqrt(2 r tan θ / g). The flattest elevation the top
    speed allows, θ_lo = ½ asin(g r / v²), gives the shortest flight (drag only lengthens it); the steepest,
    min(max elevation, 90° − θ_lo), stretched by :data:`DRAG_STRETCH`, the longest.
    """
    if range_m <= 0.0:
        return None
    s = G * range_m / weapon.max_speed_mps**2
    if s > 1.0:
        return None
    low = 0.5 * math.asin(s)
    high = min(math.radians(weapon.max_elevation_deg), math.pi / 2 - low)
    if high < low:
        return None
    shortest = math.sqrt(2 * range_m * math.tan(low) / G)
    longest = DRAG_STRETCH * math.sqrt(2 * range_m * math.tan(high) / G)
    return shortest, max(longest, shortest + 1.0)


def _reach_probability(range_m: float, sd_m: float, weapon: WeaponClass) -> float:
    return max(0.0, normal_cdf((range_m - weapon.min_range_m) / sd_m) - normal_cdf((range_m - weapon.max_range_m) / sd_m))


def _classes_for(launch: JudgedEvent) -> tuple[tuple[WeaponClass, float], ...]:
    declared = launch.attributes.get(WEAPON_CLASS, "").strip().lower()
    known = [c for c in WEAPON_CLASSES if c.name == declared]
    if known:
        return ((known[0], 1.0),)
    return tuple((c, c.prior) for c in WEAPON_CLASSES)


def _sd_m(event: JudgedEvent) -> float:
    (a, _), (_, d) = event.position_covariance()
    return math.sqrt(max(a, d))


def _bearing_factor(launch: JudgedEvent, azimuth_deg: float, range_m: float, cross_sd_m: float) -> tuple[float, str]:
    """Likelihood ratio of the reported direction of fire against no direction (1 when none was reported)."""
    raw = launch.attributes.get(FIRE_AZIMUTH)
    if raw is None:
        return 1.0, ""
    try:
        reported = parse_decimal(raw) % 360.0  # not float(): "nan" would make the likelihood NaN, "٩٠" read as 90
        sd_raw = launch.attributes.get(FIRE_AZIMUTH_SD)
        sd = DEFAULT_FIRE_AZIMUTH_SD_DEG if sd_raw is None else parse_decimal(sd_raw)
    except ValueError:
        return 1.0, f"direction of fire {raw!r} unreadable, not used"
    sd_total = math.hypot(max(sd, 0.1), math.degrees(cross_sd_m / max(range_m, 1.0)))
    diff = (azimuth_deg - reported + 180.0) % 360.0 - 180.0
    density = math.exp(-0.5 * (diff / sd_total) ** 2) / (sd_total * math.sqrt(2 * math.pi))
    return density * 360.0, f"direction of fire {reported:.0f}° reported, {abs(diff):.0f}° off the impact (1-σ {sd_total:.0f}°)"


def _likelihood(launch: JudgedEvent, dt: float, time_sd: float, range_m: float, range_sd: float) -> tuple[float, tuple[str, ...]]:
    parts: list[tuple[str, float]] = []
    for weapon, prior in _classes_for(launch):
        reach = _reach_probability(range_m, range_sd, weapon)
        window = flight_time_window(min(max(range_m, weapon.min_range_m), weapon.max_range_m), weapon)
        if reach < 1e-6 or window is None:
            continue
        lo, hi = window
        density = (normal_cdf((dt - lo) / time_sd) - normal_cdf((dt - hi) / time_sd)) / (hi - lo)
        parts.append((weapon.name, prior * reach * density))
    total = sum(p for _, p in parts)
    return total, tuple(name for name, p in parts if total > 0.0 and p >= 0.05 * total)


_REACH_MIN = np.array([c.min_range_m for c in WEAPON_CLASSES])
_REACH_MAX = np.array([c.max_range_m for c in WEAPON_CLASSES])
_PRIOR = np.array([c.prior for c in WEAPON_CLASSES])


def _reach_weights(range_m: np.ndarray) -> np.ndarray:
    """Per range, the prior share of fire whose class reaches that far: how much a launch there counts as clutter."""
    inside = (range_m[:, None] >= _REACH_MIN) & (range_m[:, None] <= _REACH_MAX)
    weights: np.ndarray = inside.astype(np.float64) @ _PRIOR
    return weights


def link_impacts(events: Sequence[JudgedEvent], impacts: Sequence[int] | None = None,
                 controllers: Sequence[str | None] | None = None) -> dict[int, ImpactLinks]:
    """Candidate launches for each impact-phase event of ``events`` (or only those indexed by ``impacts``).

    ``controllers[i]`` is the party controlling event i's position (None: no party, or not known); a launch
    and an impact on the same party's ground are weighted by :data:`SAME_SIDE_WEIGHT`. An impact with no
    candidate is absent. The answer for an impact depends on the launches of the batch (candidates and the
    density of unrelated fire), never on the other impacts.
    """
    launches = sorted((i for i, e in enumerate(events) if e.kind in LAUNCH_PHASE_KINDS), key=lambda i: events[i].time)
    if not launches:
        return {}
    times = [events[i].time.timestamp() for i in launches]
    l_lat = np.array([events[i].lat for i in launches])
    l_lon = np.array([events[i].lon for i in launches])
    wanted = range(len(events)) if impacts is None else impacts
    out: dict[int, ImpactLinks] = {}
    for i in wanted:
        impact = events[i]
        if impact.kind not in IMPACT_PHASE_KINDS:
            continue
        t = impact.time.timestamp()
        lo, hi = bisect_left(times, t - CLUTTER_WINDOW_S), bisect_right(times, t + LATE_LAUNCH_S)
        if lo == hi:
            continue
        az, _, dist = GEOD.inv(np.full(hi - lo, impact.lon), np.full(hi - lo, impact.lat), l_lon[lo:hi], l_lat[lo:hi])
        back = (np.asarray(az) + 180.0) % 360.0  # azimuth from the launch towards the impact
        dist = np.asarray(dist)
        clutter = float(_reach_weights(dist).sum()) / (CLUTTER_WINDOW_S + LATE_LAUNCH_S)
        b = max(clutter, CLUTTER_FLOOR_PER_S) * (1 - LAUNCH_DETECTION_PROBABILITY) / LAUNCH_DETECTION_PROBABILITY
        scored: list[tuple[float, int, float, float, tuple[str, ...], str]] = []
        for j in range(lo, hi):
            launch = events[launches[j]]
            dt = t - times[j]
            if dt > _LONGEST_FLIGHT_S + LATE_LAUNCH_S or dt < -LATE_LAUNCH_S:
                continue
            time_sd = math.sqrt(impact.time_uncertainty_s**2 + launch.time_uncertainty_s**2 + TIME_FLOOR_S**2)
            r = float(dist[j - lo])
            range_sd = math.hypot(_sd_m(impact), _sd_m(launch))
            lam, fits = _likelihood(launch, dt, time_sd, r, range_sd)
            factor, note = _bearing_factor(launch, float(back[j - lo]), r, range_sd)
            lam *= factor
            if controllers is not None and controllers[i] is not None and controllers[i] == controllers[launches[j]]:
                lam *= SAME_SIDE_WEIGHT
                note = f"{note}; " if note else ""
                note += f"launch and impact both on {controllers[i]} ground (weighted {SAME_SIDE_WEIGHT:g})"
            if lam > 0.0:
                scored.append((lam, launches[j], dt, r, fits, note))
        if not scored:
            continue
        total = b + sum(s[0] for s in scored)
        candidates = tuple(
            LinkCandidate(k, lam / total, dt, r, fits, note)
            for lam, k, dt, r, fits, note in sorted(scored, key=lambda s: (-s[0], events[s[1]].id))
            if lam / total >= MIN_CANDIDATE_PROBABILITY
        )
        if candidates:
            out[i] = ImpactLinks(i, candidates, 1.0 - sum(c.probability for c in candidates), b, hi - lo)
    return out


def engagement(events: Sequence[JudgedEvent], impact: int, candidate: LinkCandidate) -> Engagement:
    """The published form of one link."""
    launch, hit = events[candidate.launch], events[impact]
    return Engagement(
        launch_incident_id=launch.id, impact_incident_id=hit.id, launch_kind=launch.kind,
        launch_lat=launch.lat, launch_lon=launch.lon, impact_lat=hit.lat, impact_lon=hit.lon,
        launch_observation_ids=launch.observation_ids[:20], probability=min(1.0, max(0.0, candidate.probability)),
        time_of_flight_s=round(candidate.time_of_flight_s, 3), range_m=round(candidate.range_m, 1),
        weapon_classes=candidate.classes,
    )


def attribute_by_link(events: Sequence[JudgedEvent], links: ImpactLinks, launch_attributions: Sequence[Attribution],
                      settings: AttributionSettings) -> Attribution:
    """An impact's attribution through its candidate launches: P(party) = Σ_k P(link k) · P(launch k on party's side).

    ``launch_attributions[k]`` is the firing-point attribution of ``links.candidates[k]``'s launch. Mass that no
    candidate carries (no link, or a launch whose side is unknown) goes to :data:`UNLINKED`, never to a party.
    """
    probs: dict[str, float] = {}
    unknown = links.unlinked
    parts: list[str] = []
    for cand, side in zip(links.candidates, launch_attributions, strict=True):
        launch = events[cand.launch]
        if side.probabilities:
            for key, p in side.probabilities.items():
                probs[key] = probs.get(key, 0.0) + cand.probability * p
        else:
            unknown += cand.probability
        seen = ", ".join(launch.observation_ids[:6]) + (" …" if len(launch.observation_ids) > 6 else "")
        sided = f"{side.party} {_pct(side.confidence)}" if side.party != UNDETERMINED else "side undetermined"
        note = f"; {cand.bearing_note}" if cand.bearing_note else ""
        parts.append(
            f"{launch.kind.value} incident {launch.id} ({launch.lat:.5f} N, {launch.lon:.5f} E; observations {seen or 'none listed'}) "
            f"{cand.time_of_flight_s:,.0f} s earlier at {cand.range_m / 1e3:,.1f} km — fits {', '.join(cand.classes) or 'no class'}{note}: "
            f"link {_pct(cand.probability)}, firing point {sided}")
    probs[UNLINKED] = max(0.0, unknown)
    total = sum(probs.values())
    probs = {k: min(1.0, v / total) for k, v in probs.items()}
    parties = {k: v for k, v in probs.items() if k not in (OUTSIDE, UNLINKED)}
    best = max(parties, key=lambda k: parties[k]) if parties else None
    named = best is not None and parties[best] >= settings.min_confidence
    basis = (f"Impact linked by time of flight and range to {len(links.candidates)} candidate launch"
             f"{'es' if len(links.candidates) != 1 else ''} ({links.launches_considered} launch-phase incident(s) in the "
             f"{CLUTTER_WINDOW_S / 60:.0f} min before; unrelated fire able to reach it {links.clutter_per_s * 3600:.2f}/h): "
             + "; ".join(parts[:MAX_CANDIDATES_IN_BASIS])
             + (f"; and {len(parts) - MAX_CANDIDATES_IN_BASIS} more" if len(parts) > MAX_CANDIDATES_IN_BASIS else "")
             + f". No launch observed for it: {_pct(links.unlinked)}. ")
    if named and best is not None:
        basis += (f"Combined (link × side): {best} {_pct(parties[best])}. Attributed to {best} with confidence "
                  f"{_pct(parties[best])} (threshold {settings.min_confidence:.0%}).")
        return Attribution(party=best, confidence=parties[best], basis=basis, method=AttributionMethod.LAUNCH_LINK,
                           probabilities=probs, samples=0)
    shares = ", ".join(f"{k} {_pct(v)}" for k, v in sorted(probs.items(), key=lambda kv: -kv[1]) if v > 0)
    basis += (f"Combined (link × side): {shares}. No party reaches the agreed threshold of {settings.min_confidence:.0%}, "
              f"so the party is {UNDETERMINED}.")
    return Attribution(party=UNDETERMINED, confidence=0.0, basis=basis, method=AttributionMethod.LAUNCH_LINK,
                       probabilities=probs, samples=0)


def _pct(p: float) -> str:
    if 0.9995 <= p < 1.0:
        return ">99.9%"
    if 0.0 < p < 0.0005:
        return "<0.1%"
    return f"{p:.1%}"
