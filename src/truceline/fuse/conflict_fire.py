"""Conflict-fire detection in FIRMS thermal anomalies, after The Economist's published method.

Most fires seen from space are fields, grass and forests burning in their season; war fires are the ones
a cell would not see at that time of year, and they keep coming back. Per 0.1° × 0.1° cell:

1. **Baseline.** For each day of year, the probability that the cell is *active* (≥1 detection) on a
   day: its active days within ±``half_window_days`` of that day of year (circular) over the baseline
   years, divided by window length × number of baseline years. The larger of the cell's own value and
   its 3 × 3 neighbourhood mean is used (fields straddle cell edges, farm districts burn together), and
   never less than ``floor``. Active *days* rather than detection counts: one burning field yields 1 to
   50 detections the same day, so detection counts are far more clumped than a Poisson model allows
   (a Poisson model on counts flagged ~60% of the 2021 detections against 2021 itself).
2. **Season factor.** Truceline ships one baseline year (2021) and a year's weather moves the whole
   season (spring 2022 had ~8× the active cell-days of spring 2021 across Ukraine). So the baseline is
   scaled, per analysed year and day of year, by the *median* over 1° blocks of
   ``(active cell-days this year + 1) / (in the baseline + 1)`` within the same window (blocks with
   ≥ ``MIN_BLOCK_ACTIVITY`` between the two), never below 1. War fires touch a minority of blocks, so the
   median follows the weather, not the war.
3. **Anomalous cell-days.** A cell-day's activity is its number of active days in the 7-day window
   centred on it; under a binomial model (7 days, the scaled probability) it *qualifies* when
   ``P(X ≥ active days) < alpha`` (5%). The floor (0.1) is what keeps quiet cells from qualifying on any
   fire: such a cell needs ≥3 active days in a week (``P = 2.6%``; 2 days would be 15%).
4. **War-affected cells.** ≥2 qualifying days ≥7 days apart (over the whole analysed period, i.e.
   retrospectively, as The Economist did).
5. **Flag.** In a war-affected cell, detections on qualifying days and 1–10 days after any qualifying
   day are flagged.
6. **Persistent heat sources.** A cell active on ≥ ``PERSISTENT_MIN_ACTIVE_DAYS`` days a year in the
   baseline (steelworks, gas flares, landfills, peat) burns in streaks of many days, which a binomial
   model of independent days calls anomalous whenever a streak falls in a quieter part of the year. Such
   cells never qualify and say why; FIRMS's own "static land source" type rests on the same idea
   (persistence over years). The cost is stated plainly: war fires at such a site are not flagged.

Distance to the line of contact is deliberately not an input: it is what the analytic is checked
against. Pure and vectorised with numpy: arrays in, arrays out, no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

#: Cell size in degrees (latitude and longitude).
CELL_DEG = 0.1
#: Cells per side of the blocks the season factor compares (1°).
BLOCK_CELLS = 10
#: Tail probability below which a cell-day is anomalous.
ALPHA = 0.05
#: Minimum daily probability that a cell is active (see module docstring).
DEFAULT_FLOOR = 0.1
#: Half-width of the day-of-year window the baseline is averaged over.
DEFAULT_HALF_WINDOW_DAYS = 15
#: Half-width of the window a cell-day's activity (active days) is counted over: 7 days.
ACTIVITY_HALF_WINDOW_DAYS = 3
#: Blocks with fewer active cell-days (baseline + analysed, in the window) do not vote on the season factor.
MIN_BLOCK_ACTIVITY = 10
#: Two qualifying days at least this far apart make a cell war-affected.
MIN_SEPARATION_DAYS = 7
#: Detections this many days after a qualifying day are flagged too.
CARRY_OVER_DAYS = 10
#: Baseline active days per year from which a cell is a persistent heat source (a quarter of the year).
PERSISTENT_MIN_ACTIVE_DAYS = 90
_DAYS = 365

#: ``reason`` values, indexed by :attr:`ConflictFireResult.reason_code`.
REASONS: tuple[str, ...] = (
    "expected for the season",
    "anomalous day, cell not war-affected",
    "anomalous day in war-affected cell",
    "within 10 days after an anomalous day in war-affected cell",
    "persistent heat source in the baseline (industry, flare, landfill)",
)
_EXPECTED, _ISOLATED, _ANOMALOUS, _CARRY, _PERSISTENT = 0, 1, 2, 3, 4

#: Observation attribute holding the analytic's verdict on a detection (set at FIRMS ingest).
CONFLICT_FIRE_ATTRIBUTE = "conflict_fire"


def is_background_fire(attributes: Mapping[str, Any] | None) -> bool:
    """True for a detection the analytic judged and did not flag: a fire of the season, not evidence of war.

    Detections nobody analysed (no verdict) are not background: fusion treats them like any other report.
    """
    verdict = attributes.get(CONFLICT_FIRE_ATTRIBUTE) if attributes else None
    return isinstance(verdict, Mapping) and verdict.get("flagged") is False


def cells_of(lat: NDArray[np.float64], lon: NDArray[np.float64]) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Absolute 0.1° cell indices ``(floor(lat/0.1), floor(lon/0.1))``, robust to binary representation error."""
    return np.floor(np.round(lat / CELL_DEG, 9)).astype(np.int64), np.floor(np.round(lon / CELL_DEG, 9)).astype(np.int64)


