"""Read an agreement: YAML terms plus the GeoJSON files they reference, validated hard.

Every problem found is collected and reported at once as an :class:`AgreementError` — file, place and
reason for each — so a supervisor fixes a draft in one round and never half-loads a bad one: the caller
keeps the previous agreement in force until this returns. The YAML format is documented in
``docs/agreement.md`` and described by ``data/schemas/agreement.schema.json``.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import posixpath
from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pydantic
import shapely
import shapely.geometry
import yaml

from truceline.domain.agreement import Agreement, wkb_hex
from truceline.domain.geo import LocalProjection, lineal, polygonal

DEMO_AGREEMENT = "isw-2023-03-04"
_AREA_TYPES = ("Polygon", "MultiPolygon")
_LINE_TYPES = ("LineString", "MultiLineString")
_MAX_FILE_BYTES = 64 * 1024 * 1024
_PLACEHOLDER_AREA = wkb_hex(shapely.box(0.0, 0.0, 1e-6, 1e-6))
_PLACEHOLDER_LINE = wkb_hex(shapely.LineString([(0.0, 0.0), (1e-6, 1e-6)]))


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an agreement: the file, where in it, and why."""

    file: str
    where: str
    reason: str

    def __str__(self) -> str:
        return f"{self.file}: {self.where}: {self.reason}"


class AgreementError(ValueError):
    """The agreement was refused; ``problems`` lists every reason found."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems = list(problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"agreement refused, {len(self.problems)} problem(s):\n{lines}")

    def as_dicts(self) -> list[dict[str, str]]:
        """JSON-friendly list for API error bodies."""
        return [{"file": p.file, "where": p.where, "reason": p.reason} for p in self.problems]


class _UniqueKeyLoader(yaml.SafeLoader):
    """Safe YAML that refuses duplicate keys (PyYAML would silently keep the last one)."""

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        """PyYAML's, but an explicitly tagged scalar it cannot read (``!!int 1e3``, ``!!timestamp 2023-13-45``)
        is a YAML error with its place, not a bare ValueError or KeyError; so is a string with a lone surrogate
        (``"\\ud800"``), which is not text: echoed in the refusal, it made the JSON answer fail (a 500)."""
        try:
            value = super().construct_object(node, deep=deep)
        except (ValueError, OverflowError, KeyError) as exc:  # KeyError: !!bool maybe
            if not isinstance(node, yaml.ScalarNode):
                raise
            raise yaml.constructor.ConstructorError(
                None, None, f"{node.tag.removeprefix('tag:yaml.org,2002:')} value {node.value[:80]!r} cannot be read: {exc}",
                node.start_mark) from None
        if type(value) is str and not value.isascii():
            try:
                value.encode("utf-8")
            except UnicodeEncodeError as exc:
                raise yaml.constructor.ConstructorError(
                    None, None, f"string with a lone surrogate (U+{ord(value[exc.start]):04X}) is not text", node.start_mark) from None
        return value


def _construct_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
    seen: dict[Any, yaml.Node] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if not isinstance(key, Hashable):
            raise yaml.constructor.ConstructorError(
                "while constructing a mapping", node.start_mark, f"found a {type(key).__name__} as a key", key_node.start_mark)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                "while constructing a mapping", node.start_mark, f"found duplicate key {key!r}", key_node.start_mark)
        seen[key] = key_node
    mapping: dict[Any, Any] = loader.construct_mapping(node, deep=deep)
    return mapping


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
# Keep timestamps as text: pydantic parses them and insists on a UTC offset.
_UniqueKeyLoader.yaml_implicit_resolvers = {
    k: [(tag, rx) for tag, rx in v if tag != "tag:yaml.org,2002:timestamp"]
    for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


Reader = Callable[[str], bytes]


def load_agreement(path: str | Path) -> Agreement:
    """Load and validate an agreement YAML file; referenced GeoJSON paths are relative to it."""
    path = Path(path)
    base = path.parent

    def read(name: str) -> bytes:
        target = base / name
        if not target.is_file():
            raise FileNotFoundError(f"no such file next to {path.name}: {name}")
        if target.stat().st_size > _MAX_FILE_BYTES:
            raise ValueError(f"file larger than {_MAX_FILE_BYTES // (1024 * 1024)} MiB")
        return target.read_bytes()

    try:
        text = path.read_bytes()
    except OSError as exc:
        raise AgreementError([Problem(str(path), "(file)", f"cannot read: {exc.strerror or exc}")]) from exc
    return _load(text, path.name, read)


def load_agreement_files(files: Mapping[str, bytes], main: str = "agreement.yaml") -> Agreement:
    """Load from in-memory files (e.g. an upload): ``main`` is the YAML, the others what it references."""
    if main not in files:
        raise AgreementError([Problem(main, "(file)", f"missing; files given: {sorted(files)}")])

    def read(name: str) -> bytes:
        if name not in files:
            raise FileNotFoundError(f"not among the files given ({sorted(files)})")
        return files[name]

    return _load(files[main], main, read)


@functools.lru_cache(maxsize=1)
def load_demo_agreement() -> Agreement:
    """The bundled demo: ISW's 2023-03-04 line of contact, parties UA and RU, effective 2023-04-01."""
    folder = resources.files("truceline").joinpath("data", "agreements", DEMO_AGREEMENT)

    def read(name: str) -> bytes:
        return folder.joinpath(*name.split("/")).read_bytes()

    return _load(folder.joinpath("agreement.yaml").read_bytes(), f"{DEMO_AGREEMENT}/agreement.yaml", read)


