"""The line of contact as a prior for geoparsing: how far a candidate place lies from where the fighting is.

A report a ceasefire monitor reads is about the line. When namesakes lie far apart and nothing in the text
decides between them, the one near the line is the likelier meaning, and if none or several are near it the
mention is better left unplaced. The line is *data* here, not a computation of ``verify/`` (which sits above
``text/``): :func:`derive` draws it once from the bundled agreement's control map with the domain layer's
own geometry (the boundary between the parties' areas minus the border and the coast, as ``verify`` does)
and writes ``data/gazetteer/contact-line.json``; :class:`FrontLine` reads that file.

The state border with Russia where the fighting of 2024–25 crossed it (Chernihiv, Sumy and Kharkiv oblasts;
Kursk, Bryansk and Belgorod across it) is a second line of the same kind, ``data/gazetteer/border-line.json``
(:func:`derive_border`): the 2023 line of contact excludes the border, so without it a border village is sent
to a namesake near the line.

    python -m truceline.text.frontline [--agreement DIR] [--out FILE] [--border-out FILE]
"""

from __future__ import annotations

import argparse
import math
import sys
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import orjson

LINE_FILE = "contact-line.json"
BORDER_FILE = "border-line.json"
#: The border prior covers the Ukrainian–Russian land border north of this latitude: Chernihiv, Sumy and
#: Kharkiv oblasts facing Bryansk, Kursk and Belgorod. South of it the border lies behind the line of contact.
BORDER_MIN_LAT = 49.5
DEFAULT_AGREEMENT = "isw-2023-03-04"
#: Vertices closer than this to the straight line between their neighbours are dropped (metres): the prior
#: works at tens of kilometres, so 1 km keeps the file small and every distance within 1 km.
SIMPLIFY_M = 1000.0
_KM_PER_DEG_LAT = 111.2


@dataclass(frozen=True)
class FrontLine:
    """A line of contact as lon/lat polylines; :meth:`distance_km` from a point to the nearest of them."""

    lines: tuple[tuple[tuple[float, float], ...], ...]
    source: str = ""

    def __post_init__(self) -> None:
        lat0 = sum(lat for line in self.lines for _, lat in line) / max(1, sum(len(line) for line in self.lines))
        kx = _KM_PER_DEG_LAT * math.cos(math.radians(lat0))
        object.__setattr__(self, "_kx", kx)
        segments = [
            (ax * kx, ay * _KM_PER_DEG_LAT, bx * kx, by * _KM_PER_DEG_LAT)
            for line in self.lines
            for (ax, ay), (bx, by) in zip(line, line[1:], strict=False)
        ]
        start_x, start_y, end_x, end_y = np.array(segments, dtype=np.float64).reshape(-1, 4).T
        dx, dy = end_x - start_x, end_y - start_y
        length2 = dx * dx + dy * dy
        # A segment of no length gets t = 0: its numerator is 0, so dividing by 1 instead of 0 gives exactly that.
        object.__setattr__(self, "_columns", (start_x, start_y, dx, dy, np.where(length2 == 0.0, 1.0, length2)))

    def distance_km(self, lat: float, lon: float) -> float:
        """Distance to the nearest point of the line, in a local equirectangular frame (±1% over Ukraine).

        Every segment at once, in numpy: the same operations in the same order as a loop over the segments
        (so the same result to the bit), at a quarter of its time with the bundled line's 134 segments (110 → 25
        µs); a text's candidate places each ask this of two lines."""
        start_x, start_y, dx, dy, length2 = self._columns  # type: ignore[attr-defined]
        if not len(dx):
            return math.inf
        px, py = lon * self._kx, lat * _KM_PER_DEG_LAT  # type: ignore[attr-defined]
        t = np.minimum(np.maximum(((px - start_x) * dx + (py - start_y) * dy) / length2, 0.0), 1.0)
        ex, ey = start_x + t * dx - px, start_y + t * dy - py
        return math.sqrt(float((ex * ex + ey * ey).min()))

    @classmethod
    def from_document(cls, document: dict[str, Any]) -> FrontLine:
        """From the JSON written by :func:`derive`."""
        lines = tuple(tuple((float(x), float(y)) for x, y in line) for line in document["lines"])
        return cls(lines, str(document.get("source", "")))


@lru_cache(maxsize=1)
def default_front_line() -> FrontLine:
    """The bundled line (the ISW-assessed line of 2023-03-04 of the demo agreement), read once per process."""
    path = Path(__file__).resolve().parents[1] / "data" / "gazetteer" / LINE_FILE
    return FrontLine.from_document(orjson.loads(path.read_bytes()))


