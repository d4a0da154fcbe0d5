"""The offline gazetteer: places, regions and city districts, looked up by spelling-independent keys.

Reads the file :mod:`truceline.text.build` derives from GeoNames and KATOTTG. Look-ups return candidates
with how they matched (official name, alternate name, fuzzy) so that the geoparser can prefer the more
trustworthy match and say how sure it is; choosing among candidates is the geoparser's job, not this one's.
"""

from __future__ import annotations

import gzip
import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import orjson
from rapidfuzz import fuzz, process

from truceline.text.normalise import KEY_VERSION, canonical, fold_cyrillic, skeleton_variants

GAZETTEER_FILE = "gazetteer.json.gz"
FORMAT_VERSION = 3

#: Countries whose places near spellings may match: Ukraine and the neighbours its reports name.
FUZZY_COUNTRIES = frozenset({"UA", "RU", "BY", "MD"})

#: Match tiers, best first.
TIER_OFFICIAL = 0  # the GeoNames name or the official Ukrainian name (or its transliteration)
TIER_ALTERNATE = 1  # any other recorded name (Russian, German, historic)
TIER_DERIVED = 2  # a Russian spelling derived by rule from the Ukrainian name (Клещеевка), recorded nowhere
TIER_FUZZY = 3  # a near spelling


class GazetteerError(RuntimeError):
    """The gazetteer file is missing or was built by an incompatible version."""


@dataclass(frozen=True, slots=True)
class Place:
    """A populated place: its point and how exact that point is (1 settlement, 3 hromada mean, 4 oblast)."""

    index: int
    name: str
    lat: float | None
    lon: float | None
    country: str
    admin1: str
    population: int
    precision: int
    raion: str | None
    hromada: str | None
    uk_name: str | None
    codifier_only: bool

    @property
    def region_key(self) -> str:
        """``CC-admin1``: the key of its first-level area."""
        return f"{self.country}-{self.admin1}"


@dataclass(frozen=True, slots=True)
class RegionArea:
    """A first-level area (oblast, Russian region) with a centroid derived from its places."""

    key: str
    name: str
    country: str
    lat: float
    lon: float


@dataclass(frozen=True, slots=True)
class AdminArea:
    """A raion or hromada, placed at the median point of its settlements GeoNames knows."""

    name: str
    kind: str  # raion | hromada
    country: str
    admin1: str
    raion: str | None
    lat: float
    lon: float

    @property
    def region_key(self) -> str:
        """``CC-admin1`` of the oblast it lies in."""
        return f"{self.country}-{self.admin1}"


@dataclass(frozen=True, slots=True)
class District:
    """A city district from KATOTTG: known to exist, but without a point of its own."""

    name: str
    city: Place


@dataclass(frozen=True, slots=True)
class Candidate:
    """A place a name may refer to, with the tier of the match and its similarity (100 = same key)."""

    place: Place
    tier: int
    score: float


def distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance on the mean Earth sphere; within 0.5% of the ellipsoid, ample for matching."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6371.0088 * math.asin(min(1.0, math.sqrt(a)))


_CYR_ENDINGS = (
    "ові", "еві", "єві", "ому", "ами", "ями", "ою", "ею", "єю", "ах", "ях", "ом", "ем", "єм", "ів", "ой", "ей",
    "і", "у", "ю", "а", "я", "е", "є", "и", "ы", "о",
)
_CYR_FINAL_VOWELS = "аяеєиіоуыюї"
_ABLAUT = {"о": "і", "е": "і", "є": "ї"}
_NEUTER_SOFT = ("ья", "ью", "ьем", "ьи")
#: Endings taken off each word of a multi-word name, longest first: adjectives (Кривому, Великій, Білої,
#: Кривой, Великую) and nouns (Рогу, Новосілці, Церкві).
_WORD_ENDINGS = (
    "ому", "ого", "ими", "ыми", "ій", "ої", "ою", "ую", "юю", "им", "ий", "ый", "ым", "ая", "ой", "ей", "ом", "ем",
    "а", "я", "у", "ю", "е", "є", "і", "и", "ы", "о",
)
#: Ukrainian consonant alternation before -і (Новосілці ← Новосілка, Розі ← Ріг, Вільсі ← Вільха): undone.
_ALTERNATION = {"ц": "к", "з": "г", "с": "х"}
_POSSESSIVE = {"ов": "ів", "ев": "ів", "єв": "їв"}