# ---------------------------------------------------------------------------------------------- loading


def _load(text: bytes, name: str, read: Reader) -> Agreement:
    problems: list[Problem] = []
    try:
        raw = yaml.load(text.decode("utf-8"), Loader=_UniqueKeyLoader)
    except UnicodeDecodeError as exc:
        raise AgreementError([Problem(name, "(file)", f"not UTF-8 text: {exc.reason} at byte {exc.start}")]) from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark is not None else "(file)"
        reason = getattr(exc, "problem", None) or str(exc)
        raise AgreementError([Problem(name, where, f"invalid YAML: {reason}")]) from exc
    if not isinstance(raw, dict):
        raise AgreementError([Problem(name, "(document)", "must be a mapping of keys to values")])

    loaded: dict[str, tuple[bytes, str]] = {}  # file → (bytes, sha256)

    def geometry(ref: Any, where: str, types: tuple[str, ...]) -> dict[str, str]:
        # a stand-in for a geometry that failed, so the terms are still checked without knock-on errors
        failed = {"source": str(ref), "wkb": _PLACEHOLDER_LINE if types == _LINE_TYPES else _PLACEHOLDER_AREA}
        if not isinstance(ref, str) or not ref.strip():
            problems.append(Problem(name, where, f"must be the name of a GeoJSON file, got {ref!r}"))
            return failed
        ref = ref.strip()
        normal = posixpath.normpath(ref)
        if ref.startswith(("/", "\\")) or normal.startswith("..") or ":" in ref or "\\" in ref:
            problems.append(Problem(name, where, f"{ref!r} must be a relative path inside the agreement's folder"))
            return failed
        try:
            data = loaded[ref][0] if ref in loaded else read(ref)
        except (OSError, ValueError) as exc:
            problems.append(Problem(ref, "(file)", f"cannot read (referenced from {name} {where}): {exc}"))
            return failed
        loaded[ref] = (data, hashlib.sha256(data).hexdigest())
        geom = _read_geojson(data, ref, types, problems)
        if geom is None:
            return failed
        return {"source": ref, "wkb": wkb_hex(geom)}

    data = dict(raw)
    country = data.get("country")
    if isinstance(country, dict) and "area" in country:
        country = dict(country)
        country["area"] = geometry(country["area"], "country.area", _AREA_TYPES)
        data["country"] = country
    parties = data.get("parties")
    if isinstance(parties, list):
        data["parties"] = []
        for i, party in enumerate(parties):
            if isinstance(party, dict):
                party = dict(party)
                area = party.get("area")
                if area == "remainder":
                    party.pop("area")
                elif "area" in party:
                    party["area"] = geometry(area, f"parties[{i}].area", _AREA_TYPES)
                else:
                    problems.append(Problem(name, f"parties[{i}].area", "missing: give a GeoJSON file or 'remainder'"))
            data["parties"].append(party)
    exterior = data.get("exterior")
    if isinstance(exterior, list):
        data["exterior"] = []
        for i, ext in enumerate(exterior):
            if isinstance(ext, dict) and "area" in ext:
                ext = dict(ext)
                ext["area"] = geometry(ext["area"], f"exterior[{i}].area", _AREA_TYPES)
            data["exterior"].append(ext)
    if "contact_line" in data and data["contact_line"] is not None:
        data["contact_line"] = geometry(data["contact_line"], "contact_line", _LINE_TYPES)
    zones = data.get("zones")
    if isinstance(zones, list):
        data["zones"] = []
        for i, zone in enumerate(zones):
            if isinstance(zone, dict) and "area" in zone:
                zone = dict(zone)
                kinds = _LINE_TYPES if zone.get("kind") == "corridor" else _AREA_TYPES  # a corridor is its centreline
                zone["area"] = geometry(zone["area"], f"zones[{i}].area", kinds)
            data["zones"].append(zone)
    attributions = data.pop("attributions", None) or {}
    if not isinstance(attributions, dict):
        problems.append(Problem(name, "attributions", "must map file names to attribution text"))
        attributions = {}
    for ref in attributions:
        if ref not in loaded and ref != name:
            problems.append(Problem(name, f"attributions.{ref}", "names a file the agreement does not reference"))
    sha_main = hashlib.sha256(text).hexdigest()
    data["provenance"] = [{"path": name.rsplit("/", 1)[-1], "sha256": sha_main, "attribution": str(attributions.get(name, ""))}] + [
        {"path": ref, "sha256": sha, "attribution": str(attributions.get(ref, ""))} for ref, (_, sha) in loaded.items()]

    reported = _check_references(raw, name, problems)
    agreement: Agreement | None = None
    try:
        agreement = Agreement.model_validate(data)
    except pydantic.ValidationError as exc:
        for err in exc.errors():
            if err["type"] in reported:
                continue
            problems.append(Problem(name, _loc(data, err["loc"]) or "(agreement)", _message(err)))
    if agreement is not None and not problems:
        problems.extend(_check_geometry(agreement, name))
    if problems:
        raise AgreementError(problems)
    assert agreement is not None
    return agreement