def day_of_year(days: NDArray[np.datetime64]) -> NDArray[np.int64]:
    """Day of a 365-day year (0–364): Feb 29 shares Feb 28's slot so leap years align with the baseline."""
    d = days.astype("datetime64[D]")
    year = d.astype("datetime64[Y]")
    doy = (d - year.astype("datetime64[D]")).astype(np.int64)
    y = year.astype(np.int64) + 1970
    leap = (y % 4 == 0) & ((y % 100 != 0) | (y % 400 == 0))
    out: NDArray[np.int64] = doy - (leap & (doy >= 59)).astype(np.int64)
    return out


def _as_arrays(lat: ArrayLike, lon: ArrayLike, date: ArrayLike) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.datetime64]]:
    lat_a = np.ravel(np.asarray(lat, dtype=np.float64))
    lon_a = np.ravel(np.asarray(lon, dtype=np.float64))
    date_a = np.ravel(np.asarray(date, dtype="datetime64[D]"))
    if not (lat_a.shape == lon_a.shape == date_a.shape):
        raise ValueError("lat, lon and date must have the same length")
    if not (np.all(np.isfinite(lat_a)) and np.all(np.abs(lat_a) <= 90) and np.all(np.isfinite(lon_a)) and np.all(np.abs(lon_a) <= 180)):
        raise ValueError("lat must be within ±90 and lon within ±180, all finite")
    if np.any(np.isnat(date_a)):
        raise ValueError("every detection needs a date")
    return lat_a, lon_a, date_a


def _window_sum(counts: NDArray[np.int32], half: int) -> NDArray[np.int32]:
    """Circular sum over ±half along the last (day-of-year) axis, exact in integers."""
    if half == 0:
        return counts.copy()
    wrapped = np.concatenate([counts[..., _DAYS - half :], counts, counts[..., :half]], axis=-1)
    csum = np.cumsum(wrapped, axis=-1, dtype=np.int32)
    zero = np.zeros((*counts.shape[:-1], 1), dtype=np.int32)
    csum = np.concatenate([zero, csum], axis=-1)
    return csum[..., 2 * half + 1 :] - csum[..., :_DAYS]


def _block_activity(iy: NDArray[np.int64], ix: NDArray[np.int64], doy: NDArray[np.int64], by0: int, bx0: int, nby: int, nbx: int, half: int) -> NDArray[np.int32]:
    """Active cell-days per 1° block and day-of-year window, for already de-duplicated cell-days."""
    by, bx = iy // BLOCK_CELLS - by0, ix // BLOCK_CELLS - bx0
    ok = (by >= 0) & (by < nby) & (bx >= 0) & (bx < nbx)
    flat = (by[ok] * nbx + bx[ok]) * _DAYS + doy[ok]
    counts = np.bincount(flat, minlength=nby * nbx * _DAYS).astype(np.int32).reshape(nby, nbx, _DAYS)
    return _window_sum(counts, half)