_WORD_ENDINGS_BY_LENGTH = tuple((n, frozenset(e for e in _WORD_ENDINGS if len(e) == n)) for n in (3, 2, 1))


def _word_stem(word: str) -> str:
    """A word of a multi-word Cyrillic name without its case or gender ending (at least three letters kept)."""
    for n, endings in _WORD_ENDINGS_BY_LENGTH:
        if len(word) - n >= 3 and word[-n:] in endings:
            return word[:-n]
    return word


def _phrase_stems(phrase: str) -> list[str]:
    """Keys of an inflected multi-word Cyrillic name: each word's lemmas stemmed, alternations undone."""
    options: list[set[str]] = []
    for word in phrase.split():
        stems = {_word_stem(lemma) for lemma in cyrillic_lemmas(word)} | {_word_stem(fold_cyrillic(word))}
        if len(word) == 3 and word[-1] in _CYR_FINAL_VOWELS:  # a two-letter word declined: Яру, Яра ← Яр
            stems.add(fold_cyrillic(word[:-1]))
        stems |= {s[:-1] + _ALTERNATION[s[-1]] for s in stems if s and s[-1] in _ALTERNATION}
        # a possessive adjective in -ів/-їв declines on -ов-/-єв- (Часового Яру ← Часів Яр, Ясинового ← Ясинів)
        stems |= {s[:-2] + _POSSESSIVE[s[-2:]] for s in stems if s[-2:] in _POSSESSIVE and len(s) >= 5}
        options.append(stems)
    keys = [""]
    for stems in options:
        keys = [f"{k} {s}".strip() for k in keys for s in stems]
        if len(keys) > 64:
            return []
    return keys


def cyrillic_lemmas(token: str) -> list[str]:
    """Candidate dictionary forms of an inflected Cyrillic place name: Харкові → Харків, Києві → Київ.

    Case endings are stripped, the Ukrainian о/е → і alternation of the last syllable and the consonant
    alternation before -і (Авдіївці ← Авдіївка) undone; the
    gazetteer also indexes names without their final vowel (Одеса → одес), so Одесі and Сумах match.
    """
    word = fold_cyrillic(token)
    out = [word]
    for ending in _CYR_ENDINGS:
        if word.endswith(ending) and len(word) - len(ending) >= 3:
            stem = word[: -len(ending)]
            out.append(stem)
            if ending == "і" and stem[-1] in _ALTERNATION:  # в Авдіївці, Шостці, Ахтирці ← -ка: к→ц undone
                out.append(stem[:-1] + _ALTERNATION[stem[-1]])
            for i in range(len(stem) - 1, max(len(stem) - 4, 0), -1):
                if stem[i] in _ABLAUT:
                    out.append(stem[:i] + _ABLAUT[stem[i]] + stem[i + 1 :])
                    break
    for ending in _NEUTER_SOFT:  # Russian neuters in -ье: Запорожья, Запорожью, Запорожьем → Запорожье
        if word.endswith(ending) and len(word) - len(ending) >= 3:
            out.append(word[: -len(ending)] + "ье")
    return list(dict.fromkeys(out))


def _index_cyrillic(forms: list[str], index: int, single: dict[str, list[int]], multi: dict[str, list[int]]) -> None:
    """Index Cyrillic names for inflected look-up: as written, without a final vowel, multi-word by stems."""
    for form in forms:
        single.setdefault(form, []).append(index)
        if len(form) >= 4 and form[-1] in _CYR_FINAL_VOWELS:
            single.setdefault(form[:-1], []).append(index)
        if " " in form:
            multi.setdefault(" ".join(_word_stem(w) for w in form.split()), []).append(index)