def _check_references(raw: dict[str, Any], name: str, problems: list[Problem]) -> set[str]:
    """Cross-references with exact locations (the model would only say 'somewhere in the agreement')."""
    parties = [p.get("code") for p in raw.get("parties") or [] if isinstance(p, dict)]
    zones = [z.get("id") for z in raw.get("zones") or [] if isinstance(z, dict)]
    found: set[str] = set()
    for i, zone in enumerate(raw.get("zones") or []):
        if isinstance(zone, dict) and isinstance(zone.get("sides"), list):
            for j, side in enumerate(zone["sides"]):
                if side not in parties:
                    problems.append(Problem(name, f"zones[{i}] ({zone.get('id')}).sides[{j}]",
                                            f"unknown party {side!r}; parties are {parties}"))
                    found.add("unknown_party")
    for i, ext in enumerate(raw.get("exterior") or []):
        if isinstance(ext, dict) and ext.get("party") not in parties:
            problems.append(Problem(name, f"exterior[{i}].party", f"unknown party {ext.get('party')!r}; parties are {parties}"))
            found.add("unknown_party")
    for i, rule in enumerate(raw.get("rules") or []):
        if isinstance(rule, dict) and isinstance(rule.get("where"), list):
            for j, zid in enumerate(rule["where"]):
                if zid not in zones:
                    problems.append(Problem(name, f"rules[{i}] ({rule.get('id')}).where[{j}]",
                                            f"unknown zone {zid!r}; zones are {zones}"))
                    found.add("unknown_zone")
    rules = [r.get("id") for r in raw.get("rules") or [] if isinstance(r, dict)]
    for i, notice in enumerate(raw.get("notifications") or []):
        if not isinstance(notice, dict):
            continue
        label = f"notifications[{i}] ({notice.get('id')})"
        if "party" in notice and notice["party"] not in parties:
            problems.append(Problem(name, f"{label}.party", f"unknown party {notice['party']!r}; parties are {parties}"))
            found.add("unknown_party")
        listed = notice.get("rules")
        for j, rid in enumerate(listed if isinstance(listed, list) else []):
            if rid not in rules:
                problems.append(Problem(name, f"{label}.rules[{j}]", f"unknown rule {rid!r}; rules are {rules}"))
                found.add("unknown_rule")
    return found


