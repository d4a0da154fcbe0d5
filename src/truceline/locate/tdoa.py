"""Acoustic multilateration from arrival times (TDOA with an unknown emission time).

Arrival ``t_i = t0 + |x - s_i| / c + noise`` at sensor ``s_i``. Chan's closed-form two-step weighted least
squares gives a start without any guess; Levenberg–Marquardt on the arrival times then reaches the maximum
likelihood estimate for Gaussian timing noise, whose inverse Fisher information is the reported covariance.
Solving for ``(x, y, t0)`` from arrival times is the same problem as differencing against a reference sensor,
without the correlated noise of a common reference.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from truceline.domain.chi2 import chi2_ppf

Array = NDArray[np.float64]

_MIN_RANGE_M = 1e-6
#: Up to this many sensors (one or two redundant), a second distant minimum can fit as well as the best.
_AMBIGUITY_CHECK_MAX_SENSORS = 5
_PRUNE_AFTER = 8  # batched descent: after this many steps, drop starts whose cost is hopeless
_PRUNE_MARGIN = 100.0


def sound_speed(temperature_c: float) -> float:
    """Speed of sound in dry air (m/s) at ``temperature_c`` °C: 331.3 · sqrt(1 + T / 273.15)."""
    if not math.isfinite(temperature_c) or temperature_c <= -273.15:
        raise ValueError(f"temperature must be a finite value above absolute zero, got {temperature_c!r} °C")
    return 331.3 * math.sqrt(1.0 + temperature_c / 273.15)


@dataclass(frozen=True)
class TdoaFix:
    """Position (frame metres), emission time (same reference as the arrivals) and their covariance."""

    x: float
    y: float
    t0: float
    cov: Array  # 3×3 over (x m, y m, t0 s)
    residual_rms_s: float
    iterations: int
    converged: bool
    ambiguous: bool = False  # another, distant minimum fits about as well (few sensors, poor geometry)

    @property
    def position_cov(self) -> Array:
        """2×2 east/north covariance of the position, m²."""
        return self.cov[:2, :2]

    @property
    def time_sd_s(self) -> float:
        """Standard deviation of the emission time, seconds."""
        return math.sqrt(max(float(self.cov[2, 2]), 0.0))


def _check(sensors: ArrayLike, arrivals: ArrayLike, c: float, timing_sd_s: float) -> tuple[Array, Array]:
    s = np.asarray(sensors, dtype=np.float64)
    t = np.asarray(arrivals, dtype=np.float64)
    if s.ndim != 2 or s.shape[1] != 2:
        raise ValueError(f"sensors must be an (n, 2) array of east/north metres, got shape {s.shape}")
    if t.shape != (s.shape[0],):
        raise ValueError(f"need one arrival time per sensor: {s.shape[0]} sensors, arrivals of shape {t.shape}")
    if s.shape[0] < 3:
        raise ValueError(f"2-D multilateration with an unknown emission time needs at least 3 sensors, got {s.shape[0]}")
    if not (np.all(np.isfinite(s)) and np.all(np.isfinite(t))):
        raise ValueError("sensor positions and arrival times must be finite")
    if not (c > 0 and math.isfinite(c)):
        raise ValueError(f"sound speed must be positive, got {c!r}")
    if not (timing_sd_s > 0 and math.isfinite(timing_sd_s)):
        raise ValueError(f"timing standard deviation must be positive, got {timing_sd_s!r}")
    return s, t


def chan_tdoa(sensors: ArrayLike, arrivals: ArrayLike, c: float, timing_sd_s: float = 1e-3) -> list[tuple[float, float]]:
    """Closed-form position candidates (Chan & Ho 1994); one for ≥4 sensors, up to two for exactly 3.

    Three sensors leave a genuine two-fold ambiguity in 2-D, so both roots are returned and the caller keeps
    the one that fits best after refinement. An empty list means the geometry is degenerate (e.g. collinear).
    """
    s, t = _check(sensors, arrivals, c, timing_sd_s)
    ref = s[0]
    rel = s[1:] - ref  # shift the origin to the reference sensor for conditioning
    r = c * (t[1:] - t[0])  # range differences to the reference sensor
    k = np.einsum("ij,ij->i", rel, rel)
    h = 0.5 * (r * r - k)
    ga = np.column_stack([-rel, -r])  # unknowns θ = (x, y, R_ref) relative to the reference sensor
    if s.shape[0] == 3:
        return [(float(x + ref[0]), float(y + ref[1])) for x, y in _chan_three(rel, r, h)]
    m = len(r)
    q = (c * timing_sd_s) ** 2 * (np.eye(m) + np.ones((m, m)))
    try:
        theta = _wls(ga, h, q)
        dist = np.hypot(theta[0] - rel[:, 0], theta[1] - rel[:, 1])
        psi = np.diag(dist) @ q @ np.diag(dist) + np.eye(m) * 1e-9 * float(np.trace(q))
        theta = _wls(ga, h, psi)
        cov = np.linalg.inv(ga.T @ np.linalg.solve(psi, ga))
    except np.linalg.LinAlgError:
        return []
    if not np.all(np.isfinite(theta)):
        return []
    first = (float(theta[0] + ref[0]), float(theta[1] + ref[1]))
    b = np.diag(theta)
    psi2 = 4.0 * b @ cov @ b
    g2 = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    h2 = theta * theta
    try:
        z = _wls(g2, h2, psi2 + np.eye(3) * 1e-12 * max(float(np.trace(psi2)), 1e-12))
    except np.linalg.LinAlgError:
        return [first]
    if not np.all(np.isfinite(z)):
        return [first]
    x = math.copysign(math.sqrt(abs(z[0])), theta[0])
    y = math.copysign(math.sqrt(abs(z[1])), theta[1])
    return [(x + float(ref[0]), y + float(ref[1]))]


def _wls(g: Array, h: Array, cov: Array) -> Array:
    w = np.linalg.solve(cov, g)
    return np.asarray(np.linalg.solve(g.T @ w, w.T @ h), dtype=np.float64)


def _chan_three(rel: Array, r: Array, h: Array) -> list[tuple[float, float]]:
    """Exactly determined case: position is linear in the reference range, which solves a quadratic."""
    a = rel
    if abs(np.linalg.det(a)) < 1e-9 * max(float(np.abs(a).max()) ** 2, 1.0):
        return []
    p = -np.linalg.solve(a, h)
    q = -np.linalg.solve(a, r)
    qa = float(q @ q) - 1.0
    qb = 2.0 * float(q @ p)
    qc = float(p @ p)
    roots: list[float] = []
    if abs(qa) < 1e-12:
        if abs(qb) > 1e-12:
            roots = [-qc / qb]
    else:
        disc = qb * qb - 4.0 * qa * qc
        if disc >= 0:
            sq = math.sqrt(disc)
            roots = [(-qb - sq) / (2 * qa), (-qb + sq) / (2 * qa)]
    return [(float(p[0] + q[0] * rr), float(p[1] + q[1] * rr)) for rr in roots if rr >= 0]


def _residuals(s: Array, t: Array, p: Array, c: float, sd: float) -> tuple[Array, Array]:
    dx = p[0] - s[:, 0]
    dy = p[1] - s[:, 1]
    rng = np.maximum(np.hypot(dx, dy), _MIN_RANGE_M)
    res = (t - p[2] - rng / c) / sd
    jac = np.column_stack([-dx / (rng * c * sd), -dy / (rng * c * sd), np.full_like(rng, -1.0 / sd)])
    return res, jac


def locate_tdoa(
    sensors: ArrayLike,
    arrivals: ArrayLike,
    c: float,
    timing_sd_s: float,
    initial: tuple[float, float] | None = None,
    max_iter: int = 50,
) -> TdoaFix:
    """Maximum-likelihood position and emission time from arrival times at ≥3 sensors.

    Starts from Chan's closed form (or ``initial``), refines with Levenberg–Marquardt, and returns the
    covariance ``(JᵀJ)⁻¹`` for the stated timing noise. With five sensors or fewer it also searches for a
    rival minimum and sets ``ambiguous`` when one, far away, fits within the χ² 99 % margin: the covariance
    then understates the error, and a processor should withhold or flag the fix. Raises ``ValueError`` for
    bad input and ``ArithmeticError`` when no start converges (degenerate geometry).
    """
    s, t = _check(sensors, arrivals, c, timing_sd_s)
    t_ref = float(t.min())
    tr = t - t_ref
    n = s.shape[0]
    starts = [initial] if initial is not None else chan_tdoa(s, t, c, timing_sd_s)
    minima = _refine_from(starts, s, tr, c, timing_sd_s, max_iter)
    poor_fit = not minima or min(m[0] for m in minima) > chi2_ppf(0.99, max(n - 3, 1))
    if poor_fit or n <= _AMBIGUITY_CHECK_MAX_SENSORS:
        # A fit worse than the 99th percentile of the χ² it should follow means the closed form may have
        # landed in the basin of a mirror solution; with ≤ 4 sensors a second minimum may fit as well. A ring
        # of starts around the array finds the global minimum and any rival.
        centroid = s.mean(axis=0)
        spread = float(np.hypot(*(s - centroid).T).max()) + 1.0
        ring = [(float(centroid[0]), float(centroid[1]))] + [
            (float(centroid[0] + k * spread * math.cos(a)), float(centroid[1] + k * spread * math.sin(a)))
            for k in (0.5, 2.0, 6.0)
            for a in np.linspace(0, 2 * math.pi, 6, endpoint=False)
        ]
        minima += _refine_from(ring, s, tr, c, timing_sd_s, max_iter)
    if not minima:
        raise ArithmeticError("multilateration found no start")
    cost, p, iters, ok = min(minima, key=lambda m: m[0])
    res, jac = _residuals(s, tr, p, c, timing_sd_s)
    try:
        cov = np.linalg.inv(jac.T @ jac)
    except np.linalg.LinAlgError as exc:
        raise ArithmeticError("sensor geometry is degenerate: the position is not observable") from exc
    if not np.all(np.isfinite(cov)) or not np.all(np.isfinite(p)):
        raise ArithmeticError("multilateration did not converge to a finite solution")
    sigma = math.sqrt(max(float(np.linalg.eigvalsh(cov[:2, :2]).max()), 0.0))
    rival = cost + float(chi2_ppf(0.99, 1))
    ambiguous = any(m[0] <= rival and math.hypot(m[1][0] - p[0], m[1][1] - p[1]) > max(5.0 * sigma, 1.0) for m in minima)
    return TdoaFix(
        x=float(p[0]),
        y=float(p[1]),
        t0=float(p[2]) + t_ref,
        cov=np.asarray(cov, dtype=np.float64),
        residual_rms_s=float(np.sqrt(np.mean((res * timing_sd_s) ** 2))),
        iterations=iters,
        converged=ok,
        ambiguous=ambiguous,
    )


def _refine_from(
    starts: list[tuple[float, float]], s: Array, tr: Array, c: float, sd: float, max_iter: int
) -> list[tuple[float, Array, int, bool]]:
    """The minimum reached from each start: (cost, (x, y, t0), iterations, converged).

    All starts descend together (batched Levenberg–Marquardt, one damping factor each), so trying many
    starts costs little more than trying one.
    """
    if not starts:
        return []
    p = np.array([[x0, y0, 0.0] for x0, y0 in starts], dtype=np.float64)
    p[:, 2] = np.mean(tr[None, :] - np.hypot(p[:, :1] - s[None, :, 0], p[:, 1:2] - s[None, :, 1]) / c, axis=1)
    k = len(starts)
    res, jac = _batch_residuals(s, tr, p, c, sd)
    cost = np.einsum("kn,kn->k", res, res)
    lam = np.full(k, 1e-3)
    active = np.ones(k, dtype=bool)
    converged = np.zeros(k, dtype=bool)
    iterations = np.zeros(k, dtype=np.int64)
    eye = np.eye(3)
    for step_count in range(max_iter * 4):  # rejected steps count too; each start gets at most max_iter accepted
        if not active.any():
            break
        jtj = np.einsum("kni,knj->kij", jac, jac)
        g = np.einsum("kni,kn->ki", jac, res)
        diag = np.maximum(np.einsum("kii->ki", jtj), 1e-12)
        a = jtj + lam[:, None, None] * diag[:, :, None] * eye
        try:
            step = -np.linalg.solve(a, g[:, :, None])[:, :, 0]
        except np.linalg.LinAlgError:
            break
        step[~active] = 0.0
        cand = p + step
        res_c, jac_c = _batch_residuals(s, tr, cand, c, sd)
        cost_c = np.einsum("kn,kn->k", res_c, res_c)
        accept = active & (cost_c <= cost)
        p[accept], res[accept], jac[accept], cost[accept] = cand[accept], res_c[accept], jac_c[accept], cost_c[accept]
        iterations[accept] += 1
        lam = np.where(accept, np.maximum(lam / 3.0, 1e-12), np.where(active, lam * 4.0, lam))
        small = (np.hypot(step[:, 0], step[:, 1]) < 1e-4) & (np.abs(step[:, 2]) < 1e-9)
        done = active & ((accept & small) | (lam > 1e12))  # tiny step, or no descent possible
        converged |= done
        active &= ~done & (iterations < max_iter)
        if step_count >= _PRUNE_AFTER:  # starts still far worse than the best can be neither best nor rival
            active &= cost <= cost.min() + _PRUNE_MARGIN
    return [(float(cost[i]), p[i].copy(), int(iterations[i]), bool(converged[i])) for i in range(k)]


def _batch_residuals(s: Array, t: Array, p: Array, c: float, sd: float) -> tuple[Array, Array]:
    dx = p[:, 0:1] - s[None, :, 0]
    dy = p[:, 1:2] - s[None, :, 1]
    rng = np.maximum(np.hypot(dx, dy), _MIN_RANGE_M)
    res = (t[None, :] - p[:, 2:3] - rng / c) / sd
    jac = np.stack([-dx / (rng * c * sd), -dy / (rng * c * sd), np.full_like(rng, -1.0 / sd)], axis=2)
    return res, jac


def tdoa_crlb(sensors: ArrayLike, x: float, y: float, c: float, timing_sd_s: float) -> Array:
    """Cramér–Rao bound (2×2, m²) on position from arrival times with iid Gaussian noise, t0 unknown."""
    s = np.asarray(sensors, dtype=np.float64)
    _, jac = _residuals(s, np.zeros(s.shape[0]), np.array([x, y, 0.0]), c, timing_sd_s)
    info = jac.T @ jac
    return np.asarray(np.linalg.inv(info)[:2, :2], dtype=np.float64)