class Gazetteer:
    """Indexes over the gazetteer file; immutable after construction (but for the anagram index, filled on first
    use: a race only builds a bucket twice) and safe to share between threads."""

    def __init__(self, document: dict[str, object]) -> None:
        if document.get("format") != FORMAT_VERSION:
            raise GazetteerError(
                f"gazetteer file format {document.get('format')!r}, this code reads {FORMAT_VERSION}: rebuild it with `python -m truceline.text.build`"
            )
        if document.get("key_version") != KEY_VERSION:
            raise GazetteerError(
                f"gazetteer keys were built with normaliser version {document.get('key_version')!r}, this code uses "
                f"{KEY_VERSION}: rebuild it with `python -m truceline.text.build`"
            )
        rows = document["places"]
        assert isinstance(rows, list)
        self.places: list[Place] = []
        self._keys: dict[str, list[tuple[int, int]]] = {}
        self._cyrillic: dict[str, list[int]] = {}
        self._cyrillic_multi: dict[str, list[int]] = {}
        self._spellings: dict[str, list[int]] = {}
        self._former: dict[str, set[int]] = {}
        self._derived: dict[str, list[int]] = {}
        self._derived_multi: dict[str, list[int]] = {}
        for i, row in enumerate(rows):
            (name, lat, lon, country, admin1, population, precision, raion, hromada, uk_name, keys, alt_keys, cyr, only,
             spellings, former, derived_keys, derived_cyr) = row
            if derived_keys:  # "|"-joined: one string per place parses faster than a list of them
                for key in derived_keys.split("|"):
                    self._keys.setdefault(key, []).append((i, TIER_DERIVED))
                _index_cyrillic(derived_cyr.split("|"), i, self._derived, self._derived_multi)
            for form in former:
                self._former.setdefault(form, set()).add(i)
            for spelling in spellings:
                self._spellings.setdefault(spelling, []).append(i)
            self.places.append(Place(i, name, lat, lon, country, admin1, population, precision, raion, hromada, uk_name, bool(only)))
            for key in keys:
                self._keys.setdefault(key, []).append((i, TIER_OFFICIAL))
            for key in alt_keys:
                self._keys.setdefault(key, []).append((i, TIER_ALTERNATE))
            _index_cyrillic(cyr, i, self._cyrillic, self._cyrillic_multi)
        self.regions: dict[str, RegionArea] = {}
        self._region_stems: dict[str, str] = {}
        self._region_adjectives: dict[str, str] = {}
        self._region_cyrillic: dict[str, str] = {}
        self._region_nouns: dict[str, str] = {}
        regions = document["regions"]
        assert isinstance(regions, list)
        for r in regions:
            self.regions[r["key"]] = RegionArea(r["key"], r["name"], r["country"], r["lat"], r["lon"])
            for key in r["stems"]:
                self._region_stems.setdefault(key, r["key"])
            for key in r["adjectives"]:
                self._region_adjectives.setdefault(key, r["key"])
            for form in r["cyr"]:
                self._region_cyrillic.setdefault(form, r["key"])
                if len(form) >= 5 and form[-1] in _CYR_FINAL_VOWELS:
                    self._region_cyrillic.setdefault(form[:-1], r["key"])
            for form in r["nouns"]:
                self._region_nouns.setdefault(form, r["key"])
                if form[-1] in _CYR_FINAL_VOWELS:
                    self._region_nouns.setdefault(form[:-1], r["key"])
        self._districts: dict[str, list[District]] = {}
        districts = document["districts"]
        assert isinstance(districts, list)
        for d in districts:
            district = District(d["name"], self.places[d["city"]])
            uk = fold_cyrillic(d["uk"])
            for form in {uk, uk[:-2] if uk.endswith(("ий", "ій")) else uk}:
                self._districts.setdefault(form, []).append(district)
            for key in skeleton_variants(d["name"].rsplit(" ", 1)[0]):
                self._districts.setdefault(key, []).append(district)
        self._areas: dict[str, list[AdminArea]] = {}
        areas = document["areas"]
        assert isinstance(areas, list)
        for a in areas:
            area = AdminArea(a["name"], a["kind"], "UA", a["admin1"], a["raion"], a["lat"], a["lon"])
            forms = {fold_cyrillic(a["uk"]), *a["keys"]}
            for form in forms:
                self._areas.setdefault(form, []).append(area)
        self._city_districts: dict[int, list[tuple[str, District]]] = {}
        for districts_of_name in self._districts.values():
            for district in districts_of_name:
                stem = district.name.rsplit(" ", 1)[0]
                entry = (skeleton_variants(stem)[0], district)
                bucket = self._city_districts.setdefault(district.city.index, [])
                if entry not in bucket:
                    bucket.append(entry)
        foreign = document["foreign"]
        assert isinstance(foreign, list)
        self.foreign: frozenset[str] = frozenset(foreign)
        buckets: dict[str, list[str]] = {}
        for key, entries in self._keys.items():
            if any(self.places[i].country in FUZZY_COUNTRIES for i, _ in entries):
                buckets.setdefault(key[0], []).append(key)
        self._buckets = buckets
        self._anagrams: dict[str, dict[str, list[str]]] = {}

    # -- places ---------------------------------------------------------------------------------------

    def exact(self, name: str) -> list[Candidate]:
        """Places one of whose names has the same skeleton as ``name`` (any spelling system)."""
        found: dict[int, int] = {}
        for key in skeleton_variants(name):
            for index, tier in self._keys.get(key, ()):
                if tier < found.get(index, 99):
                    found[index] = tier
        return [Candidate(self.places[i], tier, 100.0) for i, tier in found.items()]

    def renamed(self, name: str) -> set[int]:
        """Indices of towns that officially bore ``name`` before a renaming (Krasnoarmeysk: Pokrovsk)."""
        found: set[int] = set()
        for key in (*skeleton_variants(name), fold_cyrillic(name), *cyrillic_lemmas(name)):
            found |= self._former.get(key, set())
        return found

    def spelled(self, name: str) -> list[Place]:
        """Places with a recorded Latin name spelled exactly like ``name`` (case, marks and apostrophes aside)."""
        return [self.places[i] for i in dict.fromkeys(self._spellings.get(canonical(name), ()))]

    def fuzzy(self, name: str, cutoff: float, limit: int = 12) -> list[Candidate]:
        """Places with a name whose skeleton is at least ``cutoff`` similar (rapidfuzz ratio, 0–100)."""
        found: dict[int, float] = {}
        for key in skeleton_variants(name):
            if len(key) < 4:
                continue
            choices = self._buckets.get(key[0], [])
            for match, score, _ in process.extract(key, choices, scorer=fuzz.ratio, score_cutoff=cutoff, limit=limit):
                for index, _tier in self._keys[match]:
                    if self.places[index].country in FUZZY_COUNTRIES and score > found.get(index, 0.0):
                        found[index] = score
        return [Candidate(self.places[i], TIER_FUZZY, s) for i, s in found.items()]

    def transposed(self, name: str, cutoff: float) -> list[Candidate]:
        """Places with a name of the same letters in another order (Enerdohar for Enerhodar), as near spellings.

        Swapped letters are a typing slip that the similarity ratio punishes like two wrong letters (78 for
        Enerdohar), below any safe cutoff; the same letters, first letter kept, are a far stronger sign, but
        skeletons are short and merge letters, so a ratio of at least ``cutoff`` is still asked for.
        """
        found: dict[int, float] = {}
        for key in skeleton_variants(name):
            if not key:
                continue
            anagrams = self._anagrams.get(key[0])
            if anagrams is None:  # built once per first letter, on first use: most runs never need it
                anagrams = {}
                for other in self._buckets.get(key[0], ()):
                    anagrams.setdefault("".join(sorted(other)), []).append(other)
                self._anagrams[key[0]] = anagrams
            for match in anagrams.get("".join(sorted(key)), ()):
                if match != key:
                    score = fuzz.ratio(key, match)
                    if score < cutoff:
                        continue
                    for index, _tier in self._keys[match]:
                        if self.places[index].country in FUZZY_COUNTRIES and score > found.get(index, 0.0):
                            found[index] = score
        return [Candidate(self.places[i], TIER_FUZZY, s) for i, s in found.items()]

    def inflected(self, token: str) -> list[Candidate]:
        """Places named by an inflected Cyrillic word or name (в Харкові, у Києві, у Сумах, у Кривому Розі)."""
        # One tier for all: in running text the nominative is no likelier than a case form (у Харкові),
        # so a village spelled like the inflected city must not outrank the city.
        # A Russian spelling derived by rule (Клещеевку) is a less trusted match than a recorded name.
        if " " in token.strip():  # у Кривому Розі, у Великій Новосілці, в Кривом Роге
            stems = _phrase_stems(fold_cyrillic(token))
            found = {i for key in stems for i in self._cyrillic_multi.get(key, ())}
            derived = {i for key in stems for i in self._derived_multi.get(key, ())} - found
        else:
            lemmas = cyrillic_lemmas(token)
            found = {i for lemma in lemmas for i in self._cyrillic.get(lemma, ())}
            # A Russian neuter (Запорожье) is often only a GeoNames alternate name, not in the Cyrillic index.
            found |= {c.place.index for lemma in lemmas[1:] if lemma.endswith("ье") for c in self.exact(lemma)}
            derived = {i for lemma in lemmas for i in self._derived.get(lemma, ())} - found
        return [Candidate(self.places[i], TIER_ALTERNATE, 100.0) for i in sorted(found)] + [
            Candidate(self.places[i], TIER_DERIVED, 100.0) for i in sorted(derived)
        ]

    # -- regions and districts -------------------------------------------------------------------------

    def region_by_stem(self, name: str) -> RegionArea | None:
        """The region a stem names in "X Oblast", "X region", "Gebiet X": Kharkiv, Saporischschja, Lugansk."""
        for key in skeleton_variants(name):
            region = self._region_stems.get(key) or self._region_adjectives.get(key)
            if region:
                return self.regions[region]
        return None

    def region_by_adjective(self, name: str) -> RegionArea | None:
        """The region an adjective names on its own or before "oblast": Kharkivska, Херсонська, Харьковская."""
        for key in skeleton_variants(name):
            region = self._region_adjectives.get(key)
            if region:
                return self.regions[region]
        return None

    def region_by_cyrillic(self, token: str, nouns_only: bool = False) -> RegionArea | None:
        """A region named by an inflected Cyrillic word: Харківщині, Херсонської (області), Сумщину."""
        table = self._region_nouns if nouns_only else self._region_cyrillic
        for lemma in cyrillic_lemmas(token):
            key = table.get(lemma)
            if key is None and not nouns_only:
                # adjectives: Херсонської/Херсонській/Херсонской → херсонськ + а
                for ending in ("ої", "ій", "ою", "ую", "у", "ой", "ей"):
                    if lemma.endswith(ending):
                        key = table.get(lemma[: -len(ending)] + "а") or table.get(lemma[: -len(ending)] + "ая")
                        break
            if key:
                return self.regions[key]
        return None

    def districts(self, name: str) -> list[District]:
        """City districts with this name (Салтівський, Saltivskyi, Korabelnyi); they have no point."""
        out = list(self._districts.get(fold_cyrillic(name), []))
        for key in skeleton_variants(name):
            out.extend(self._districts.get(key, []))
        return list(dict.fromkeys(out))

    def city_districts(self, city: Place, name: str, cutoff: float) -> list[District]:
        """Districts of one city whose name is near ``name`` (Dnipro → Dniprovskyi, Korabel → Korabelnyi)."""
        out = []
        for query in skeleton_variants(name):
            for stem, district in self._city_districts.get(city.index, []):
                if stem.startswith(query) or fuzz.ratio(query, stem) >= cutoff:
                    out.append(district)
        return list(dict.fromkeys(out))

    def admin_areas(self, name: str) -> list[AdminArea]:
        """Raions and hromadas with this name: Kupianskyi raion, Myrivska hromada, Мирівська."""
        out = list(self._areas.get(fold_cyrillic(name), []))
        for key in skeleton_variants(name):
            out.extend(self._areas.get(key, []))
        return list(dict.fromkeys(out))

    def is_foreign_name(self, name: str) -> bool:
        """True for a country or US state name (Ukraine, Russia, Alaska): recognised, never a place here."""
        return any(key in self.foreign for key in skeleton_variants(name))


def _default_path() -> Path:
    return Path(__file__).resolve().parents[1] / "data" / "gazetteer" / GAZETTEER_FILE


def load_gazetteer(path: Path | None = None) -> Gazetteer:
    """Read and index a gazetteer file (the bundled one by default)."""
    target = path or _default_path()
    try:
        raw = target.read_bytes()
    except FileNotFoundError:
        raise GazetteerError(f"gazetteer file {target} is missing: build it with `python -m truceline.text.build`") from None
    try:
        document = orjson.loads(gzip.decompress(raw))
    except (OSError, orjson.JSONDecodeError) as exc:
        raise GazetteerError(f"gazetteer file {target} is not a gzip-compressed JSON document: {exc}") from exc
    return Gazetteer(document)


@lru_cache(maxsize=1)
def default_gazetteer() -> Gazetteer:
    """The bundled gazetteer, loaded once per process."""
    return load_gazetteer()
