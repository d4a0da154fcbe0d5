"""Spelling-independent keys for place names written in Ukrainian, Russian, English or German.

The same village reaches us as Куп'янськ, Купянск, Kupiansk (Ukrainian national system of 2010), Kupyansk
(BGN/PCGN, Russian-based), Kup'yans'k (scholarly) or Kupjansk (German). Rather than teaching the gazetteer
every system, every name — in the gazetteer and in the text — is reduced to the same two keys:

* :func:`canonical`: Cyrillic transliterated, diacritics, apostrophes and soft signs dropped, lower case,
  punctuation as single spaces. Lossless enough to tell places apart.
* :func:`skeleton`: a deliberately lossy key on top of it that merges the letters the systems disagree on
  (х/ч = kh/ch/h/tsch, ж/ш/щ/з/с = zh/sh/shch/sch/z/s, и/і/ї/й/ы = y/i/j/yi, г = h/g, в = v/w, doubled
  letters). Two spellings of one name have the same skeleton; fuzzy matching then only has to absorb
  real typos.

:func:`transliterate_uk` gives the official Latin form (national system, KMU resolution 55 of 2010) used
to display places known only by their Ukrainian name.
"""

from __future__ import annotations

import functools
import re
import unicodedata

#: Bump when :func:`canonical` or :func:`skeleton` change: keys stored in the gazetteer file carry it.
KEY_VERSION = 4

_APOSTROPHES = "'’ʼ`´‘ʹʻ\u02bc\u2032"
_DASHES = "-‐‑‒–—―"

# Combined Ukrainian + Russian table for matching keys (not for display): и and ы both → y, ё/э → e.
_CYR_KEY = {
    "а": "a", "б": "b", "в": "v", "г": "h", "ґ": "g", "д": "d", "е": "e", "є": "ie", "ё": "e", "ж": "zh",
    "з": "z", "и": "y", "і": "i", "ї": "i", "й": "i", "к": "k", "л": "l", "м": "m", "н": "n", "о": "o",
    "п": "p", "р": "r", "с": "s", "т": "t", "у": "u", "ф": "f", "х": "kh", "ц": "ts", "ч": "ch", "ш": "sh",
    "щ": "shch", "ъ": "", "ы": "y", "ь": "", "э": "e", "ю": "iu", "я": "ia", "ў": "u",
}
_KEY_TABLE = str.maketrans({**_CYR_KEY, **{c: "" for c in _APOSTROPHES}, **{c: " " for c in _DASHES}, "ß": "ss"})

# Ukrainian national transliteration (Cabinet of Ministers resolution 55, 27 January 2010).
_UK_NATIONAL = {
    "а": "a", "б": "b", "в": "v", "г": "h", "ґ": "g", "д": "d", "е": "e", "є": "ie", "ж": "zh", "з": "z",
    "и": "y", "і": "i", "ї": "i", "й": "i", "к": "k", "л": "l", "м": "m", "н": "n", "о": "o", "п": "p",
    "р": "r", "с": "s", "т": "t", "у": "u", "ф": "f", "х": "kh", "ц": "ts", "ч": "ch", "ш": "sh",
    "щ": "shch", "ь": "", "ю": "iu", "я": "ia",
}
# At the start of a word these four letters are written differently.
_UK_INITIAL = {"є": "ye", "ї": "yi", "й": "y", "ю": "yu", "я": "ya"}

# Russian BGN/PCGN (1947), simplified to ASCII: the form Russian-based English sources use.
_RU_BGN = {
    "а": "a", "б": "b", "в": "v", "г": "g", "д": "d", "е": "e", "ё": "e", "ж": "zh", "з": "z", "и": "i",
    "й": "y", "к": "k", "л": "l", "м": "m", "н": "n", "о": "o", "п": "p", "р": "r", "с": "s", "т": "t",
    "у": "u", "ф": "f", "х": "kh", "ц": "ts", "ч": "ch", "ш": "sh", "щ": "shch", "ъ": "", "ы": "y",
    "ь": "", "э": "e", "ю": "yu", "я": "ya",
}

_RU_YE_AFTER = frozenset("аеёиоуыэюяйьъ")

_CYRILLIC = re.compile(r"[\u0400-\u04ff]")
_NON_ALNUM = re.compile(r"[^0-9a-z]+")