def _loc(data: Any, loc: tuple[Any, ...]) -> str:
    """('zones', 2, 'distance') → 'zones[2] (withdrawal-mlrs).distance' using the item's id or code."""
    out = ""
    node = data
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
            node = node[part] if isinstance(node, list) and part < len(node) else None
            label = node.get("id") or node.get("code") if isinstance(node, dict) else None
            if label:
                out += f" ({label})"
        else:
            out += ("." if out else "") + str(part)
            node = node.get(part) if isinstance(node, dict) else None
    return out


def _message(err: Any) -> str:
    msg = str(err["msg"])
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, "):]
    if err["type"] in ("greater_than", "greater_than_equal", "less_than", "less_than_equal") and isinstance(err.get("input"), str):
        msg += f" (got {err['input']!r})"
    elif err["type"] == "extra_forbidden":
        msg = "unknown key (see docs/agreement.md for the keys allowed here)"
    elif err["type"] == "missing":
        msg = "required key missing"
    return msg


# ---------------------------------------------------------------------------------------------- GeoJSON


def _feature_label(i: int, feature: dict[str, Any]) -> str:
    raw = feature.get("properties")
    props: dict[str, Any] = raw if isinstance(raw, dict) else {}
    label = feature.get("id", props.get("id", props.get("name")))
    return f"feature {i}" + (f" ({label})" if label is not None else "")


def _read_geojson(data: bytes, ref: str, types: tuple[str, ...], problems: list[Problem]) -> Any | None:
    """Union of the features' geometries, or None after appending precise problems."""
    try:
        doc = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        where = f"line {exc.lineno}, column {exc.colno}" if isinstance(exc, json.JSONDecodeError) else "(file)"
        problems.append(Problem(ref, where, f"not valid JSON: {exc.msg if isinstance(exc, json.JSONDecodeError) else exc}"))
        return None
    if not isinstance(doc, dict) or "type" not in doc:
        problems.append(Problem(ref, "(document)", "not GeoJSON: expected an object with a 'type'"))
        return None
    if doc["type"] == "FeatureCollection":
        features = doc.get("features")
        if not isinstance(features, list) or not features:
            problems.append(Problem(ref, "features", "a FeatureCollection needs a non-empty 'features' list"))
            return None
    elif doc["type"] == "Feature":
        features = [doc]
    else:
        features = [{"type": "Feature", "geometry": doc}]
    before = len(problems)
    geoms = []
    for i, feature in enumerate(features, start=1):
        label = _feature_label(i, feature) if isinstance(feature, dict) else f"feature {i}"
        if not isinstance(feature, dict) or not isinstance(feature.get("geometry"), dict):
            problems.append(Problem(ref, label, "has no geometry object"))
            continue
        geom = _check_geometry_object(feature["geometry"], types, ref, label, problems)
        if geom is not None:
            geoms.append((label, geom))
    if len(problems) > before or not geoms:
        return None
    if types == _LINE_TYPES:
        _check_lines_do_not_cross(geoms, ref, problems)
        if len(problems) > before:
            return None
        return shapely.union_all([g for _, g in geoms]) if len(geoms) > 1 else geoms[0][1]
    return polygonal(shapely.union_all([g for _, g in geoms]))