@dataclass(frozen=True)
class FireBaseline:
    """How often each cell is active at each time of year in the baseline years (see module docstring).

    ``score[iy, ix, doy]`` is ``max(9 · own, neighbourhood)`` active-day count in the window, an integer so
    that every implementation agrees exactly; :meth:`probability` turns it into a daily probability.
    The grid's south-west cell is ``(iy0, ix0)`` (absolute 0.1° indices); cells off the grid get ``floor``.
    ``block_activity`` holds the baseline's active cell-days per 1° block for the season factor;
    ``persistent_cells`` marks persistent heat sources (module docstring, step 6).
    """

    iy0: int
    ix0: int
    score: NDArray[np.int32]
    block_activity: NDArray[np.int32]
    persistent_cells: NDArray[np.bool_]
    years: int
    floor: float
    half_window_days: int

    @classmethod
    def from_detections(
        cls,
        lat: ArrayLike,
        lon: ArrayLike,
        date: ArrayLike,
        *,
        floor: float = DEFAULT_FLOOR,
        half_window_days: int = DEFAULT_HALF_WINDOW_DAYS,
    ) -> FireBaseline:
        """Baseline from all detections of whole baseline years; ``years`` is how many distinct years they span."""
        lat_a, lon_a, date_a = _as_arrays(lat, lon, date)
        if len(lat_a) == 0:
            raise ValueError("a baseline needs detections")
        if not 0 < floor < 1 or not 0 <= half_window_days < _DAYS // 2:
            raise ValueError("floor must be within (0, 1) and half_window_days within [0, 182)")
        years = len(np.unique(date_a.astype("datetime64[Y]")))
        iy, ix = cells_of(lat_a, lon_a)
        # one cell of margin so every baseline cell's 3 × 3 neighbourhood is on the grid
        iy0, ix0 = int(iy.min()) - 1, int(ix.min()) - 1
        ny, nx = int(iy.max()) - iy0 + 2, int(ix.max()) - ix0 + 2
        doy = day_of_year(date_a)
        flat = np.unique(((iy - iy0) * nx + (ix - ix0)) * _DAYS + doy)  # active cell-days (one per year and day)
        if years > 1:  # the same cell-day of year active in several years counts once per year
            year = date_a.astype("datetime64[Y]").astype(np.int64)
            flat = np.unique((year - year.min()) * (ny * nx * _DAYS) + ((iy - iy0) * nx + (ix - ix0)) * _DAYS + doy) % (ny * nx * _DAYS)
        active = np.bincount(flat, minlength=ny * nx * _DAYS).astype(np.int32).reshape(ny, nx, _DAYS)
        persistent = (active.sum(axis=2) / years) >= PERSISTENT_MIN_ACTIVE_DAYS
        own = _window_sum(active, half_window_days)
        del active
        padded = np.pad(own, ((1, 1), (1, 1), (0, 0)))
        neighbourhood = np.zeros_like(own)
        for dy in range(3):
            for dx in range(3):
                neighbourhood += padded[dy : dy + ny, dx : dx + nx]
        del padded
        own *= 9
        score = np.maximum(own, neighbourhood, out=own)
        cy, cx, cd = flat // _DAYS // nx + iy0, flat // _DAYS % nx + ix0, flat % _DAYS
        by0, bx0 = iy0 // BLOCK_CELLS, ix0 // BLOCK_CELLS
        nby, nbx = (iy0 + ny - 1) // BLOCK_CELLS - by0 + 1, (ix0 + nx - 1) // BLOCK_CELLS - bx0 + 1
        blocks = _block_activity(cy, cx, cd, by0, bx0, nby, nbx, half_window_days)
        return cls(iy0, ix0, score, blocks, persistent, years, float(floor), half_window_days)

    @property
    def block_origin(self) -> tuple[int, int]:
        """Absolute 1° block indices of ``block_activity[0, 0]``."""
        return self.iy0 // BLOCK_CELLS, self.ix0 // BLOCK_CELLS

    def persistent(self, iy: NDArray[np.int64], ix: NDArray[np.int64]) -> NDArray[np.bool_]:
        """Whether cells ``(iy, ix)`` (absolute indices) are persistent heat sources in the baseline."""
        ny, nx = self.persistent_cells.shape
        ry, rx = iy - self.iy0, ix - self.ix0
        inside = (ry >= 0) & (ry < ny) & (rx >= 0) & (rx < nx)
        out = np.zeros(len(iy), dtype=bool)
        out[inside] = self.persistent_cells[ry[inside], rx[inside]]
        return out

    def probability(self, iy: NDArray[np.int64], ix: NDArray[np.int64], doy: NDArray[np.int64]) -> NDArray[np.float64]:
        """Baseline probability that cells ``(iy, ix)`` (absolute indices) are active on days of year ``doy``."""
        ny, nx, _ = self.score.shape
        ry, rx = iy - self.iy0, ix - self.ix0
        inside = (ry >= 0) & (ry < ny) & (rx >= 0) & (rx < nx)
        out = np.full(len(iy), self.floor, dtype=np.float64)
        denominator = 9.0 * (2 * self.half_window_days + 1) * self.years
        out[inside] = np.maximum(self.score[ry[inside], rx[inside], doy[inside]] / denominator, self.floor)
        return out