# Skeleton rewrites, in order. Each merges letters that transliteration systems disagree on.
_SKELETON_RULES: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), replacement)
    for pattern, replacement in (
        (r"schtsch|shch|(?<!t)sch|szcz", "s"),  # щ, or German/Polish ш (not the sch of German tsch: ч)
        (r"tsch|cz|kh|ch|gh|x", "h"),  # ч and х written as ch/tsch/cz and kh/ch/x
        (r"ts|tz", "c"),  # ц
        (r"zh|sh|sz|z", "s"),  # ж ш з с
        (r"g", "h"),  # Russian г = Ukrainian г
        (r"w", "v"),
        (r"ph", "f"),
        (r"q", "k"),
        (r"[yj]", "i"),  # и і ї й ы and their Latin renderings
        (r"(.)\1+", r"\1"),  # doubled letters
    )
)


def _strip_marks(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    # Keep й and ї intact: their combining marks carry the letter identity in Cyrillic.
    out: list[str] = []
    for ch in decomposed:
        if unicodedata.combining(ch):
            if out and out[-1] in "иі" and ch == "\u0306":
                out[-1] = "й"
                continue
            if out and out[-1] == "і" and ch == "\u0308":
                out[-1] = "ї"
                continue
            if out and out[-1] == "е" and ch == "\u0308":
                out[-1] = "ё"
                continue
            continue
        out.append(ch)
    return "".join(out)


def canonical(text: str) -> str:
    """Lower-case ASCII form: Cyrillic transliterated, marks, apostrophes and soft signs dropped."""
    folded = _strip_marks(text.casefold()).translate(_KEY_TABLE)
    return _NON_ALNUM.sub(" ", folded).strip()


def skeleton(text: str) -> str:
    """Lossy key under which spellings of one name in any of the four languages' systems coincide."""
    key = canonical(text)
    for pattern, replacement in _SKELETON_RULES:
        key = pattern.sub(replacement, key)
    return key


#: :func:`skeleton`, remembered: the gazetteer's build asks for the skeletons of the same names about three times
#: (729,035 calls for 221,561 names; a third of its time) and clears it when done. Text analysis calls
#: :func:`skeleton` itself: a server's texts bring names without bound.
skeleton_remembered = functools.cache(skeleton)


def skeleton_variants(text: str) -> tuple[str, ...]:
    """The skeleton, plus readings of ambiguous German/English spellings the plain skeleton misses.

    German writes ц as z (Donezk, Luzk) where English z is з; the alternative reading is tried too.
    """
    base = skeleton(text)
    variants = [base]
    folded = canonical(text)
    if "z" in folded and "zh" not in folded:
        alternative = folded.replace("z", "ts")
        for pattern, replacement in _SKELETON_RULES:
            alternative = pattern.sub(replacement, alternative)
        if alternative != base:
            variants.append(alternative)
    return tuple(variants)


def is_cyrillic(text: str) -> bool:
    """True if the text contains Cyrillic letters."""
    return _CYRILLIC.search(text) is not None


def _transliterate(text: str, table: dict[str, str], initial: dict[str, str]) -> str:
    out: list[str] = []
    previous_letter = False
    lowered = unicodedata.normalize("NFC", text)
    for i, ch in enumerate(lowered):
        low = ch.lower()
        if low in table:
            if low == "г" and table is _UK_NATIONAL and i > 0 and lowered[i - 1].lower() == "з":
                latin = "gh"  # зг → zgh, to tell it from ж (zh)
            elif low in "её" and table is _RU_BGN and i > 0 and lowered[i - 1].lower() in _RU_YE_AFTER:
                latin = "ye"  # BGN/PCGN: е after a vowel or a sign is ye (Андреевка → Andreyevka)
            elif not previous_letter and low in initial:
                latin = initial[low]
            else:
                latin = table[low]
            if ch != low and latin:
                following_upper = i + 1 < len(lowered) and lowered[i + 1].isupper()
                latin = latin.upper() if following_upper else latin[0].upper() + latin[1:]
            out.append(latin)
            previous_letter = True
        elif ch in _APOSTROPHES:
            continue  # the Ukrainian apostrophe is not transliterated
        else:
            out.append(ch)
            previous_letter = ch.isalpha()
    return "".join(out)


def transliterate_uk(text: str) -> str:
    """Official Latin form of a Ukrainian name (national system of 2010): Куп'янськ → Kupiansk."""
    return _transliterate(text, _UK_NATIONAL, _UK_INITIAL)


def transliterate_ru(text: str) -> str:
    """Russian-based Latin form (BGN/PCGN, ASCII): Купянск → Kupyansk."""
    return _transliterate(text, _RU_BGN, {"е": "ye", "ё": "ye"})


# Ukrainian word endings and their Russian counterparts, longest first; the ending itself is one variant.
_RU_ENDINGS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("іївка", ("еевка",)),  # Кліщіївка → Клещеевка, Андріївка → Андреевка
    ("ївка", ("евка",)),  # Миколаївка → Николаевка
    ("івка", ("овка", "евка")),  # Новомихайлівка → Новомихайловка, Григорівка → Григорьевка
    ("івськ", ("овск",)),
    ("івське", ("овское",)),  # Іванівське → Ивановское
    ("ське", ("ское",)),  # Первомайське → Первомайское
    ("цьке", ("цкое",)),
    ("івці", ("овцы",)),  # Іванківці → Иванковцы
    ("ївці", ("евцы",)),
    ("іне", ("ино",)),  # Пушкіне → Пушкино
    ("ине", ("ино",)),  # Роботине → Роботино, Очеретине → Очеретино
    ("ове", ("ово", "овое")),  # Курахове → Курахово, Степове → Степовое
    ("еве", ("ево",)),
    ("іїв", ("еев",)),
    ("їв", ("ев",)),
    ("ів", ("ов", "ев")),  # Оріхів → Орехов, Часів (Яр) → Часов
    ("иця", ("ица",)),  # Станиця → Станица
    ("ська", ("ская",)),  # Станиця Луганська → Станица Луганская
    ("не", ("ное",)),  # Зелене → Зеленое
    ("ке", ("кое",)),
    ("е", ("ое",)),
)
# Adjectives before the noun of a multi-word name: Велика Новосілка → Великая Новоселка.
_RU_ADJECTIVE = (("а", "ая"), ("і", "ие"))
# Word starts that differ: the Ukrainian prothetic в (Вугледар → Угледар), Олекс- → Алекс-, вов → вол,
# чорн → черн (Чорноморське → Черноморское).
_RU_STARTS = (("ву", "у"), ("олекс", "алекс"), ("мико", "нико"), ("вов", "вол"), ("чорн", "черн"))
_RU_LETTERS = str.maketrans({"є": "е", "ї": "и", "ґ": "г"})


