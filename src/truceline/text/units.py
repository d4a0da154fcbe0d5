"""Administrative units a location field names ("Sudzha raion", "Shakhove hromada", "Покровського району") as constraints.

Volunteers' place strings name the raion, often the hromada, that a village lies in: "Martynovka, Sudzha raion".
A village of that name elsewhere is a namesake, not the place: the unit is a constraint, and a name with no
candidate inside it is left unplaced with that reason rather than placed 600 km off (issue #16).

What the gazetteer knows, and so how membership is decided:

* A raion or hromada of Ukraine's codifier (KATOTTG, since 2020), named by its adjective (Pokrovskyi,
  Покровського, Shakhivska) or by its centre (Pokrovsk raion, Shakhove hromada: the town's own raion or
  hromada; a raion abolished in 2020, Marinka raion, lies wholly in the one that took it over, Pokrovskyi,
  so the constraint is looser there but never wrong). A place is in it when the codifier says so. A Ukrainian place the codifier
  does not cover (GeoNames only: Crimea, some occupied towns) is in it when it lies within the unit's
  extent: the farthest of the unit's own settlements from their median point, plus :data:`EXTENT_MARGIN_KM`.
* A Russian raion, named after its centre (Sudzha raion, Sudzhansky raion, Судженский район: centre Sudzha).
  The bundled gazetteer has no second-level areas of Russia (GeoNames' cities list names none for Kursk
  Oblast's places) and no outline: a place is in it when it lies in the centre's region within
  :data:`TOWN_UNIT_KM` of the centre.
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace

from truceline.text.gazetteer import TIER_ALTERNATE, TIER_OFFICIAL, AdminArea, Candidate, Gazetteer, Place, distance_km
from truceline.text.normalise import skeleton

#: Radius of a unit known only by its centre town (km). Measured, not guessed: of the 473 incidents of 2024
#: (the dev half of the WarSpotting set, docs/text.md) in a raion of Kursk, Belgorod or Bryansk Oblast named
#: after its centre, the farthest lay 38 km from that centre; a raion there covers about 1,000–1,900 km².
TOWN_UNIT_KM = 40.0
#: Slack around a codifier unit's extent for a place the codifier does not cover (km): GeoNames' point of
#: a village may lie a little outside the hull of its neighbours.
EXTENT_MARGIN_KM = 5.0
#: The extent table's kind for a hromada keyed by its raion too ("Fastivskyi raion|Kalynivska hromada").
_HROMADA_IN_RAION = "raion|hromada"
_WORDS_RAION = frozenset(["raion", "rayon", "district", "район", "району", "района", "районі", "районе"])
_WORDS_HROMADA = frozenset(["hromada", "community", "municipality", "громада", "громади", "громаді", "громаду"])
_WORD = re.compile(r"[^\W\d_]+", re.UNICODE)
#: Adjective endings in the skeleton of an inflected unit name (Покровського → pokrovskoho), mapped to the
#: nominative the town derivation reads (pokrovski); the -en- of Russian adjectives (Судженский) to -an-.
_ADJECTIVE = re.compile(r"(.{3,}?)([sc])k(?:oho|omu|oi|oiu|ii|i|a|e|o|u|ym|im)")


def unit_kind(raw: str) -> str | None:
    """``raion`` or ``hromada`` when a field part names a unit by its word, else None."""
    words = {w.casefold() for w in _WORD.findall(raw)}
    if words & _WORDS_HROMADA:
        return "hromada"
    if words & _WORDS_RAION:
        return "raion"
    return None


def adjective_forms(name: str) -> list[str]:
    """Nominative spellings of an inflected unit adjective: Покровського → pokrovski, Шахівської → sahivska, Судженского → sudsanski."""
    words = name.split()
    if len(words) != 1:
        return []
    match = _ADJECTIVE.fullmatch(skeleton(words[0]))
    if match is None:
        return []
    stem, soft = match.groups()
    out = [f"{stem}{soft}ki", f"{stem}{soft}ka"]  # a raion is masculine, a hromada feminine
    if stem.endswith("en") and len(stem) >= 5:  # Russian Судженский ← Суджа, as Sudzhansky
        out.append(f"{stem[:-2]}an{soft}ki")
    return out


@dataclass(frozen=True)
class Unit:
    """A raion or hromada a field names: codifier units (region key, label) or centre towns with a radius."""

    label: str  # as the text names it: "Sudzha raion"
    kind: str  # raion | hromada
    areas: tuple[tuple[str, str], ...] = ()
    towns: tuple[Place, ...] = ()

    @property
    def centre(self) -> Place | None:
        """The one town the unit is named after, when it is not a codifier unit."""
        return self.towns[0] if len(self.towns) == 1 and not self.areas else None


class UnitIndex:
    """Finds the unit a field part names and tells whether a place lies in it."""

    def __init__(self, gazetteer: Gazetteer, radius_km: float = TOWN_UNIT_KM, dominance: float = 3.0) -> None:
        self.gazetteer = gazetteer
        self.radius_km = radius_km
        #: Population ratio by which a raion's centre outweighs villages of its name (the chooser's dominance).
        self.dominance = dominance
        self._extents: dict[tuple[str, str, str], tuple[float, float, float]] | None = None

    def named(self, label: str, name: str, kind: str, regions: set[str],
              adjective_towns: Callable[[str], list[Candidate]], inside: Sequence[Unit] = ()) -> Unit | None:
        """The unit ``name`` (the part without its unit word) stands for, within ``regions`` if any; None if unknown.

        ``adjective_towns`` derives centre towns from a raion adjective (Borivskyi → Borova). ``inside``: units
        the named one lies in (the raion named beside a hromada: Malynivka hromada of Polohy raion, not the
        bigger Malynivka's of Kharkiv Oblast); when none of its readings lies there, None (the raion still holds).
        """
        named = [*self.gazetteer.admin_areas(name), *(a for form in adjective_forms(name) for a in self.gazetteer.admin_areas(form))]
        areas = [a for a in dict.fromkeys(named) if a.kind == kind and (not regions or a.region_key in regions)]
        areas = [a for a in areas if all(a.kind == "hromada" and (a.region_key, a.raion) in u.areas for u in inside)]
        if areas:
            return Unit(label, kind, tuple(dict.fromkeys((a.region_key, a.name) for a in areas)))
        found = [c for c in self.gazetteer.exact(name) if c.tier <= TIER_ALTERNATE]
        if all(c.place.country != "UA" for c in found):  # Borovsky raion: Borova's (Borivskyi) as well as Russia's Borovskiy
            found += [c for form in adjective_forms(name) for c in adjective_towns(form)]
        found = [c for c in found if not c.place.codifier_only and c.place.lat is not None and c.place.country in ("UA", "RU")
                 and (not regions or c.place.region_key in regions) and self.contains_all(inside, c.place)]
        if any(c.tier == TIER_OFFICIAL for c in found):  # Pokrovsk is Engels' former name, and a town of its own
            found = [c for c in found if c.tier == TIER_OFFICIAL]
        towns = list({c.place.index: c.place for c in found}.values())
        if not towns and kind == "hromada" and inside:
            # A hromada renamed after its seat since the codifier (Bilmanka hromada, Kamianska until 2024): the
            # hromada its village of the name in the raion named lies in.
            seats = {(c.place.region_key, c.place.hromada) for c in self.gazetteer.exact(name)
                     if c.tier <= TIER_ALTERNATE and c.place.country == "UA" and c.place.hromada and self.contains_all(inside, c.place)}
            return Unit(label, kind, tuple(sorted(seats))) if seats else None
        if not towns:
            return None
        # A Ukrainian town's own raion or hromada is the unit (Volnovakha raion: the codifier's Volnovaskyi
        # raion); a raion abolished in 2020 (Marinka raion) lies wholly in the one that took it over (Pokrovskyi).
        # A raion is named after its centre, not after a village of the same name a tenth its size.
        ukrainian = [t for t in towns if t.country == "UA"]
        biggest = max((t.population for t in ukrainian), default=0)
        own = [self._unit_of(t, kind) for t in ukrainian if t.population * self.dominance >= biggest]
        areas_of_towns = tuple(dict.fromkeys(area for area in own if area is not None))
        russian = tuple(t for t in towns if t.country != "UA")
        if not areas_of_towns and not russian:
            return None
        return Unit(label, kind, areas_of_towns, russian)

    def area(self, unit: Unit) -> AdminArea | None:
        """The one codifier raion or hromada a unit stands for, with its median point; None if several or none."""
        if len(unit.areas) != 1 or unit.towns:
            return None
        region_key, label = unit.areas[0]
        found = [a for a in self.gazetteer.admin_areas(label.rsplit(" ", 1)[0]) if a.name == label and a.region_key == region_key]
        return found[0] if found else None

    def nearest_to_fighting(self, unit: Unit, distance: Callable[[Place], float]) -> Unit:
        """Of several Russian centres of the name, those nearest the line of contact or the border.

        Korenevo raion is Kursk Oblast's, not the Korenyovo of Moscow Oblast: a centre more than
        ``2 * radius_km`` farther from the fighting than the nearest one is dropped. Beside a Ukrainian unit of
        the name, whose towns are all near enough to count, a Russian centre must be as near as ``2 *
        radius_km``: Borovsky raion is Borova's (Kharkiv Oblast), not a Borovskiy of Tyumen Oblast.
        """
        if unit.areas and unit.towns:
            return replace(unit, towns=tuple(t for t in unit.towns if distance(t) <= 2 * self.radius_km))
        if len(unit.towns) < 2:
            return unit
        far = {t.index: distance(t) for t in unit.towns}
        nearest = min(far.values())
        return replace(unit, towns=tuple(t for t in unit.towns if far[t.index] <= nearest + 2 * self.radius_km))

    def _unit_of(self, town: Place, kind: str) -> tuple[str, str] | None:
        """The codifier raion or hromada of a Ukrainian town; for a town the codifier does not link (Zaporizhzhia
        city, in GeoNames only), the unit whose extent holds it with the nearest median point."""
        name = town.hromada if kind == "hromada" else town.raion
        if name:
            return town.region_key, name
        if town.lat is None or town.lon is None:
            return None
        lat, lon = town.lat, town.lon
        holding = [(distance_km(c_lat, c_lon, lat, lon), label) for (k, key, label), (c_lat, c_lon, extent) in self._extent_table().items()
                   if k == kind and key == town.region_key and distance_km(c_lat, c_lon, lat, lon) <= extent + EXTENT_MARGIN_KM]
        return (town.region_key, min(holding)[1]) if holding else None

    def contains(self, unit: Unit, place: Place) -> bool:
        """True when ``place`` lies in ``unit`` as far as the gazetteer can tell (see the module's notes)."""
        if place.lat is None or place.lon is None:
            return False
        for region_key, name in unit.areas:
            if place.region_key != region_key:
                continue
            own = place.hromada if unit.kind == "hromada" else place.raion
            if own == name:
                return True
            if own is None and place.country == "UA" and place.raion is None:
                lat, lon, extent = self._extent(unit.kind, region_key, name)
                if distance_km(lat, lon, place.lat, place.lon) <= extent + EXTENT_MARGIN_KM:
                    return True
        return any(
            place.country == town.country and place.region_key == town.region_key
            and distance_km(town.lat or 0.0, town.lon or 0.0, place.lat, place.lon) <= self.radius_km
            for town in unit.towns
        )

    def within_extent(self, unit: Unit, place: Place) -> bool:
        """True when a GeoNames point lies within the extent of one of the unit's codifier areas (plus the margin),
        whatever unit or oblast its codifier link names: the link is made by name and may be a namesake's
        (Zalizne by Toretsk, Bakhmut raion, is linked to the Zalizne of Snizhne hromada), and a volunteer may
        name the raion across an oblast's border (Serebrianka of Donetsk Oblast, by the Serebrianka forest of
        Siverskodonetsk raion, Luhansk Oblast). The chooser asks only when no candidate lies in the unit."""
        if place.lat is None or place.lon is None or place.precision != 1:
            return False
        for region_key, name in unit.areas:
            lat, lon, extent = self._extent(unit.kind, region_key, name)
            if distance_km(lat, lon, place.lat, place.lon) <= extent + EXTENT_MARGIN_KM:
                return True
        return self.contains(replace(unit, areas=()), place)

    def own_point_of(self, village: Place, other: Place, units: Iterable[Unit]) -> bool:
        """True when ``other``, a GeoNames point of the same name, is more likely ``village``'s own point than a
        namesake's: ``village`` is the codifier's, placed at its hromada's median (precision 3) for want of a
        point, and ``other`` lies within that hromada's extent (plus the margin) and within each unit the text
        names, nearer that hromada's median than the median of the hromada its own codifier link names: the link,
        made by name, is a namesake's (Pryvillia by Lysychansk, Siverskodonetsk raion: the GeoNames point is
        linked to the Pryvillia of Bilovodsk hromada, 90 km off). A GeoNames point that lies in its own linked
        hromada is another village of the name (Bilohorivka of Lysychansk hromada is not Soledar's).

        A Ukrainian GeoNames point with no codifier link at all (the build paired it with no village: GeoNames
        files Verkhnosadove under Sevastopol, the codifier under Bakhchysarai raion) has no hromada of its own to
        lie in: within the village's hromada's extent (its raion's when GeoNames places none of the hromada's
        settlements by its codifier name, as in Crimea) and the units named, it is the village's point."""
        if not (village.codifier_only and village.precision == 3 and village.hromada) or other.precision != 1:
            return False
        if other.lat is None or other.lon is None or other.index == village.index:
            return False
        unlinked = other.country == "UA" and other.hromada is None and other.raion is None
        if not (other.hromada or unlinked):
            return False
        lat, lon, extent = self._extent(_HROMADA_IN_RAION, village.region_key, f"{village.raion}|{village.hromada}")
        if extent < 0 and unlinked and village.raion:  # a hromada without a GeoNames point (Crimea's): its raion's
            lat, lon, extent = self._extent("raion", village.region_key, village.raion)
        if extent < 0:  # nothing to compare
            return False
        here = distance_km(lat, lon, other.lat, other.lon)
        if here > extent + EXTENT_MARGIN_KM or not all(self.within_extent(u, other) for u in units):
            return False
        if unlinked:
            return True
        own_lat, own_lon, own_extent = self._extent(_HROMADA_IN_RAION, other.region_key, f"{other.raion}|{other.hromada}")
        return own_extent >= 0 and here < distance_km(own_lat, own_lon, other.lat, other.lon)

    def region_keys(self, units: Iterable[Unit]) -> set[str]:
        """The oblasts the units lie in (their codifier areas' and centre towns')."""
        return {key for u in units for key, _ in u.areas} | {t.region_key for u in units for t in u.towns if t.region_key}

    def contains_all(self, units: Iterable[Unit], place: Place) -> bool:
        """True when ``place`` lies in every unit."""
        return all(self.contains(u, place) for u in units)

    def _extent(self, kind: str, region_key: str, name: str) -> tuple[float, float, float]:
        """Median point of a codifier unit's settlements GeoNames places, and the farthest of them from it."""
        return self._extent_table().get((kind, region_key, name), (0.0, 0.0, -EXTENT_MARGIN_KM - 1.0))

    def _extent_table(self) -> dict[tuple[str, str, str], tuple[float, float, float]]:
        """Extents of all codifier units, computed once: (kind, region key, label) → (lat, lon, km)."""
        if self._extents is None:
            points: dict[tuple[str, str, str], list[tuple[float, float]]] = {}
            for p in self.gazetteer.places:
                if p.country != "UA" or p.precision != 1 or p.lat is None or p.lon is None:
                    continue
                # A hromada's name is unique in its raion, not always in its oblast (Kyiv Oblast has two Kalynivska)
                in_raion = f"{p.raion}|{p.hromada}" if p.raion and p.hromada else None
                for k, label in (("raion", p.raion), ("hromada", p.hromada), (_HROMADA_IN_RAION, in_raion)):
                    if label:
                        points.setdefault((k, p.region_key, label), []).append((p.lat, p.lon))
            extents = {}
            for key, pts in points.items():
                lat, lon = statistics.median(a for a, _ in pts), statistics.median(b for _, b in pts)
                extents[key] = (lat, lon, max(distance_km(lat, lon, a, b) for a, b in pts))
            self._extents = extents
        return self._extents

    def describe(self, units: Iterable[Unit]) -> str:
        """The units as the text names them, for a reason: "Sudzha raion"."""
        return ", ".join(u.label for u in units)