def _check_geometry_object(geometry: dict[str, Any], types: tuple[str, ...], ref: str, label: str, problems: list[Problem]) -> Any | None:
    gtype = geometry.get("type")
    if gtype not in types:
        problems.append(Problem(ref, label, f"geometry type {gtype!r} is not allowed here; expected {' or '.join(types)}"))
        return None
    coords = geometry.get("coordinates")
    depth = {"LineString": 2, "MultiLineString": 3, "Polygon": 3, "MultiPolygon": 4}[gtype]
    before = len(problems)
    _check_positions(coords, depth, ref, label, problems)
    if len(problems) > before:
        return None
    parts = [coords] if gtype in ("Polygon", "LineString") else coords
    if not parts:
        problems.append(Problem(ref, label, f"{gtype} has no coordinates"))
        return None
    for p, part in enumerate(parts):
        where = label if len(parts) == 1 else f"{label} part {p}"
        if gtype in _AREA_TYPES:
            if not part:
                problems.append(Problem(ref, where, "polygon has no rings"))
            for r, ring in enumerate(part):
                ring_name = "exterior ring" if r == 0 else f"hole {r}"
                if len(ring) < 4:
                    problems.append(Problem(ref, where, f"{ring_name} has {len(ring)} positions; a closed ring needs at least 4"))
                elif list(ring[0][:2]) != list(ring[-1][:2]):
                    problems.append(Problem(ref, where, f"{ring_name} is not closed: first position {ring[0][:2]} differs from last {ring[-1][:2]}"))
        elif len(part) < 2:
            problems.append(Problem(ref, where, f"line has {len(part)} position(s); at least 2 are needed"))
    if len(problems) > before:
        return None
    geom = shapely.geometry.shape({"type": gtype, "coordinates": coords})
    geom = shapely.force_2d(geom)
    if gtype in _AREA_TYPES:
        reason = shapely.is_valid_reason(geom)
        if reason != "Valid Geometry":
            problems.append(Problem(ref, label, _explain_invalid(reason)))
            return None
        if geom.area <= 0:
            problems.append(Problem(ref, label, "polygon has zero area"))
            return None
    else:
        crossings = _self_crossings(geom)
        if crossings:
            problems.append(Problem(ref, label, "line crosses itself at " + ", ".join(_fmt_point(p) for p in crossings[:5])))
            return None
    return geom


def _check_positions(coords: Any, depth: int, ref: str, label: str, problems: list[Problem]) -> None:
    """Nested arrays of [lon, lat] numbers in range; stops at the first bad position of the geometry."""
    stack: list[tuple[Any, int]] = [(coords, depth)]
    while stack:
        node, d = stack.pop()
        if not isinstance(node, list):
            problems.append(Problem(ref, label, f"coordinates must be nested arrays, found {type(node).__name__}"))
            return
        if d == 1:
            if len(node) not in (2, 3) or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in node):
                problems.append(Problem(ref, label, f"position {node!r} must be [lon, lat] numbers"))
                return
            lon, lat = float(node[0]), float(node[1])
            if not (math.isfinite(lon) and math.isfinite(lat)):
                problems.append(Problem(ref, label, f"position {node!r} is not finite"))
                return
            if not (-180.0 <= lon <= 180.0 and -90.0 <= lat <= 90.0):
                hint = " (are longitude and latitude swapped? GeoJSON is [lon, lat])" if abs(lon) <= 90 < abs(lat) <= 180 else ""
                problems.append(Problem(ref, label, f"position {node!r} is outside lon ±180 / lat ±90{hint}"))
                return
            continue
        stack.extend((child, d - 1) for child in reversed(node))


def _explain_invalid(reason: str) -> str:
    """GEOS 'Self-intersection[30.1 45.2]' → 'polygon self-intersects at lon 30.1, lat 45.2'."""
    head, _, tail = reason.partition("[")
    where = ""
    if tail:
        nums = tail.rstrip("]").split()
        if len(nums) >= 2:
            where = f" at lon {float(nums[0]):.6f}, lat {float(nums[1]):.6f}"
    text = {
        "Self-intersection": "polygon self-intersects",
        "Ring Self-intersection": "a ring touches or crosses itself",
        "Too few points": "a ring has too few distinct points",
        "Interior is disconnected": "holes cut the polygon into pieces",
        "Hole lies outside shell": "a hole lies outside its polygon",
        "Nested shells": "a polygon of the MultiPolygon lies inside another",
        "Duplicate Rings": "two rings are identical",
        "Nested holes": "a hole lies inside another hole",
    }.get(head, head.lower())
    return f"{text}{where}"


def _fmt_point(p: Any) -> str:
    return f"lon {p[0]:.6f}, lat {p[1]:.6f}"


