"""The day's map: country outline, ground each party holds, line of contact, zones and the day's incidents.

Drawn from the agreement in force alone (its bundled outline, territories and line), so it needs no tiles
and no network and shows the very geometry the verdicts were judged against. Violations take the colour of
the party held responsible; other incidents are grey; the marker says the status.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import shapely

from truceline.report.charts import figure_data_uri, party_colours
from truceline.report.daily import MapEngagement, MapPoint
from truceline.verify.geometry import AgreementGeometry

if TYPE_CHECKING:  # matplotlib is imported when a map is drawn (report/charts.py says why)
    from matplotlib.axes import Axes

#: Display simplification of the outlines, metres (a 7-inch map of a country cannot show finer detail).
SIMPLIFY_M = 800.0
MIN_SPAN_DEG = 2.5
#: Width / height of the map frame.
ASPECT = 1.45
_MARKERS = {"detected": "o", "corroborated": "s", "verified": "*", "dismissed": "x"}
_NO_VIOLATION = "#555555"


@dataclass(frozen=True)
class BaseLayers:
    """Lon/lat geometry to draw under the incidents, derived once per agreement version."""

    country: Any
    areas: dict[str, Any]
    contact_line: Any
    zones: dict[str, Any]


_CACHE: dict[str, BaseLayers] = {}
_LOCK = threading.Lock()


def base_layers(geometry: AgreementGeometry) -> BaseLayers:
    """Simplified outline, party areas, line and area zones (cached by agreement digest)."""
    digest = geometry.agreement.digest()
    with _LOCK:
        if digest in _CACHE:
            return _CACHE[digest]
    proj = geometry.projection

    def lonlat(geom_xy: Any) -> Any:
        return proj.to_wgs84(shapely.simplify(geom_xy, SIMPLIFY_M, preserve_topology=True))

    layers = BaseLayers(
        country=lonlat(geometry.country_xy),
        areas={code: lonlat(area) for code, area in geometry.partition.areas.items() if area is not None and not area.is_empty},
        contact_line=lonlat(geometry.contact_line_xy),
        zones={z.id: geometry.zone_polygon(z) for z in geometry.agreement.zones if z.area is not None},
    )
    with _LOCK:
        _CACHE[digest] = layers
    return layers


def _polygons(geom: Any) -> list[Any]:
    return [g for g in shapely.get_parts(geom) if g.geom_type == "Polygon"]


def _lines(geom: Any) -> list[Any]:
    return [g for g in shapely.get_parts(geom) if g.geom_type in ("LineString", "LinearRing")]


def _extent(points: Sequence[MapPoint], line: Any) -> tuple[float, float, float, float]:
    if points:
        lons = [p.lon for p in points]
        lats = [p.lat for p in points]
        min_lon, max_lon, min_lat, max_lat = min(lons), max(lons), min(lats), max(lats)
    else:
        min_lon, min_lat, max_lon, max_lat = line.bounds
    pad = 0.3
    min_lon, max_lon, min_lat, max_lat = min_lon - pad, max_lon + pad, min_lat - pad, max_lat + pad
    if max_lat - min_lat < MIN_SPAN_DEG:
        grow = (MIN_SPAN_DEG - (max_lat - min_lat)) / 2
        min_lat, max_lat = min_lat - grow, max_lat + grow
    # Widen the narrower side so the map has the frame's shape (east-west degrees shrink with cos(lat)).
    shrink = math.cos(math.radians((min_lat + max_lat) / 2))
    width, height = (max_lon - min_lon) * shrink, max_lat - min_lat
    if width < ASPECT * height:
        grow = (ASPECT * height / shrink - (max_lon - min_lon)) / 2
        min_lon, max_lon = min_lon - grow, max_lon + grow
    else:
        grow = (width / ASPECT - height) / 2
        min_lat, max_lat = min_lat - grow, max_lat + grow
    return min_lon, max_lon, min_lat, max_lat


def _draw_base(ax: Axes, layers: BaseLayers, colours: dict[str, str]) -> None:
    for code, area in layers.areas.items():
        for poly in _polygons(area):
            ax.fill(*poly.exterior.xy, color=colours.get(code, "#cccccc"), alpha=0.10, linewidth=0)
    for poly in _polygons(layers.country):
        ax.plot(*poly.exterior.xy, color="#444444", linewidth=0.6)
    for zone in layers.zones.values():
        for poly in _polygons(zone):
            ax.plot(*poly.exterior.xy, color="#d35400", linewidth=0.7, linestyle=":")
    for line in _lines(layers.contact_line):
        ax.plot(*line.xy, color="#000000", linewidth=1.1)


def incident_map(geometry: AgreementGeometry, points: Sequence[MapPoint], parties: Sequence[str], fmt: str = "png",
                 engagements: Sequence[MapEngagement] = ()) -> str:
    """The map as a data URI; PNG by default because thousands of markers make a heavy SVG.

    Each engagement is drawn as one act: a line from the launch (a square) to the impact, in the colour of
    the party the impact's violation names.
    """
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D

    layers = base_layers(geometry)
    colours = party_colours(parties)
    figure = Figure(figsize=(7.5, 5.4))
    ax = figure.add_subplot()
    _draw_base(ax, layers, colours)
    for e in engagements:
        colour = colours.get(e.party, _NO_VIOLATION)
        ax.plot([e.launch_lon, e.impact_lon], [e.launch_lat, e.impact_lat], color=colour, linewidth=0.8, alpha=0.8, zorder=2)
        ax.scatter([e.launch_lon], [e.launch_lat], s=14, marker="s", c=colour, edgecolors="white", linewidths=0.3, zorder=3)
    groups: dict[tuple[str, str], tuple[list[float], list[float]]] = {}
    for p in points:
        colour = colours.get(p.party, _NO_VIOLATION) if p.party is not None else _NO_VIOLATION
        lons, lats = groups.setdefault((p.status, colour), ([], []))
        lons.append(p.lon)
        lats.append(p.lat)
    size = 18 if len(points) < 200 else 8
    for (status, colour), (lons, lats) in sorted(groups.items()):
        marker = _MARKERS.get(status, "o")
        ax.scatter(lons, lats, s=size * (2.2 if marker == "*" else 1), marker=marker, c=colour, alpha=0.8,
                   linewidths=0.8 if marker == "x" else 0.2, edgecolors="white" if marker != "x" else None, zorder=3)
    min_lon, max_lon, min_lat, max_lat = _extent(points, layers.contact_line)
    ax.set_xlim(min_lon, max_lon)
    ax.set_ylim(min_lat, max_lat)
    ax.set_aspect(1.0 / math.cos(math.radians((min_lat + max_lat) / 2)))
    ax.tick_params(labelsize=7)
    legend = [Line2D([], [], color="#000000", linewidth=1.1, label="line of contact")]
    legend += [Line2D([], [], marker="o", linestyle="", color=colours[p], label=f"violation: {p}") for p in parties]
    legend.append(Line2D([], [], marker="o", linestyle="", color=_NO_VIOLATION, label="incident, no violation"))
    if engagements:
        legend.append(Line2D([], [], marker="s", color="#555555", linewidth=0.8, label="launch → impact"))
    legend += [Line2D([], [], marker=m, linestyle="", color="#333333", label=s) for s, m in _MARKERS.items()]
    ax.legend(handles=legend, fontsize=6, loc="upper left", bbox_to_anchor=(1.02, 1.0), frameon=False)
    return figure_data_uri(figure, fmt)
