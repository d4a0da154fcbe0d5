"""Running text: which capitalised runs are place mentions, and their candidates (candidate generation).

Most capitalised words in running text are not places, so only exact names count (Cyrillic ones also
inflected), an alternate name only as spelled, a place abroad only as a big city after a locative word, a
codifier-only village only after a cue, and a name glued to another capitalised word is a person.
"""

from __future__ import annotations

from dataclasses import replace

from truceline.text.choose import Chooser, Context
from truceline.text.gazetteer import FUZZY_COUNTRIES, TIER_DERIVED, TIER_OFFICIAL, Candidate
from truceline.text.normalise import fold_cyrillic, is_cyrillic
from truceline.text.regions import GROUP_NAMES
from truceline.text.resolved import ResolvedPlace
from truceline.text.units import Unit, unit_kind
from truceline.text.vocabulary import (
    CUE_WORDS,
    DISTRICT_WORDS,
    NEAR_WORDS,
    QUALIFIER,
    REGION_BEFORE,
    REGION_WORDS,
    REPORT_NOUN,
    SENTENCE_END,
    SETTLEMENT_WORDS,
    STOP,
    UNIT_AFTER,
    VENUE_CUES,
    WORD,
    adjective_before_noun,
    gap,
    is_report_word,
)


class TextScanner(Chooser):
    """Finds place mentions in running text: :meth:`mentions`."""

    def mentions(self, text: str) -> list[ResolvedPlace]:
        """Every place mention of running text, in text order, each with its character span."""
        return sorted(self._scan(text), key=lambda p: p.start if p.start is not None else 1 << 30)

    def _scan(self, text: str) -> list[ResolvedPlace]:
        tokens = [(m.group(0), m.start(), m.end()) for m in WORD.finditer(text)]
        sentence_starts = {0} | {m.end() for m in SENTENCE_END.finditer(text)}
        out: list[tuple[int, int, str, list[Candidate], bool]] = []
        regions: list[ResolvedPlace] = []
        region_keys: set[str] = set()
        i = 0
        while i < len(tokens):
            word, start, end = tokens[i]
            consumed, region_hit = self._region_at(text, tokens, i)
            if region_hit is not None:
                regions.append(region_hit)
                if region_hit.admin1:
                    region_keys |= {k for k, a in self.gazetteer.regions.items() if a.name in region_hit.admin1.split(" and ")}
                i += consumed
                continue
            if not word[0].isupper() or fold_cyrillic(word) in STOP or self._report_word(tokens, i):
                i += 1
                continue
            if start in sentence_starts and i + 1 < len(tokens) and tokens[i + 1][0][0].islower() and not gap(text, tokens[i : i + 2]) \
                    and adjective_before_noun(fold_cyrillic(word), tokens[i + 1][0]):
                i += 1  # "Новое наступление": the adjective of the noun after it, not the village Нове
                continue
            matched = False
            for length in (3, 2, 1):
                if i + length > len(tokens):
                    continue
                span = tokens[i : i + length]
                if any(not w[0].isupper() for w, _, _ in span[1:]) or gap(text, span):
                    continue
                phrase = " ".join(w for w, _, _ in span)
                found, spelled_as = self._text_candidates(phrase)
                if found:
                    before = tokens[i - 1] if i > 0 else None
                    after = tokens[i + length] if i + length < len(tokens) else None
                    then = tokens[i + length + 1] if i + length + 1 < len(tokens) else None
                    if self._person_like(text, span, before, after, sentence_starts, then):
                        break
                    joined = before is not None and not gap(text, [before, span[0]], allow_space=True)
                    cue = joined and before is not None and fold_cyrillic(before[0]) in CUE_WORDS
                    venue_cue = joined and before is not None and fold_cyrillic(before[0]) in VENUE_CUES
                    found = self._text_filter(spelled_as, found, venue_cue)
                    if not cue:
                        found = [c for c in found if not c.place.codifier_only]
                    if found:
                        out.append((span[0][1], span[-1][2], phrase, found, cue))
                        i += length
                        matched = True
                        break
                if self.gazetteer.is_foreign_name(phrase):  # a country or US state: recognised, not a place here
                    i += length
                    matched = True
                    break
            if not matched:
                i += 1
        # "Huliaipole, Zaporizhzhia Oblast" / "Kupiansk (Kharkiv region)": the region qualifies the place
        # before it — it decides among namesakes and is not a place of its own.
        qualified: dict[int, set[str]] = {}
        kept_regions = []
        for region in regions:
            owner = next((n for n, entry in enumerate(out) if region.start is not None and QUALIFIER.match(text[entry[1] : region.start])), None)
            if owner is not None and region.region_key:
                qualified[owner] = {region.region_key}
            else:
                kept_regions.append(region)
        units = self._units_after(text, tokens, [(start, end) for start, end, *_ in out])
        context = Context(regions=region_keys)
        first = [
            self.choose(phrase, found, Context(qualified.get(n, set()), n in qualified, units=[units[n]] if n in units else []))
            for n, (_, _, phrase, found, _) in enumerate(out)
        ]
        context.anchors = [(p.lat or 0.0, p.lon or 0.0) for p in first if p.resolved and p.in_theatre and p.candidates == 1]
        resolved = []
        for n, ((start, end, phrase, found, _cue), initial) in enumerate(zip(out, first, strict=True)):
            own = replace(context, units=[units[n]]) if n in units else context
            place = initial if n in qualified or (initial.resolved and initial.candidates == 1) else self.choose(phrase, found, own)
            resolved.append(replace(place, start=start, end=end))
        return resolved + kept_regions

    def _units_after(self, text: str, tokens: list[tuple[str, int, int]], spans: list[tuple[int, int]]) -> dict[int, Unit]:
        """The raion or hromada named right after a mention ("Martynovka in Sudzha raion", "село Привілля
        Сєвєродонецького району", "Oleksandrivka, Skadovsk raion"), by the mention's index: it constrains the
        mention's namesakes as in a location field (:mod:`truceline.text.units`). A city's district of the name
        ("Shevchenkivskyi district of Kharkiv") is no unit."""
        out: dict[int, Unit] = {}
        for j in range(1, len(tokens)):
            kind = unit_kind(tokens[j][0]) if fold_cyrillic(tokens[j][0]) in DISTRICT_WORDS else None
            name, start = tokens[j - 1][0], tokens[j - 1][1]
            if kind is None or not name[0].isupper() or gap(text, tokens[j - 1 : j + 1], allow_space=True) or self.gazetteer.districts(name):
                continue
            owner = max((n for n, (_, end) in enumerate(spans) if end <= start and UNIT_AFTER.match(text[end:start])), default=None)
            if owner is None or owner in out:
                continue
            unit = self.units.named(f"{name} {tokens[j][0]}", name, kind, set(), lambda _form: [])
            if unit is not None:
                out[owner] = self.units.nearest_to_fighting(unit, self._fighting_km)
        return out

    @staticmethod
    def _report_word(tokens: list[tuple[str, int, int]], i: int) -> bool:
        """An inflected report noun (Атака, Attacks) not cued as a settlement ("село Атаки") is not a place."""
        if not is_report_word(fold_cyrillic(tokens[i][0])):
            return False
        before = fold_cyrillic(tokens[i - 1][0]) if i > 0 else ""
        return before not in SETTLEMENT_WORDS and before not in NEAR_WORDS

    def _text_candidates(self, phrase: str) -> tuple[list[Candidate], str]:
        if is_cyrillic(phrase):
            exact = self.gazetteer.exact(phrase)
            inflected = self.gazetteer.inflected(phrase)
            merged = {c.place.index: c for c in inflected + exact}
            return list(merged.values()), phrase
        found = self.gazetteer.exact(phrase)
        if not found and not is_cyrillic(phrase) and phrase.endswith("s") and len(phrase) > 4:
            return self.gazetteer.exact(phrase[:-1]), phrase[:-1]  # German genitive: Kiews, Charkiws
        return found, phrase

    def _text_filter(self, phrase: str, found: list[Candidate], venue_cue: bool) -> list[Candidate]:
        """Running text is full of words that share a skeleton with some place (Tagen, Länder, Wenn).

        Near Ukraine an official name, or a Russian form derived from it, matches by skeleton, an alternate only as
        spelled. A place further away counts only as spelled, only if it is a city (≥ :attr:`Thresholds.venue_population`), and
        only after a locative word ("in Washington", "nach Paris", "в Москві" aside: Moscow is near).
        """
        spelled = None if is_cyrillic(phrase) else {p.index for p in self.gazetteer.spelled(phrase)}
        out = []
        for c in found:
            exact_spelling = spelled is None or c.place.index in spelled
            if c.place.country in FUZZY_COUNTRIES:
                if c.tier in (TIER_OFFICIAL, TIER_DERIVED) or exact_spelling:
                    out.append(c)
            elif exact_spelling and venue_cue and c.place.population >= self.thresholds.venue_population:
                out.append(c)
        return out

    def _person_like(self, text: str, span: list[tuple[str, int, int]], before: tuple[str, int, int] | None,
                     after: tuple[str, int, int] | None, sentence_starts: set[int], then: tuple[str, int, int] | None = None) -> bool:
        """A name glued to another capitalised word is a person or an organisation: Wladimir Putin, Fox News.

        Not when that word qualifies a district or region word after it: "Тёткино Глушковского района".
        """
        if after is not None and after[0][0].isupper() and not gap(text, [span[-1], after], allow_space=True):
            low = fold_cyrillic(after[0])
            district = then is not None and fold_cyrillic(then[0]) in DISTRICT_WORDS | REGION_WORDS
            if low not in REGION_WORDS and low not in STOP and not district and not self.gazetteer.exact(after[0]):
                return True
        if before is not None and before[0][0].isupper() and before[1] not in sentence_starts and not gap(text, [before, span[0]], allow_space=True):
            low = fold_cyrillic(before[0])
            if low not in STOP and low not in CUE_WORDS and not REPORT_NOUN.search(low) and not self.gazetteer.exact(before[0]):
                return True
        return False

    def _region_at(self, text: str, tokens: list[tuple[str, int, int]], i: int) -> tuple[int, ResolvedPlace | None]:
        """A region mention starting at token ``i``: "Kharkiv region", "Gebiet Charkiw", "Харківщина", "Херсонської області"."""
        word, start, end = tokens[i]
        nxt = tokens[i + 1] if i + 1 < len(tokens) else None
        low = fold_cyrillic(word)
        if word[0].isupper() and nxt is not None and fold_cyrillic(nxt[0]) in REGION_WORDS and not gap(text, [tokens[i], nxt], allow_space=True):
            region, group = self._region(word)
            if region is None and group is None and is_cyrillic(word):
                region = self.gazetteer.region_by_cyrillic(word)
            if region:
                return 2, self._region_place(f"{word} {nxt[0]}", region, start, nxt[2])
            if group:
                return 2, replace(self._group_place(f"{word} {nxt[0]}", group), start=start, end=nxt[2])
        if low in REGION_BEFORE and nxt is not None and nxt[0][0].isupper():
            region, group = self._region(nxt[0])
            if region:
                return 2, self._region_place(f"{word} {nxt[0]}", region, start, nxt[2])
        if word[0].isupper():
            group = GROUP_NAMES.get(word)
            if group:
                return 1, replace(self._group_place(word, group), start=start, end=end)
            if is_cyrillic(word):
                region = self.gazetteer.region_by_cyrillic(word, nouns_only=True)
                if region and not self.gazetteer.inflected(word):
                    return 1, self._region_place(word, region, start, end)
        return 1, None


