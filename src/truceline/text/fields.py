"""Location fields ("Kupyansk (Kharkiv region)", "Beryslav, Kherson Oblast"): parts, districts, alternatives.

Every part of a field is meant as a place, so near spellings are accepted; a region part qualifies the
settlement parts; a district is placed at its city or its town; alternatives far apart give no point.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from truceline.text.choose import Chooser, Context
from truceline.text.gazetteer import TIER_FUZZY, TIER_OFFICIAL, Candidate, distance_km
from truceline.text.normalise import skeleton
from truceline.text.regions import GROUP_NAMES
from truceline.text.resolved import THEATRE, ResolvedPlace, dedupe, km, unresolved
from truceline.text.units import Unit, unit_kind
from truceline.text.vocabulary import (
    ALTERNATIVES,
    CITY_PART_WORDS,
    COUNTRY_CODES,
    DISTRICT_WORDS,
    FACILITY_WORDS,
    FIELD_NOISE,
    LOCATION_SPLIT,
    NEAR_WORDS,
    REGION_ONLY,
    REGION_WORDS,
    SETTLEMENT_WORDS,
    WORD,
)


@dataclass
class _Component:
    text: str
    words: list[str]
    kind: str  # settlement | district | region | country
    near: bool = False
    city_part: bool = False  # "district", "microdistrict": a part of a city rather than a raion
    raw: str = ""  # the part as written, for reporting the mention
    dropped: str = ""  # capitalised words before the name that are not part of it ("Beschuss Saporischschja")
    facility: bool = False  # "Kherson airport": a facility named after the place, not necessarily in it


def _classify(raw: str) -> _Component | None:
    text = raw.strip(" \t\"'«»“”„.-")
    if not text:
        return None
    words = WORD.findall(text)
    lowered = [w.casefold() for w in words]
    kind = "settlement"
    if any(w in REGION_WORDS for w in lowered):
        kind = "region"
    elif any(w in DISTRICT_WORDS for w in lowered):
        kind = "district"
    near = any(w in NEAR_WORDS for w in lowered)
    city_part = kind == "district" and any(w in CITY_PART_WORDS for w in lowered)
    kept = [
        w
        for w, low in zip(words, lowered, strict=True)
        if low not in REGION_WORDS and low not in DISTRICT_WORDS and low not in SETTLEMENT_WORDS and low not in NEAR_WORDS and low not in FIELD_NOISE
    ]
    if not kept:
        return None
    capitalised = [w for w in kept if w[0].isupper()]
    if capitalised and len(capitalised) < len(kept):
        kept = capitalised
    facility = kind == "settlement" and any(w in FACILITY_WORDS for w in lowered)
    return _Component(" ".join(kept), kept, kind, near, city_part, text, facility=facility)


class FieldReader(Chooser):
    """Reads location fields: :meth:`parse_location`."""

    def parse_location(self, text: str) -> list[ResolvedPlace]:
        """Places of a location field, the most specific first; unresolved parts say why."""
        context = Context()
        regions_seen: list[ResolvedPlace] = []
        items: list[_Component] = []
        components = [c for c in (_classify(part) for part in LOCATION_SPLIT.split(text)) if c is not None]
        named_regions = {r.key for c in components if c.kind == "region" for r in [self._region(c.text)[0]] if r is not None}
        for comp in components:
            if self.gazetteer.is_foreign_name(comp.text) and not self._named_there(comp.text, named_regions):
                country = COUNTRY_CODES.get(comp.text.casefold())
                if country:
                    context.countries.add(country)
                continue
            if comp.text in GROUP_NAMES or comp.text.title() in GROUP_NAMES:
                group = GROUP_NAMES.get(comp.text) or GROUP_NAMES[comp.text.title()]
                context.regions |= self.region_keys(None, group)
                context.hard_regions = True
                regions_seen.append(self._group_place(comp.text, group))
                continue
            if comp.kind == "region" or (comp.kind == "settlement" and self._names_region_only(comp.text)):
                region, _ = self._region(comp.text)
                if region is not None:
                    context.regions.add(region.key)
                    context.hard_regions = True
                    regions_seen.append(self._region_place(comp.raw or comp.text, region))
                    continue
                items.append(replace(comp, kind="district"))  # "Kupyansk region": the district of a town
                continue
            items.append(comp)
        items = [self._narrow(c) for c in items]
        units = self._units_named(items, context)
        context.units = [units[i] for i in sorted(units)]  # in the order the field names them
        found = [self.candidates(c.text, fuzzy=True) for c in items]
        first = [self._resolve(c, f, context, [], units.get(i)) for i, (c, f) in enumerate(zip(items, found, strict=True))]
        final = []
        for i, (comp, f) in enumerate(zip(items, found, strict=True)):
            others = [p for j, p in enumerate(first) if j != i and p.resolved and p.kind in ("settlement", "district")]
            local = Context(set(context.regions), context.hard_regions, set(context.countries), [(p.lat or 0.0, p.lon or 0.0) for p in others],
                            context.units)
            if not context.hard_regions:
                local.regions |= {p.region_key for p in others if p.region_key}
            final.append(self._resolve(comp, f, local, others, units.get(i)))
        final = self._abroad_beside_theatre(final)
        final = self._beside_unknown_unit(items, final, context, units)
        if ALTERNATIVES.search(text):
            final = self._alternatives(final)
        final = self._facilities_after(items, final)
        ordered = self._order(final)
        if any(p.resolved for p in ordered):
            return dedupe(ordered)
        if regions_seen:
            return regions_seen + ordered
        return ordered or [unresolved(text.strip(), "no place name found")]

    def _beside_unknown_unit(self, items: list[_Component], resolved: list[ResolvedPlace], context: Context,
                             units: dict[int, Unit]) -> list[ResolvedPlace]:
        """A raion or hromada the gazetteer does not know ("Ozerki, Belovsk raion": Belaya's raion, Kursk Oblast)
        says the place is one the gazetteer is thin on; a namesake the name alone picks far from the line of contact
        and the border (Ozerki, a part of Saint Petersburg, 1,050 km off) is then a guess, and is left unplaced
        with the reason. Near the fighting, or in a region the field names, it stays."""
        unknown = [c for i, c in enumerate(items) if i not in units and c.kind == "district" and unit_kind(c.raw) is not None
                   and not c.city_part]
        if not unknown or len(items) != len(resolved):
            return resolved
        out = []
        for comp, place in zip(items, resolved, strict=True):
            if (comp.kind == "settlement" and place.resolved and place.place_index is not None and place.region_key not in context.regions
                    and not self._near_fighting(self.gazetteer.places[place.place_index])):
                place = unresolved(place.mention, f"{unknown[0].raw or unknown[0].text} is not in the gazetteer, and {place.name} "
                                                  f"({place.country}), which the name gives, lies far from the line of contact and the "
                                                  "border: a place the gazetteer lacks may be meant")
            out.append(place)
        return out

    @staticmethod
    def _abroad_beside_theatre(resolved: list[ResolvedPlace]) -> list[ResolvedPlace]:
        """A place abroad known by the words only as another name of it is not meant when the field names a place
        in Ukraine or Russia: "Azot" (a chemical plant in Siverskodonetsk) is an old name of Ashdod, 1,900 km off.
        A place abroad by its own name ("Chisinau, Moldova") or a field naming nothing in the theatre is left as it is."""
        if not any(p.resolved and p.country in THEATRE for p in resolved):
            return resolved
        return [
            unresolved(p.mention, f"{p.name} ({p.country}) has this as another name; the field names places in Ukraine or Russia")
            if p.resolved and p.country not in THEATRE and p.match == "alternate" else p
            for p in resolved
        ]

    def _facilities_after(self, items: list[_Component], resolved: list[ResolvedPlace]) -> list[ResolvedPlace]:
        """A place that names a facility ("Kherson airport") goes after a settlement the field names otherwise
        within :attr:`Thresholds.anchor_km` of it: the facility is by that settlement ("Kherson airport
        (Chornobaivka)": the airport is in Chornobaivka, 8 km from Kherson's point)."""
        if len(items) != len(resolved) or not any(c.facility for c in items):
            return resolved
        facilities = [p for c, p in zip(items, resolved, strict=True) if c.facility]
        if not any(
            not c.facility and p.resolved and p.kind == "settlement" and f.resolved
            and distance_km(f.lat or 0.0, f.lon or 0.0, p.lat or 0.0, p.lon or 0.0) <= self.thresholds.anchor_km
            for c, p in zip(items, resolved, strict=True) for f in facilities
        ):
            return resolved
        return [p for c, p in zip(items, resolved, strict=True) if not c.facility] + facilities

    def _narrow(self, comp: _Component) -> _Component:
        """German capitalises nouns: "Beschuss Saporischschja" is shelling of Zaporizhzhia, not a place so named.

        A run of several capitalised words stays whole when the gazetteer knows it in any spelling, even a
        near one ("Velyka Novoselka"). Otherwise its longest tail that is a place of the theatre by exact
        name is the place, provided the words before it name no place themselves: they are the report's
        vocabulary, kept in the note.
        """
        if comp.kind != "settlement" or len(comp.words) < 2 or self.candidates(comp.text, fuzzy=True):
            return comp
        for k in range(1, len(comp.words)):
            tail, head = comp.words[k:], comp.words[:k]
            if self.candidates(" ".join(head), fuzzy=False):
                continue
            if any(c.place.country in THEATRE and c.place.lat is not None for c in self.candidates(" ".join(tail), fuzzy=False)):
                return replace(comp, text=" ".join(tail), words=tail, dropped=" ".join(head))
        return comp

    def _alternatives(self, resolved: list[ResolvedPlace]) -> list[ResolvedPlace]:
        """Settlements given as alternatives ("Pokrovsk, Myrnohrad or Novohrodivka") are not all meant.

        Close together (each within :attr:`Thresholds.alternatives_km` of their mean), the answer is the
        area they span: their mean point at precision 3. Farther apart, picking the first would be a guess,
        so none is kept as a point and the region named, if any, answers.
        """
        settlements = [p for p in resolved if p.resolved and p.kind == "settlement"]
        if len(settlements) < 2:
            return resolved
        lat = sum(p.lat or 0.0 for p in settlements) / len(settlements)
        lon = sum(p.lon or 0.0 for p in settlements) / len(settlements)
        names = " or ".join(p.name for p in settlements)
        rest = [p for p in resolved if not any(p is q for q in settlements)]
        if all(distance_km(lat, lon, p.lat or 0.0, p.lon or 0.0) <= self.thresholds.alternatives_km for p in settlements):
            first = settlements[0]
            area = replace(first, mention=names, name=names, lat=round(lat, 5), lon=round(lon, 5), precision=3, kind="district",
                           match="context", note=f"one of {len(settlements)} places named as alternatives: the middle of them",
                           place_index=None, candidates=len(settlements))
            return [area, *rest]
        return [*rest, replace(unresolved(names, "alternatives far apart: the text does not say which"), kind="ambiguous",
                               candidates=len(settlements))]

    def _named_there(self, text: str, region_keys: set[str]) -> bool:
        """True if a place of this name lies in one of the regions the field names ("New York, Donetsk Oblast")."""
        return bool(region_keys) and any(c.place.region_key in region_keys for c in self.gazetteer.exact(text))

    def _names_region_only(self, text: str) -> bool:
        """True for a bare region adjective (Khersons'ka) or a former city name kept by its oblast (Dnipropetrovsk)."""
        if self.gazetteer.region_by_adjective(text) is not None and not self.gazetteer.exact(text):
            return True
        return skeleton(text) in REGION_ONLY

    def _units_named(self, items: list[_Component], context: Context) -> dict[int, Unit]:
        """The raions and hromadas the field names, by item: each constrains the settlements it names.

        "District" and "район" also name parts of cities: such a part is no unit when the gazetteer knows a
        city district of that name, the field names a city (Kharkiv, Shevchenkivskyi district), or the only
        town of the name is in Russia far (over twice :attr:`Thresholds.front_km`) from the fighting. A city counts when
        named by its own name, not by an alternate one.
        """
        regions = context.regions if context.hard_regions else set()
        # by its own name: GeoNames gives Bobrov (Voronezh Oblast, 20,587) the alternate name Borov, and "Borov, Izyum
        # district" names Borova of Izium raion
        city = any(c.place.population >= self.thresholds.district_city and c.tier == TIER_OFFICIAL for comp in items
                   if comp.kind == "settlement" for c in self.candidates(comp.text, fuzzy=False))
        out: dict[int, Unit] = {}
        kinds = {i: unit_kind(comp.raw) if comp.kind == "district" else None for i, comp in enumerate(items)}
        for i, comp in sorted(enumerate(items), key=lambda item: kinds[item[0]] == "hromada"):  # raions first: a hromada lies in one
            kind = kinds[i]
            if kind is None or comp.city_part and (city or self.gazetteer.districts(comp.text)):
                continue
            raions = [u for u in out.values() if u.kind == "raion"] if kind == "hromada" else []
            unit = self.units.named(comp.raw or comp.text, comp.text, kind, regions, self._adjective_towns, raions)
            if unit is None:
                continue
            unit = self.units.nearest_to_fighting(unit, self._fighting_km)
            if comp.city_part and not unit.areas and min(self._fighting_km(t) for t in unit.towns) > 2 * self.thresholds.front_km:
                continue  # "Suvorovskyi district": a city's district the gazetteer lacks, not a raion of Kaluga Oblast
            out[i] = unit
        return out

    def _unit_point(self, comp: _Component, unit: Unit) -> ResolvedPlace:
        """A unit the district reader did not place (Судженского района, Волноваського району): its point, precision 3."""
        if unit.centre is not None:  # Sudzha raion: Russia's raions have no outline here
            chosen = self._pick(comp.text, Candidate(unit.centre, TIER_OFFICIAL, 100.0), [], f"{comp.raw or comp.text} is named after this town")
            return replace(chosen, precision=3, kind="district", note=f"{unit.kind} named after this town: the town's point")
        area = self.units.area(unit)
        if area is None:
            return unresolved(comp.text, "district not in the gazetteer")
        region = self.gazetteer.regions.get(area.region_key)
        return ResolvedPlace(
            mention=comp.text, name=area.name, lat=area.lat, lon=area.lon, precision=3, country=area.country,
            admin1=region.name if region else None, raion=area.raion if area.kind == "hromada" else area.name,
            kind="district", match="official", note=f"{area.kind}: median point of its settlements", region_key=area.region_key,
        )

    def _resolve(self, comp: _Component, found: list[Candidate], context: Context, others: list[ResolvedPlace], unit: Unit | None = None) -> ResolvedPlace:
        if comp.kind == "district":
            place = self._resolve_district(comp, found, context, others)
            if unit is None:
                return place
            if not place.resolved:
                return self._unit_point(comp, unit)
            if place.place_index is not None and not self.units.contains(unit, self.gazetteer.places[place.place_index]):
                # "Borisovka raion" is Belgorod Oblast's (Borisovka, its official name), not the Odesa Oblast village
                # whose Russian name it is: the unit the constraint was read as answers, when it has a point.
                own = self._unit_point(comp, unit)
                if own.resolved:
                    return own
            if (place.precision or 3) < 3:  # Donetsk raion beside Makiivka is no part of Makiivka: a raion is an area
                return replace(place, precision=3, note=f"{unit.kind} named after this town: the town's point")
            return place
        place = self.choose(comp.text, found, context, fuzzy_name=comp.text)
        if comp.dropped:
            why = f"'{comp.dropped}' is not part of the name"
            place = replace(place, note=f"{place.note}; {why}" if place.note else why)
        if comp.near and place.resolved and place.precision == 1:
            place = replace(place, precision=2, note="near the named place")
        return place

    def _resolve_district(self, comp: _Component, found: list[Candidate], context: Context, others: list[ResolvedPlace]) -> ResolvedPlace:
        t = self.thresholds
        cities = [p for p in others if p.place_index is not None and p.kind == "settlement" and p.population >= t.district_city]
        for city in cities:  # a district of a city named beside it: "Korabelnyi district, Kherson"
            place = self.gazetteer.places[city.place_index or 0]
            districts = self.gazetteer.city_districts(place, comp.text, t.fuzzy_field)
            if districts:
                return replace(city, mention=comp.text, name=f"{place.name}, {districts[0].name}", precision=2, kind="district",
                               match="context", note="city district without a point of its own: the city's point")
            if place.population >= t.big_city:  # a part of a big city that GeoNames has as a point: Saltivka
                parts = [c for c in found if c.tier != TIER_FUZZY and not c.place.codifier_only and km(c.place, place) <= t.same_place_km
                         and c.place.population < place.population]  # Kramatorsk is no part of Sloviansk
                if parts:
                    best = min(parts, key=lambda c: (c.tier, km(c.place, place)))
                    return replace(self._pick(comp.text, best, parts), kind="district")
        areas = [a for a in self.gazetteer.admin_areas(comp.text) if not context.regions or a.region_key in context.regions]
        basis = None
        if len(areas) > 1 and not all(distance_km(a.lat, a.lon, areas[0].lat, areas[0].lon) <= t.same_place_km for a in areas):
            # Khotynska hromada: Sumy Oblast's on the border, or Chernivtsi Oblast's? The line and border prior
            # of rule 5, as for settlements; undecided, the towns below are tried as before.
            near = [a for a in areas if self.front_line.distance_km(a.lat, a.lon) <= t.front_km
                    or self._border_point_km(a.lat, a.lon) <= t.border_km]
            if near and len(near) < len(areas) and all(distance_km(a.lat, a.lon, near[0].lat, near[0].lon) <= t.same_place_km for a in near):
                spread = max(distance_km(a.lat, a.lon, b.lat, b.lon) for a in areas for b in areas)
                basis = f"{len(areas)} {near[0].kind}s of this name up to {spread:.0f} km apart; the only one near the line of contact or the border"
                areas = near
        if areas and all(distance_km(a.lat, a.lon, areas[0].lat, areas[0].lon) <= t.same_place_km for a in areas):
            area = areas[0]
            region = self.gazetteer.regions.get(area.region_key)
            return ResolvedPlace(
                mention=comp.text, name=area.name, lat=area.lat, lon=area.lon, precision=3, country=area.country,
                admin1=region.name if region else None, raion=area.raion if area.kind == "hromada" else area.name,
                kind="district", match="official", note=f"{area.kind}: median point of its settlements", region_key=area.region_key,
                basis=basis,
            )
        if not cities:  # "Desnianskyi district" alone: a district of which city?
            named = self.gazetteer.districts(comp.text)
            owners = {d.city.index for d in named}
            if len(owners) > 1:
                return replace(unresolved(comp.text, f"{len(owners)} cities have a district of this name; the text does not say which"),
                               kind="ambiguous", candidates=len(owners))
            if len(owners) == 1:
                city_place = named[0].city
                base = self._pick(comp.text, Candidate(city_place, TIER_OFFICIAL, 100.0), [])
                return replace(base, name=f"{city_place.name}, {named[0].name}", precision=2, kind="district", match="context",
                               note="city district without a point of its own: the city's point")
        # "Izyum district", "Kupyansk region": the district of a town, placed at the town.
        countries = context.countries or {"UA"} | {key.split("-")[0] for key in context.regions}
        towns = [c for c in found if c.place.country in countries and not c.place.codifier_only and c.tier != TIER_FUZZY or
                 (c.tier == TIER_FUZZY and c.place.country in countries and not c.place.codifier_only)]
        if not towns and not context.countries and not context.regions:
            # "Sudzha district", "Glushkovo district": a town of Russia's side of the border by its own name
            towns = [c for c in found if c.place.country == "RU" and not c.place.codifier_only and c.tier == TIER_OFFICIAL]
        if context.regions:
            towns = [c for c in towns if c.place.region_key in context.regions] or ([] if context.hard_regions else towns)
        if not towns or all(c.tier == TIER_FUZZY for c in towns):
            # "Borovsky district", "Borivskyi raion": a former raion named by its centre's adjective
            derived = self._adjective_towns(comp.text)
            adjective = [c for c in derived if c.place.country in countries]
            if not adjective and not context.countries:  # Sudzhansky, Glushkovsky district: Russia's side of the border
                adjective = [c for c in derived if c.place.country == "RU"]
            if context.regions:
                adjective = [c for c in adjective if c.place.region_key in context.regions] or ([] if context.hard_regions else adjective)
            towns = adjective or towns
        if towns:
            town = self.choose(comp.text, towns, Context(set(), False, set(), context.anchors))
            if town.resolved:
                return replace(town, precision=3, kind="district", note="district named after this town; the town's point")
        if cities and comp.city_part:
            return replace(cities[0], mention=comp.text, precision=2, kind="district", match="context",
                           note="district not in the gazetteer: the point of the city it is in")
        return unresolved(comp.text, "district not in the gazetteer")

    def _adjective_towns(self, name: str) -> list[Candidate]:
        """Towns a raion adjective is derived from: Borovsky/Borivskyi → Borova, Bakhmutskyi → Bakhmut.

        Raions were named after their centres with the suffix -sk-; the 2020 reform merged most of them, so
        reports still use the old names that the codifier no longer has. The adjective's stem is tried with
        the usual endings of the town's name and with the Ukrainian i ← o/e alternation undone; only
        towns GeoNames lists (raion centres are), never codifier-only villages.
        """
        words = name.split()
        if len(words) != 1:
            return []
        key = skeleton(words[0])
        match = re.fullmatch(r"(.{3,}?)(s|c)k(i|ii|a|e|o)", key)
        if match is None:
            return []
        stem, soft = match.group(1), match.group(2)
        stems = {stem}
        if stem.endswith("n") and len(stem) >= 5:
            stems.add(stem[:-1])  # Russian -ansk-: Sudzhansky ← Sudzha
        last_i = stem.rfind("i")
        if last_i >= len(stem) - 3 and last_i > 0:
            stems |= {stem[:last_i] + v + stem[last_i + 1 :] for v in "oe"}
        endings = ("", "a", "e", "o", "ka") + (("t",) if soft == "c" else ("sk",))
        found: dict[int, Candidate] = {}
        for base in stems:
            for ending in endings:
                for c in self.gazetteer.exact(base + ending):
                    if c.tier == TIER_OFFICIAL and not c.place.codifier_only:
                        found.setdefault(c.place.index, c)
        return list(found.values())

    def _order(self, resolved: list[ResolvedPlace]) -> list[ResolvedPlace]:
        """Most specific first: a district before its city, a village before the big city that names its region."""
        if len(resolved) < 2:
            return resolved
        first = resolved[0]
        if first.resolved and first.kind == "district" and first.precision == 3:
            # "Polohivskyi raion, Robotyne", "Izyum district, Borova village": the village in the district (not
            # the town around a district: "Komyshany district, Kherson")
            for i, other in enumerate(resolved[1:], start=1):
                if not other.resolved or other.kind != "settlement" or (other.precision or 4) > 2:
                    continue
                if first.population:  # a town's district: a smaller place near the town
                    inside = other.population < first.population and distance_km(
                        first.lat or 0, first.lon or 0, other.lat or 0, other.lon or 0) <= self.thresholds.anchor_km
                else:  # a raion or hromada of the codifier: a settlement of it ("Myrivska hromada, Nikopol" is not)
                    inside = first.name in (other.raion, other.hromada)
                if inside:
                    return [other] + [p for j, p in enumerate(resolved) if j != i]
        if first.resolved and first.kind == "settlement":
            for i, other in enumerate(resolved[1:], start=1):
                if other.kind == "district" and other.resolved and (other.precision or 4) <= 2:
                    return [other] + [p for j, p in enumerate(resolved) if j != i]
        if not first.resolved and first.kind == "unresolved":
            city = next((p for p in resolved[1:] if p.resolved and p.kind == "settlement"), None)
            if city is not None:
                part_of = replace(city, mention=first.mention, precision=max(city.precision or 1, 2), match="context",
                                  note=f"'{first.mention}' not in the gazetteer: the place it is part of or near")
                return [part_of] + [p for p in resolved if p is not city]
        if first.resolved and first.kind == "settlement" and first.population >= self.thresholds.big_city:
            for i, other in enumerate(resolved[1:], start=1):
                if (other.resolved and other.kind == "settlement" and other.population < first.population
                        and distance_km(first.lat or 0, first.lon or 0, other.lat or 0, other.lon or 0) <= 2 * self.thresholds.anchor_km):
                    return [other] + [p for j, p in enumerate(resolved) if j != i]
        return resolved

