"""Fast, error-bounded distance from millions of points to the line of contact.

A per-point GEOS nearest-neighbour query costs about 8 µs; monitoring a front needs millions of points per
second. This index is an adaptive quadtree over the country, built once per agreement:

* far from the line, a cell stores the exact distance at its four corners and answers by bilinear
  interpolation. A cell is accepted only when a *proven* bound on the interpolation error is at most
  ``rel_tol`` × (smallest distance in the cell). The distance function D is 1-Lipschitz and semiconcave
  (D − |x|²/(2·Dmin) is concave), so interpolation overshoots by at most s²/(4·Dmin) for a cell of side s;
  it undershoots only where the nearest point jumps between branches of the line, which the corner
  gradients bound (see ``_interp_error_bound``). Cells failing the bound are split.
* within ``exact_band_m`` of the line (and in cells too small to split further), a cell stores the list of
  segments that can be nearest to some point of the cell — a segment whose distance to the box exceeds the
  smallest "farthest-corner distance" of any segment is never nearest — and answers exactly. Far cells use
  a simplified line whose Hausdorff distance to the real one is ≤ rel_tol/2 × Dmin.
* points outside the built region fall back to GEOS.

So every answer is within ``rel_tol`` (relative) of the exact planar distance; tests check it.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import shapely
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

_SQRT2 = math.sqrt(2.0)
_INTERP, _EXACT, _FALLBACK = 0, 1, 2
# Simplification tolerances (metres) of the levels of detail used by far exact cells.
_LEVELS = (0.0, 2.0, 8.0, 32.0, 128.0, 512.0)
_CHUNK = 1 << 17


def _pack(segments: FloatArray) -> FloatArray:
    """[ax, ay, bx, by] → [ax, ay, dx, dy, 1/|d|²] (0 for degenerate segments) for vectorised distances."""
    d = segments[:, 2:] - segments[:, :2]
    l2 = np.einsum("ij,ij->i", d, d)
    inv = np.divide(1.0, l2, out=np.zeros_like(l2), where=l2 > 0)
    return np.column_stack([segments[:, :2], d, inv])


def _seg_dist(px: FloatArray, py: FloatArray, s: FloatArray) -> FloatArray:
    """Distance from points to packed segments (broadcasting over leading axes)."""
    ex = px - s[..., 0]
    ey = py - s[..., 1]
    t = np.clip((ex * s[..., 2] + ey * s[..., 3]) * s[..., 4], 0.0, 1.0)
    ex -= t * s[..., 2]
    ey -= t * s[..., 3]
    return np.sqrt(ex * ex + ey * ey)


def _box_seg_dist(x0: FloatArray, y0: FloatArray, size: FloatArray, s: FloatArray) -> FloatArray:
    """Distance between axis-aligned squares and packed segments (0 when they meet).

    Two disjoint convex sets are closest between a vertex of one and the other, so outside the
    intersecting case it is the least of the corner-to-segment and endpoint-to-square distances.
    """
    ax, ay, dx, dy = s[:, 0], s[:, 1], s[:, 2], s[:, 3]
    x1, y1 = x0 + size, y0 + size
    t0 = np.zeros(len(ax))
    t1 = np.ones(len(ax))
    hit = np.ones(len(ax), dtype=bool)
    with np.errstate(divide="ignore", invalid="ignore"):
        for p, q in ((-dx, ax - x0), (dx, x1 - ax), (-dy, ay - y0), (dy, y1 - ay)):
            parallel = p == 0
            hit &= ~(parallel & (q < 0))
            r = q / np.where(parallel, 1.0, p)
            t0 = np.where(~parallel & (p < 0), np.maximum(t0, r), t0)
            t1 = np.where(~parallel & (p > 0), np.minimum(t1, r), t1)
    hit &= t0 <= t1
    corner = np.minimum.reduce([_seg_dist(x0 + ox * size, y0 + oy * size, s) for ox in (0.0, 1.0) for oy in (0.0, 1.0)])
    bx, by = ax + dx, ay + dy
    end_a = np.hypot(np.maximum.reduce([x0 - ax, ax - x1, np.zeros_like(ax)]), np.maximum.reduce([y0 - ay, ay - y1, np.zeros_like(ay)]))
    end_b = np.hypot(np.maximum.reduce([x0 - bx, bx - x1, np.zeros_like(bx)]), np.maximum.reduce([y0 - by, by - y1, np.zeros_like(by)]))
    return np.where(hit, 0.0, np.minimum.reduce([corner, end_a, end_b]))


def _interp_error_bound(size: FloatArray, d: FloatArray, gx: FloatArray, gy: FloatArray, dmin: FloatArray) -> FloatArray:
    """Upper bound of |bilinear interpolation − D| over square cells (corners ordered 00, 10, 01, 11).

    Overshoot ≤ s²/(4·Dmin) by semiconcavity. Undershoot: D(x) ≤ |x − f_i| ≤ D_i + g_i·(x − n_i) + |x − n_i|²/(2·Dmin)
    for corner i with foot f_i and unit gradient g_i; on the quadrant of corner i the first two terms minus
    the (bilinear) interpolant form a bilinear function, so its maximum is at the quadrant's corners: the
    corner itself (0), the two edge midpoints and the cell centre. |x − n_i|² ≤ s²/2 there.
    """
    unit = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    neighbours = ((1, 2), (0, 3), (0, 3), (1, 2))
    curvature = size * size / (4.0 * dmin)
    under = np.full(len(size), -np.inf)
    mean = d.mean(axis=1)
    for i in range(4):
        for j in neighbours[i]:
            mx, my = (unit[j] - unit[i]) / 2.0
            under = np.maximum(under, d[:, i] + (gx[:, i] * mx + gy[:, i] * my) * size - (d[:, i] + d[:, j]) / 2.0)
        mx, my = 0.5 - unit[i]
        under = np.maximum(under, d[:, i] + (gx[:, i] * mx + gy[:, i] * my) * size - mean)
    return np.maximum(curvature, under + curvature)


class DistanceIndex:
    """Batch planar distances from points to a polyline (local metric frame), within ``rel_tol``.

    ``segments``: (M, 4) array of the line's segments; ``region``: where queries are expected (e.g. the
    country buffered by a few km) — outside it answers come from GEOS, exact but slow.
    """

    def __init__(
        self,
        segments: FloatArray,
        region: Any,
        *,
        rel_tol: float = 3e-3,
        exact_band_m: float = 10_000.0,
        exact_cell_m: float = 1_000.0,
        top_cell_m: float = 32_000.0,
        max_depth: int = 9,
    ) -> None:
        if len(segments) == 0:
            raise ValueError("the line has no segments")
        if not 0 < rel_tol < 0.1:
            raise ValueError("rel_tol must be in (0, 0.1)")
        self.rel_tol = float(rel_tol)
        self.min_cell = top_cell_m / 2**max_depth
        line = shapely.multilinestrings(shapely.linestrings(segments.reshape(-1, 2, 2)))
        line = shapely.line_merge(line)
        self._level_eps = np.array(_LEVELS)
        self._level_seg: list[FloatArray] = []
        self._level_tree: list[shapely.STRtree] = []
        self._level_off: list[int] = []
        offset = 0
        from truceline.domain.geo import segments_of

        for eps in _LEVELS:
            segs = segments if eps == 0 else segments_of(shapely.simplify(line, eps, preserve_topology=False))
            self._level_seg.append(segs)
            self._level_off.append(offset)
            self._level_tree.append(shapely.STRtree(shapely.linestrings(segs.reshape(-1, 2, 2))))
            offset += len(segs)
        self._packed = _pack(np.vstack(self._level_seg))
        self._exact = _pack(segments)
        self._tree = self._level_tree[0]
        self._memo_key: IntArray = np.zeros(0, dtype=np.int64)
        self._memo_val: FloatArray = np.zeros((0, 3))
        self._build(region, exact_band_m, exact_cell_m, top_cell_m)

    # ------------------------------------------------------------------ queries

    def nearest_exact(self, x: FloatArray, y: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
        """Exact distance and nearest point (foot) via GEOS; for single points and verification."""
        x = np.atleast_1d(np.asarray(x, dtype=np.float64))
        y = np.atleast_1d(np.asarray(y, dtype=np.float64))
        idx = self._tree.query_nearest(shapely.points(x, y), all_matches=False)
        order = np.argsort(idx[0], kind="stable")
        seg = self._exact[idx[1][order]]
        t = np.clip(((x - seg[:, 0]) * seg[:, 2] + (y - seg[:, 1]) * seg[:, 3]) * seg[:, 4], 0.0, 1.0)
        fx = seg[:, 0] + t * seg[:, 2]
        fy = seg[:, 1] + t * seg[:, 3]
        return np.hypot(x - fx, y - fy), fx, fy

    def distance(self, x: FloatArray, y: FloatArray) -> FloatArray:
        """Distances (metres) for arrays of projected coordinates."""
        x = np.asarray(x, dtype=np.float64)
        y = np.asarray(y, dtype=np.float64)
        out = np.empty(x.shape, dtype=np.float64)
        flat_x, flat_y, flat_out = x.ravel(), y.ravel(), out.ravel()
        for start in range(0, len(flat_x), _CHUNK):
            stop = start + _CHUNK
            flat_out[start:stop] = self._distance_chunk(flat_x[start:stop], flat_y[start:stop])
        return out

    def _distance_chunk(self, x: FloatArray, y: FloatArray) -> FloatArray:
        out = np.empty(len(x))
        node = self._leaf_of(x, y)
        kind = np.where(node >= 0, self._kind[np.maximum(node, 0)], _FALLBACK)
        w = np.flatnonzero(kind == _INTERP)
        if len(w):
            nw = node[w]
            s = self._size[nw]
            tx = (x[w] - self._x0[nw]) / s
            ty = (y[w] - self._y0[nw]) / s
            v = self._corner_d[self._ref[nw]]
            out[w] = (v[:, 0] * (1 - tx) + v[:, 1] * tx) * (1 - ty) + (v[:, 2] * (1 - tx) + v[:, 3] * tx) * ty
        w = np.flatnonzero(kind == _EXACT)
        if len(w):
            r = self._ref[node[w]]
            start = self._cand_start[r]
            count = self._cand_start[r + 1] - start
            first = np.cumsum(count) - count
            rep = np.repeat(np.arange(len(w)), count)
            pos = np.arange(int(count.sum())) - np.repeat(first, count) + np.repeat(start, count)
            d = _seg_dist(x[w][rep], y[w][rep], self._packed[self._cand[pos]])
            out[w] = np.minimum.reduceat(d, first)
        w = np.flatnonzero(kind == _FALLBACK)
        if len(w):
            out[w] = self.nearest_exact(x[w], y[w])[0]
        return out

    def _leaf_of(self, x: FloatArray, y: FloatArray) -> IntArray:
        """Leaf node containing each point, −1 outside the top grid."""
        ix = np.floor((x - self._gx0) / self._top).astype(np.int64)
        iy = np.floor((y - self._gy0) / self._top).astype(np.int64)
        inside = (ix >= 0) & (ix < self._nx) & (iy >= 0) & (iy < self._ny)
        node = np.where(inside, iy * self._nx + ix, -1)
        active = np.flatnonzero(inside)
        current = node[active]
        while len(active):
            child = self._child[current]
            internal = child >= 0
            if not internal.any():
                break
            active_i = active[internal]
            cur_i = current[internal]
            half = self._size[cur_i] / 2.0
            quadrant = (x[active_i] >= self._x0[cur_i] + half).astype(np.int64) + 2 * (y[active_i] >= self._y0[cur_i] + half)
            node[active_i] = child[internal] + quadrant
            active, current = active_i, node[active_i]
        return node

    # ------------------------------------------------------------------ construction

    def _corner_values(self, cx: FloatArray, cy: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
        """Exact distance and unit gradient at lattice points, memoised across depths."""
        key = np.round((cx - self._gx0) / self.min_cell).astype(np.int64) * (1 << 31) + np.round((cy - self._gy0) / self.min_cell).astype(np.int64)
        uniq, inverse = np.unique(key, return_inverse=True)
        pos = np.searchsorted(self._memo_key, uniq)
        if len(self._memo_key):
            known = (pos < len(self._memo_key)) & (self._memo_key[np.minimum(pos, len(self._memo_key) - 1)] == uniq)
        else:
            known = np.zeros(len(uniq), dtype=bool)
        if not known.all():
            new = uniq[~known]
            first = np.zeros(len(uniq), dtype=np.int64)
            first[inverse[::-1]] = np.arange(len(key))[::-1]
            nx_, ny_ = cx[first[~known]], cy[first[~known]]
            d, fx, fy = self.nearest_exact(nx_, ny_)
            gx = np.divide(nx_ - fx, d, out=np.zeros_like(d), where=d > 0)
            gy = np.divide(ny_ - fy, d, out=np.zeros_like(d), where=d > 0)
            keys = np.concatenate([self._memo_key, new])
            order = np.argsort(keys, kind="stable")
            self._memo_key = keys[order]
            self._memo_val = np.concatenate([self._memo_val, np.column_stack([d, gx, gy])])[order]
            pos = np.searchsorted(self._memo_key, uniq)
        val = self._memo_val[pos][inverse]
        return val[:, 0], val[:, 1], val[:, 2]

    def _build(self, region: Any, exact_band: float, exact_cell: float, top: float) -> None:
        shapely.prepare(region)
        minx, miny, maxx, maxy = region.bounds
        nx = math.ceil((maxx - minx) / top) + 1
        ny = math.ceil((maxy - miny) / top) + 1
        self._gx0 = minx - (nx * top - (maxx - minx)) / 2.0
        self._gy0 = miny - (ny * top - (maxy - miny)) / 2.0
        self._nx, self._ny, self._top = nx, ny, top
        iy, ix = np.mgrid[0:ny, 0:nx]
        X = self._gx0 + ix.ravel() * top
        Y = self._gy0 + iy.ravel() * top
        S = np.full(X.shape, top)
        xs: list[FloatArray] = []
        ys: list[FloatArray] = []
        ss: list[FloatArray] = []
        kinds: list[NDArray[np.int8]] = []
        refs: list[IntArray] = []
        children: list[IntArray] = []
        corner_d: list[FloatArray] = []
        cand_lists: list[IntArray] = []
        cand_counts: list[IntArray] = []
        n_nodes = n_interp = n_exact = 0
        while len(X):
            count = len(X)
            kind = np.full(count, _FALLBACK, dtype=np.int8)
            ref = np.zeros(count, dtype=np.int64)
            child = np.full(count, -1, dtype=np.int64)
            inside = shapely.intersects(region, shapely.box(X, Y, X + S, Y + S))
            ii = np.flatnonzero(inside)
            split = np.zeros(count, dtype=bool)
            if len(ii):
                cx = np.stack([X[ii], X[ii] + S[ii], X[ii], X[ii] + S[ii]], axis=1).ravel()
                cy = np.stack([Y[ii], Y[ii], Y[ii] + S[ii], Y[ii] + S[ii]], axis=1).ravel()
                d, gx, gy = (v.reshape(-1, 4) for v in self._corner_values(cx, cy))
                size = S[ii]
                dmin = d.min(axis=1) - size / _SQRT2
                far = dmin >= exact_band
                ok = np.zeros(len(ii), dtype=bool)
                if far.any():
                    bound = _interp_error_bound(size[far], d[far], gx[far], gy[far], dmin[far])
                    ok[far] = bound <= self.rel_tol * dmin[far]
                smallest = size <= self.min_cell * 1.0000001
                exact = ~ok & (((size <= exact_cell) & ~far) | smallest)
                w = np.flatnonzero(ok)
                kind[ii[w]] = _INTERP
                ref[ii[w]] = n_interp + np.arange(len(w))
                n_interp += len(w)
                corner_d.append(d[w])
                w = np.flatnonzero(exact)
                if len(w):
                    kind[ii[w]] = _EXACT
                    ref[ii[w]] = n_exact + np.arange(len(w))
                    n_exact += len(w)
                    counts, cands = self._candidates(X[ii[w]], Y[ii[w]], size[w], d[w].min(axis=1), dmin[w])
                    cand_counts.append(counts)
                    cand_lists.append(cands)
                split[ii[~ok & ~exact]] = True
            sw = np.flatnonzero(split)
            child[sw] = n_nodes + count + 4 * np.arange(len(sw))
            xs.append(X)
            ys.append(Y)
            ss.append(S)
            kinds.append(kind)
            refs.append(ref)
            children.append(child)
            n_nodes += count
            half = S[sw] / 2.0
            X = np.stack([X[sw], X[sw] + half, X[sw], X[sw] + half], axis=1).ravel()
            Y = np.stack([Y[sw], Y[sw], Y[sw] + half, Y[sw] + half], axis=1).ravel()
            S = np.repeat(half, 4)
        self._x0 = np.concatenate(xs)
        self._y0 = np.concatenate(ys)
        self._size = np.concatenate(ss)
        self._kind = np.concatenate(kinds)
        self._ref = np.concatenate(refs)
        self._child = np.concatenate(children)
        self._corner_d = np.vstack(corner_d) if corner_d else np.zeros((0, 4))
        counts_all = np.concatenate(cand_counts) if cand_counts else np.zeros(0, dtype=np.int64)
        self._cand_start = np.concatenate([[0], np.cumsum(counts_all)]).astype(np.int64)
        self._cand = np.concatenate(cand_lists) if cand_lists else np.zeros(0, dtype=np.int64)
        self.stats = {
            "nodes": n_nodes,
            "interpolated_cells": n_interp,
            "exact_cells": n_exact,
            "candidates": len(self._cand),
            "max_candidates": int(counts_all.max()) if len(counts_all) else 0,
            "corner_points": len(self._memo_key),
        }
        self._memo_key = np.zeros(0, dtype=np.int64)  # only needed while building
        self._memo_val = np.zeros((0, 3))

    def _candidates(self, X: FloatArray, Y: FloatArray, S: FloatArray, dcorner: FloatArray, dmin: FloatArray) -> tuple[IntArray, IntArray]:
        """For each cell, the segments (at a level of detail fine enough for rel_tol) that can be nearest."""
        level = np.zeros(len(X), dtype=np.int64)
        for k, eps in enumerate(self._level_eps):
            level[eps <= 0.5 * self.rel_tol * np.maximum(dmin, 0.0)] = k
        cells, cands = [], []
        for k in np.unique(level):
            sel = np.flatnonzero(level == k)
            boxes = shapely.box(X[sel], Y[sel], X[sel] + S[sel], Y[sel] + S[sel])
            reach = dcorner[sel] + self._level_eps[k] + S[sel] * _SQRT2
            ci, si = self._level_tree[k].query(boxes, predicate="dwithin", distance=reach)
            seg = _pack(self._level_seg[k][si])
            bx, by, bs = X[sel][ci], Y[sel][ci], S[sel][ci]
            farthest = np.maximum.reduce([_seg_dist(bx + ox * bs, by + oy * bs, seg) for ox in (0.0, 1.0) for oy in (0.0, 1.0)])
            upper = np.full(len(sel), np.inf)
            np.minimum.at(upper, ci, farthest)
            box_dist = _box_seg_dist(bx, by, bs, seg)
            keep = box_dist <= upper[ci] * (1 + 1e-12) + 1e-6
            cells.append(sel[ci[keep]])
            cands.append(si[keep] + self._level_off[k])
        cell = np.concatenate(cells)
        cand = np.concatenate(cands)
        order = np.argsort(cell, kind="stable")
        return np.bincount(cell, minlength=len(X)).astype(np.int64), cand[order]