@lru_cache(maxsize=1)
def default_border_line() -> FrontLine:
    """The bundled Ukrainian–Russian land border north of :data:`BORDER_MIN_LAT`, read once per process."""
    path = Path(__file__).resolve().parents[1] / "data" / "gazetteer" / BORDER_FILE
    return FrontLine.from_document(orjson.loads(path.read_bytes()))


def _read_area(path: Path) -> Any:
    import shapely
    import shapely.geometry

    document = orjson.loads(path.read_bytes())
    features = document.get("features", [document])
    return shapely.union_all([shapely.geometry.shape(f.get("geometry", f)) for f in features])


def derive(agreement_dir: Path) -> dict[str, Any]:
    """The line of contact of an agreement folder, as :func:`verify`'s geometry derives it, simplified.

    Reads ``agreement.yaml`` for the country outline, the party areas (one may be ``remainder``) and the
    geometry settings, then uses :func:`truceline.domain.geo.derive_contact_line` in the local frame.
    """
    import shapely
    import yaml

    from truceline.domain.agreement import parse_area, parse_length
    from truceline.domain.geo import LocalProjection, derive_contact_line, partition_country

    spec = yaml.safe_load((agreement_dir / "agreement.yaml").read_text(encoding="utf-8"))
    country = _read_area(agreement_dir / spec["country"]["area"])
    projection = LocalProjection.around(country)
    country_xy = projection.to_local(country)
    explicit = {p["code"]: projection.to_local(_read_area(agreement_dir / p["area"])) for p in spec["parties"] if p["area"] != "remainder"}
    remainder = next((p["code"] for p in spec["parties"] if p["area"] == "remainder"), None)
    settings = spec.get("geometry", {})
    partition = partition_country(country_xy, explicit, remainder, parse_area(settings.get("min_enclave_area", "500 km2")))
    line_xy = derive_contact_line(partition, country_xy, parse_length(settings.get("border_tolerance", "1 km")))
    line = projection.to_wgs84(shapely.simplify(line_xy, SIMPLIFY_M))
    lines = [[[round(float(x), 4), round(float(y), 4)] for x, y in shapely.get_coordinates(part)] for part in shapely.get_parts(line)]
    return {
        "source": f"{agreement_dir.name}: derived by truceline.text.frontline from agreement.yaml (simplified to {SIMPLIFY_M:.0f} m)",
        "lines": [line for line in lines if len(line) >= 2],
    }


def derive_border(agreement_dir: Path, min_lat: float = BORDER_MIN_LAT) -> dict[str, Any]:
    """The land border between the agreement's country and Russia's outline (its ``exterior`` area), north of ``min_lat``.

    The country outline's boundary where it touches the Russian outline (within 0.01°, the outlines are
    drawn independently), clipped to latitudes ≥ ``min_lat``, simplified like the line of contact.
    """
    import shapely
    import shapely.geometry
    import yaml

    from truceline.domain.geo import LocalProjection

    spec = yaml.safe_load((agreement_dir / "agreement.yaml").read_text(encoding="utf-8"))
    country = _read_area(agreement_dir / spec["country"]["area"])
    russia = next(_read_area(agreement_dir / e["area"]) for e in spec.get("exterior", []) if e["party"] == "RU")
    border = country.boundary.intersection(russia.buffer(0.01))
    west, _south, east, north = country.bounds
    border = border.intersection(shapely.geometry.box(west, min_lat, east, north))
    projection = LocalProjection.around(country)
    line = projection.to_wgs84(shapely.simplify(projection.to_local(shapely.line_merge(border)), SIMPLIFY_M))
    lines = [[[round(float(x), 4), round(float(y), 4)] for x, y in shapely.get_coordinates(part)] for part in shapely.get_parts(line)]
    return {
        "source": (f"{agreement_dir.name}: the land border with Russia north of {min_lat}° N, derived by "
                   f"truceline.text.frontline from agreement.yaml (simplified to {SIMPLIFY_M:.0f} m)"),
        "lines": [line for line in lines if len(line) >= 2],
    }


def main(argv: list[str] | None = None) -> int:
    """Write the line file from the bundled agreement."""
    here = Path(__file__).resolve().parents[1] / "data"
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agreement", type=Path, default=here / "agreements" / DEFAULT_AGREEMENT)
    parser.add_argument("--out", type=Path, default=here / "gazetteer" / LINE_FILE)
    parser.add_argument("--border-out", type=Path, default=here / "gazetteer" / BORDER_FILE)
    args = parser.parse_args(argv)
    for out, document in ((args.out, derive(args.agreement)), (args.border_out, derive_border(args.agreement))):
        out.write_bytes(orjson.dumps(document) + b"\n")
        print(f"{out}: {len(document['lines'])} lines, {sum(len(x) for x in document['lines'])} vertices", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
