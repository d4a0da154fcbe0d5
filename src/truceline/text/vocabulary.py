"""The words around place names: which cue a place, qualify it, join alternatives, or never are places.

German, English, Ukrainian and Russian report vocabulary, and the tokeniser every reader uses. Data only,
plus two tests on token spans (a punctuation gap; a text that reads like a location field).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from truceline.text.normalise import skeleton

REGION_WORDS = frozenset(
    ["oblast", "oblasts", "region", "regions", "province", "obl", "oblasti", "gebiet", "gebiets", "gebietes", "krai", "kray", "область", "області", "областю", "обл", "области", "областей", "областях", "регион", "региона", "регіон", "регіону", "край", "краю"]
)
REGION_BEFORE = frozenset(["region", "gebiet", "oblast", "provinz"])  # German order: "Gebiet Charkiw"
DISTRICT_WORDS = frozenset(
    ["district", "districts", "raion", "rayon", "microdistrict", "neighbourhood", "neighborhood", "quarter", "hromada", "community", "municipality", "territorial", "stadtteil", "bezirk", "район", "району", "районі", "района", "районе", "р-н", "р-ну", "р-ні", "мікрорайон", "микрорайон", "громада", "громади", "громаді"]
)
CITY_PART_WORDS = frozenset(["district", "districts", "microdistrict", "neighbourhood", "neighborhood", "quarter", "stadtteil", "район", "районі", "района", "районе", "мікрорайон", "микрорайон"])
SETTLEMENT_WORDS = frozenset(
    ["village", "villages", "city", "town", "settlement", "selo", "dorf", "stadt", "ort", "село", "селі", "села", "селище", "місто", "місті", "город", "поселок", "посёлок", "деревня", "смт"]
)
NEAR_WORDS = frozenset(["near", "outskirts", "nahe", "bei", "біля", "поблизу", "під", "около", "возле"])
CUE_WORDS = NEAR_WORDS | SETTLEMENT_WORDS | frozenset(["in", "im", "at", "village", "of", "с", "сел", "м", "смт", "в", "у", "на"])
QUALIFIER = re.compile(r"^\s*[,(]\s*$")
#: Between a place and the raion or hromada named after it in running text: "Martynovka in Sudzha raion",
#: "Oleksandrivka, Skadovsk raion", "Тёткино Глушковского района", "у Покровському районі" (the unit's words are its own).
UNIT_AFTER = re.compile(r"^\s*(?:[,(]|(?:in|in the|of|of the|im|у|в|во))?\s*$", re.IGNORECASE)
VENUE_CUES = frozenset(["in", "im", "nach", "aus", "at", "to", "from", "into", "в", "у", "до", "из", "з", "із", "во"])
FIELD_NOISE = frozenset(
    ["the", "of", "in", "de", "und", "and", "or", "and/or", "to", "a", "an", "also", "mentioned", "possibly", "suspected", "based", "on", "another", "post", "one", "these", "three", "middle", "center", "centre", "central", "side", "end", "from", "road", "between", "area", "areas"]
)
#: A facility named after a town ("Kherson airport", "Azot factory"): it need not lie in that town, and another
#: settlement the field names is where it is ("Kherson airport (Chornobaivka)").
FACILITY_WORDS = frozenset(["airport", "airfield", "airbase", "aerodrome", "flughafen", "flugplatz", "аеропорт", "аэропорт", "аеродром", "аэродром"])
ALTERNATIVES = re.compile(r"\s(?:or|oder|або|чи|или|либо)\s", re.IGNORECASE)
LOCATION_SPLIT = re.compile(r"[,;()\[\]\n:/]|\s(?:and|or|und|oder|і|и|та|to|near|in the|of)\s", re.IGNORECASE)
WORD = re.compile(r"[^\W\d_](?:[^\W\d_]|['’ʼ`\-](?=[^\W\d_]))*", re.UNICODE)
#: Report nouns (German capitalises every noun): a capitalised word containing one of these before a place
#: name is what happened there, not a first name or part of the name ("Beschuss Saporischschja",
#: "Drohnenangriff Charkiw", "Обстріл Харкова").
REPORT_NOUN = re.compile(
    r"beschuss|angriff|attacke|rakete|drohne|bombe|explosion|einschlag|luftalarm|artillerie|gefecht|offensive|"
    r"shelling|strike|attack|missile|drone|blast|explosion|bombing|"
    r"обстріл|удар|атак|вибух|ракет|дрон|бомб|обстрел|взрыв",
    re.IGNORECASE,
)
#: Longest inflection ending of a report noun that is still the noun itself (атакою, ударів, attacks).
_REPORT_ENDING = 3


def is_report_word(low: str) -> bool:
    """A report noun itself, inflected (Атака, Атаки, Удару, Attacks), not a name built on one (Дронівка).

    Such a word says what happened, so it is not a place mention unless a settlement word cues it
    ("село Атаки"): Атака at the start of a sentence is not the village Ataky.
    """
    found = REPORT_NOUN.match(low)
    return found is not None and len(low) - found.end() <= _REPORT_ENDING


#: A neuter adjective (Новое, Мирное, Нове, Мирне) and the neuter noun after it (наступление, населення, небо),
#: not a verb or a participle (обстреляли, потрапило, обстреляно, сталося).
_NEUTER_ADJECTIVE = re.compile(r"[а-яіїєґё]{2,}(?:ое|ее|е)")
_NEUTER_NOUN = re.compile(r"[а-яіїєґё]+(?:[^л]о|[^н]е|ие|ье|ня|тя|мя|ее)")
_VERB_LIKE = re.compile(r".*(?:ло|лось|ось|ся|сь|но|то|ли|ть|ет|ит)")


def adjective_before_noun(low: str, following: str) -> bool:
    """A sentence-initial neuter adjective followed by its noun: "Новое наступление", "Мирне населення".

    Many villages bear such adjectives as names (Нове, Мирне, Широке); at the start of a sentence, followed
    directly by a lower-case neuter noun rather than a verb, the word qualifies that noun and is no place.
    """
    return (_NEUTER_ADJECTIVE.fullmatch(low) is not None and _NEUTER_NOUN.fullmatch(following) is not None
            and _VERB_LIKE.fullmatch(following) is None)


SENTENCE_END = re.compile(r"[.!?…:;]\s|\n")

#: Former names of regional centres that live on as the names of their oblasts: said alone, they mean the oblast.
REGION_ONLY = frozenset(
    skeleton(n) for n in ("Dnipropetrovsk", "Dnepropetrovsk", "Dnipropetrowsk", "Дніпропетровськ", "Днепропетровск",
                          "Kirovohrad", "Kirovograd", "Kirowohrad", "Кіровоград", "Кировоград")
)

COUNTRY_CODES = {
    "ukraine": "UA", "україна": "UA", "украина": "UA", "russia": "RU", "russland": "RU", "росія": "RU", "россия": "RU",
    "russian federation": "RU",
}

# Capitalised words that are never places here although a gazetteer name may share their spelling:
# sentence-initial function words and frequent words of the four languages.
STOP = frozenset(
    ["the", "a", "an", "in", "on", "at", "of", "and", "or", "but", "for", "from", "to", "by", "with", "after", "before", "during", "since", "this", "that", "these", "those", "it", "its", "he", "she", "they", "we", "you", "i", "his", "her", "their", "our", "der", "die", "das", "den", "dem", "des", "ein", "eine", "einer", "eines", "einem", "und", "oder", "aber", "in", "im", "am", "an", "auf", "aus", "bei", "mit", "nach", "von", "vor", "zu", "zum", "zur", "über", "unter", "für", "gegen", "durch", "um", "ist", "sind", "war", "wie", "was", "wer", "wo", "als", "auch", "nur", "noch", "schon", "so", "es", "er", "sie", "wir", "ihr", "man", "nicht", "kein", "keine", "dies", "diese", "dieser", "dieses", "jetzt", "dann", "doch", "в", "у", "на", "з", "із", "за", "до", "від", "по", "при", "для", "про", "та", "і", "й", "а", "але", "що", "як", "це", "цей", "ця", "ці", "він", "вона", "вони", "ми", "ви", "в", "во", "на", "с", "со", "за", "до", "от", "по", "при", "для", "про", "и", "а", "но", "что", "как", "это", "этот", "эта", "эти", "он", "она", "они", "мы", "вы", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday", "montag", "dienstag", "mittwoch", "donnerstag", "freitag", "samstag", "sonntag", "january", "february", "march", "april", "may", "june", "july", "august", "september", "october", "november", "december", "januar", "februar", "märz", "juni", "juli", "oktober", "dezember", "nato", "eu", "un", "uno", "osze", "osce", "usa", "us", "uk"]
)


def gap(text: str, span: Sequence[tuple[str, int, int]], allow_space: bool = False) -> bool:
    """True if punctuation separates consecutive tokens (a comma ends a multi-word name)."""
    for (_, _, end), (_, start, _) in zip(span, span[1:], strict=False):
        between = text[end:start]
        if between.strip() or (not allow_space and "\n" in between) or len(between) > 2:
            return True
    return False


def looks_like_field(text: str) -> bool:
    stripped = text.strip()
    if len(stripped) > 120 or "\n\n" in stripped:
        return False
    words = WORD.findall(stripped)
    if not words or len(words) > 12:
        return False
    vocabulary = REGION_WORDS | DISTRICT_WORDS | SETTLEMENT_WORDS | NEAR_WORDS | FIELD_NOISE
    return all(w[0].isupper() or w.casefold() in vocabulary for w in words)