@dataclass(frozen=True)
class ConflictFireResult:
    """Per detection, in input order: its cell-day's activity, expectation, tail probability, flag and reason.

    ``count``: detections in the cell that day; ``active_days``: active days of the cell in the 7-day window;
    ``expected_active_days``: what the (season-scaled) baseline expects there; ``probability``: ``P(X ≥
    active_days)``; ``season_factor``: the scaling applied for that year and day of year.
    """

    count: NDArray[np.int64]
    active_days: NDArray[np.int64]
    expected_active_days: NDArray[np.float64]
    probability: NDArray[np.float64]
    season_factor: NDArray[np.float64]
    anomalous: NDArray[np.bool_]
    war_affected_cell: NDArray[np.bool_]
    flagged: NDArray[np.bool_]
    reason_code: NDArray[np.int8]

    def __len__(self) -> int:
        return len(self.flagged)

    @property
    def reason(self) -> NDArray[np.str_]:
        """Short human-readable reason per detection (see :data:`REASONS`)."""
        return np.asarray(REASONS)[self.reason_code]


def season_factors(baseline: FireBaseline, iy: NDArray[np.int64], ix: NDArray[np.int64], day: NDArray[np.int64]) -> tuple[int, NDArray[np.float64]]:
    """Per analysed year (rows, from the first year in ``day``) and day of year: the baseline scaling ≥ 1.

    ``iy, ix, day`` are distinct active cell-days (``day`` in days since 1970). Returns the first calendar
    year and the factors (module docstring, step 2); baseline activity is per baseline year.
    """
    dates = day.astype("datetime64[D]")
    year = dates.astype("datetime64[Y]").astype(np.int64)
    year0 = int(year.min())
    doy = day_of_year(dates)
    nby, nbx, _ = baseline.block_activity.shape
    by0, bx0 = baseline.block_origin
    factors = np.ones((int(year.max()) - year0 + 1, _DAYS))
    base = baseline.block_activity / float(baseline.years)
    for k in range(factors.shape[0]):
        sel = year - year0 == k
        if not sel.any():
            continue
        now = _block_activity(iy[sel], ix[sel], doy[sel], by0, bx0, nby, nbx, baseline.half_window_days).astype(np.float64)
        ratio = (now + 1) / (base + 1)
        ratio[(now + base) < MIN_BLOCK_ACTIVITY] = np.nan
        voting = np.isfinite(ratio).any(axis=(0, 1))
        med = np.ones(_DAYS)
        if voting.any():
            med[voting] = np.nanmedian(ratio[:, :, voting].reshape(-1, int(voting.sum())), axis=0)
        factors[k] = np.maximum(med, 1.0)
    return year0 + 1970, factors