def _self_crossings(line: Any) -> list[tuple[float, float]]:
    """Points where a (multi)line crosses or touches itself other than at its own ends."""
    if shapely.is_simple(line):
        return []
    pieces = shapely.get_parts(shapely.node(line))
    ends = np.vstack([shapely.get_coordinates(shapely.boundary(p)) for p in pieces if not p.is_empty])
    own = {tuple(xy) for xy in shapely.get_coordinates(shapely.boundary(line))}
    keys, counts = np.unique(np.round(ends, 9), axis=0, return_counts=True)
    return [tuple(k) for k, c in zip(keys, counts, strict=True) if c >= 3 or (c == 2 and tuple(k) not in own)]


def _check_lines_do_not_cross(geoms: list[tuple[str, Any]], ref: str, problems: list[Problem]) -> None:
    tree = shapely.STRtree([g for _, g in geoms])
    left, right = tree.query([g for _, g in geoms], predicate="intersects")
    for i, j in zip(left, right, strict=True):
        if i >= j:
            continue
        a, b = geoms[i][1], geoms[j][1]
        meet = shapely.intersection(a, b)
        ends = shapely.union(shapely.boundary(a), shapely.boundary(b))
        inner = shapely.difference(meet, ends)
        if not inner.is_empty:
            pts = shapely.get_coordinates(inner)
            problems.append(Problem(ref, f"{geoms[i][0]} and {geoms[j][0]}",
                                    "lines cross or overlap at " + ", ".join(_fmt_point(p) for p in pts[:5])))


# ---------------------------------------------------------------------------------------------- geometry


def _check_geometry(agreement: Agreement, name: str) -> list[Problem]:
    """Party areas inside the country, not overlapping, an explicit line inside and not crossing, a line at all."""
    problems: list[Problem] = []
    country = agreement.country.area.shape
    proj = LocalProjection.around(country)
    country_xy = proj.to_local(country)
    tol = agreement.geometry.border_tolerance_m
    grown = shapely.buffer(country_xy, tol, quad_segs=4)
    shapely.prepare(grown)
    explicit: dict[str, Any] = {}
    for i, party in enumerate(agreement.parties):
        if party.area is None:
            continue
        area = proj.to_local(party.area.shape)
        explicit[party.code] = area
        outside = shapely.difference(area, grown).area
        if area.area > 0 and outside / area.area > agreement.geometry.max_outside_fraction:
            problems.append(Problem(party.area.source, f"(area of party {party.code}, parties[{i}])",
                                    f"{outside / area.area:.1%} of the area ({outside / 1e6:,.0f} km²) lies more than "
                                    f"{tol:,.0f} m outside the country outline {agreement.country.area.source}; "
                                    f"at most {agreement.geometry.max_outside_fraction:.0%} is allowed"))
    codes = list(explicit)
    for a in range(len(codes)):
        for b in range(a + 1, len(codes)):
            overlap = polygonal(shapely.intersection(explicit[codes[a]], explicit[codes[b]]))
            inner = polygonal(shapely.intersection(overlap, shapely.buffer(country_xy, -tol, quad_segs=4)))
            if inner.area > 1e6:
                c = proj.to_wgs84(inner.representative_point())
                problems.append(Problem(name, f"parties {codes[a]} and {codes[b]}",
                                        f"areas overlap by {inner.area / 1e6:,.1f} km² inside the country (e.g. at {_fmt_point((c.x, c.y))})"))
    if agreement.contact_line is not None:
        line = proj.to_local(agreement.contact_line.shape)
        stray = lineal(shapely.difference(line, grown))
        if stray.length > 0:
            c = proj.to_wgs84(shapely.get_point(shapely.get_geometry(stray, 0), 0))
            problems.append(Problem(agreement.contact_line.source, "(contact line)",
                                    f"{stray.length / 1e3:,.1f} km of the line lie outside the country (e.g. at {_fmt_point((c.x, c.y))})"))
    if problems:
        return problems
    from truceline.verify.geometry import (
        geometry_for,  # deferred: geometry imports the domain only
    )

    geometry = geometry_for(agreement)
    if geometry.contact_line_xy.is_empty:
        problems.append(Problem(name, "parties", "the parties' areas share no boundary inside the country (farther than "
                                f"{tol:,.0f} m from its outline): there is no line of contact"))
    return problems