def _russian_word(word: str, last: bool) -> set[str]:
    splits = [(word, "")]
    for ending, russian in _RU_ENDINGS:
        if word.endswith(ending) and len(word) > len(ending) + 1:
            splits += [(word[: -len(ending)], ending), *((word[: -len(ending)], r) for r in russian)]
            break
    if not last:
        splits += [(word[: -len(a)], b) for a, b in _RU_ADJECTIVE if word.endswith(a) and len(word) > len(a) + 2]
    forms = set()
    for stem, ending in splits:
        # Ukrainian і in the stem is mostly Russian е (Кліщіївка, Сіверськ, Оріхів) or и (Нікополь: the
        # same key); word-initially it is и (Іванівське → Ивановское).
        forms |= {stem + ending, stem[:1] + stem[1:].replace("і", "е") + ending}
    for start, russian_start in _RU_STARTS:
        forms |= {russian_start + f[len(start) :] for f in list(forms) if f.startswith(start) and len(f) > len(start) + 2}
    return {f.translate(_RU_LETTERS) for f in forms}


def russian_forms(uk_name: str) -> tuple[str, ...]:
    """Russian spellings of a Ukrainian settlement name derived by rule, for names no source records in Russian.

    Russian reports name the villages of the front in Russian (Клещеевка for Кліщіївка, Новомихайловка for
    Новомихайлівка); the codifier has only the Ukrainian names. The rules are the regular correspondences
    (і → е/и, ї → и, є → е, -івка → -овка/-евка, -ів → -ов, -ине → -ино, -ове → -ово, -е → -ое, adjectives
    -а → -ая), so some forms are not the real Russian name: they are candidate spellings, matched with less
    trust than a recorded name. Returns lower-case forms other than the name itself.
    """
    words = fold_cyrillic(uk_name).split()
    if not words or not is_cyrillic(uk_name):
        return ()
    options = [sorted(_russian_word(w, n == len(words) - 1)) for n, w in enumerate(words)]
    forms = [""]
    for choices in options:
        forms = [f"{f} {c}".strip() for f in forms for c in choices]
        if len(forms) > 32:
            return ()
    original = " ".join(words)
    return tuple(f for f in dict.fromkeys(forms) if f != original)


def fold_cyrillic(text: str) -> str:
    """Lower case Cyrillic with apostrophes unified away: the key for inflected-form lookup."""
    folded = unicodedata.normalize("NFC", text.casefold())
    return "".join(ch for ch in folded if ch not in _APOSTROPHES).replace("ё", "е").strip()