def detect_conflict_fires(
    lat: ArrayLike,
    lon: ArrayLike,
    date: ArrayLike,
    baseline: FireBaseline,
    *,
    alpha: float = ALPHA,
    min_separation_days: int = MIN_SEPARATION_DAYS,
    carry_over_days: int = CARRY_OVER_DAYS,
) -> ConflictFireResult:
    """Flag detections that the baseline season does not explain (rules in the module docstring).

    The detections must be one complete set for the period analysed (e.g. a year): activity, the season
    factor and the war-affected test are all taken over exactly these rows.
    """
    lat_a, lon_a, date_a = _as_arrays(lat, lon, date)
    if len(lat_a) == 0:
        f, b, i = np.zeros(0), np.zeros(0, dtype=bool), np.zeros(0, dtype=np.int64)
        return ConflictFireResult(i, i, f, f, f, b, b, b, np.zeros(0, dtype=np.int8))
    iy, ix = cells_of(lat_a, lon_a)
    day = date_a.astype(np.int64)
    day0 = int(day.min())
    pad = max(carry_over_days, min_separation_days, ACTIVITY_HALF_WINDOW_DAYS) + 1
    span = int(day.max()) - day0 + 2 * pad + 1
    # one key per cell-day, ordering groups by cell, then day; days are offset by pad so windows never cross cells
    cy0, cx0 = int(iy.min()), int(ix.min())
    nx = int(ix.max()) - cx0 + 1
    key = ((iy - cy0) * nx + (ix - cx0)) * span + (day - day0 + pad)
    group, inverse, count = np.unique(key, return_inverse=True, return_counts=True)
    g_cell, g_off = group // span, group % span
    g_day = g_off - pad + day0
    g_iy, g_ix = g_cell // nx + cy0, g_cell % nx + cx0
    g_doy = day_of_year(g_day.astype("datetime64[D]"))

    h = ACTIVITY_HALF_WINDOW_DAYS
    active = np.searchsorted(group, group + h, side="right") - np.searchsorted(group, group - h, side="left")
    year0, factors = season_factors(baseline, g_iy, g_ix, g_day)
    g_year = g_day.astype("datetime64[D]").astype("datetime64[Y]").astype(np.int64) + 1970
    factor = factors[g_year - year0, g_doy]
    p_day = np.minimum(baseline.probability(g_iy, g_ix, g_doy) * factor, 1.0)
    n_days = 2 * h + 1
    from scipy.special import bdtrc  # here, not at the top: scipy.special costs 0.25 s, and every server imported it at start

    prob = bdtrc(active - 1, n_days, p_day)  # P(X ≥ active) = P(X > active − 1)
    g_persistent = baseline.persistent(g_iy, g_ix)
    qualifies = (prob < alpha) & ~g_persistent

    # war-affected: the cell's qualifying days span at least min_separation_days
    q_cell, q_off = g_cell[qualifies], g_off[qualifies]  # sorted by cell, then day
    cells_q, first, n_q = np.unique(q_cell, return_index=True, return_counts=True)
    war_cells = cells_q[(q_off[first + n_q - 1] - q_off[first]) >= min_separation_days]
    g_war = np.isin(g_cell, war_cells, assume_unique=False)

    # carry-over: the latest earlier qualifying day of the same war-affected cell is ≤ carry_over_days back
    war_q = group[qualifies & g_war]
    before = np.searchsorted(war_q, group, side="left") - 1
    prev = war_q[np.maximum(before, 0)] if len(war_q) else np.zeros(len(group), dtype=np.int64)
    carried = (before >= 0) & (group - prev <= carry_over_days) & g_war

    code = np.full(len(group), _EXPECTED, dtype=np.int8)
    code[carried] = _CARRY
    code[qualifies & ~g_war] = _ISOLATED
    code[qualifies & g_war] = _ANOMALOUS
    code[g_persistent] = _PERSISTENT
    flagged = (code == _ANOMALOUS) | (code == _CARRY)
    return ConflictFireResult(
        count=count[inverse],
        active_days=active[inverse],
        expected_active_days=(n_days * p_day)[inverse],
        probability=prob[inverse],
        season_factor=factor[inverse],
        anomalous=qualifies[inverse],
        war_affected_cell=g_war[inverse],
        flagged=flagged[inverse],
        reason_code=code[inverse],
    )
