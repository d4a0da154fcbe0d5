"""What a sentence reports: the kind of attack, counts of killed and injured, and who blames whom.

Deliberately lexical and sentence-bound: a monitoring mission must be able to read why a sentence became
an observation, so every decision here points at the words that caused it. Attributions of an attack to a
party are recorded as *claims* with the claimant the text names ("according to Ukrainian authorities",
"sagten Insider zu Bloomberg"), never as facts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from truceline.domain.strict import is_ascii_digits

# --- text layout ------------------------------------------------------------------------------------------

#: Site furniture: lines that start like this are not part of the report.
_BOILERPLATE_LINE = re.compile(
    r"^\s*(?:lesen sie auch|lesen sie mehr|mehr zum thema|gerade lesen andere|für sie ausgewählt|bildquelle|quellen?:|"
    r"foto:|fotos:|video:|anzeige|werbung|haftungsausschluss|read also|read more|see also|also read|related:|"
    r"advertisement|photo:|image:|source:|sources:|disclaimer|subscribe|share this|читайте також|читайте також:|"
    r"дивіться також|джерело:|фото:|реклама|читайте также|смотрите также|источник:|реклама|was müssen sie wissen)",
    re.IGNORECASE,
)
#: A line that is only one of these words (a date stamp, a section name) carries no report.
_STAMP_LINE = re.compile(r"^\s*(?:yesterday|today|gestern|heute|nachrichten|news|вчора|сьогодні|вчера|сегодня|новини|новости)\s*$", re.IGNORECASE)
_SENTENCE = re.compile(r"[^.!?…\n]+(?:[.!?…]+(?=\s|$)|\n|$)")
_ABBREVIATION_END = re.compile(r"\b(?:z\.B|u\.a|bzw|ca|Nr|St|Dr|Mr|Mrs|Ms|vs|etc|ім|р|вул|ул|г|с|м|смт|obl|reg)\.$", re.IGNORECASE)


@dataclass(frozen=True)
class Sentence:
    """A sentence with its character span in the original text and its paragraph number."""

    text: str
    start: int
    end: int
    paragraph: int


def sentences(text: str) -> tuple[list[Sentence], list[str]]:
    """Sentences of the report body and the boilerplate lines that were left out.

    A disclaimer paragraph ("Haftungsausschluss: …", "Disclaimer: …") is dropped whole; "Lesen Sie auch",
    picture credits, source lines and bare date stamps are dropped line by line; a line repeating the one
    before (a headline printed twice) is dropped.
    """
    out: list[Sentence] = []
    dropped: list[str] = []
    paragraph = 0
    previous_line = None
    offset = 0
    for line in text.splitlines(keepends=True):
        start = offset
        offset += len(line)
        stripped = line.strip()
        if not stripped:
            paragraph += 1
            continue
        if _BOILERPLATE_LINE.match(stripped) or _STAMP_LINE.match(stripped) or stripped == previous_line:
            dropped.append(stripped)
            previous_line = stripped
            continue
        previous_line = stripped
        pending: tuple[int, int] | None = None
        for match in _SENTENCE.finditer(line):
            s, e = match.start() + start, match.end() + start
            if pending is not None:
                s = pending[0]
            if _ABBREVIATION_END.search(text[s:e].rstrip()) and e < start + len(line.rstrip()):
                pending = (s, e)
                continue
            pending = None
            body = text[s:e].strip()
            if body:
                lead = len(text[s:e]) - len(text[s:e].lstrip())
                out.append(Sentence(body, s + lead, s + lead + len(body), paragraph))
        if pending is not None:
            body = text[pending[0] : pending[1]].strip()
            if body:
                out.append(Sentence(body, pending[0], pending[0] + len(body), paragraph))
    return out, dropped


# --- event types ------------------------------------------------------------------------------------------

_EVENT_WORDS: dict[str, tuple[str, ...]] = {
    "missile": ("rakete", "raketen", "marschflugkörper", "missile", "ракет", "iskander", "kinzhal", "kalibr", "ballist"),
    "drone": ("drohne", "drohnen", "drone", "uav$", "shahed", "geran", "дрон", "безпілот", "бпла", "шахед", "беспилот", "герань"),
    "air-strike": ("luftangriff", "luftschlag", "gleitbombe", "fliegerbombe", "bombe", "air strike", "airstrike", "air raid", "glide bomb",
                   "bombing", "авіаудар", "авіабомб", "каб$", "каби$", "авиаудар", "авиабомб"),
    "shelling": ("beschuss", "beschossen", "artillerie", "granate", "mörser", "shelling", "shelled", "artillery", "mortar", "mlrs$",
                 "обстріл", "артилер", "мінометн", "рсзв$", "обстрел", "артиллер", "миномет", "рсзо$"),
    "ground-attack": ("bodenoffensive", "sturmangriff", "vorstoß", "ground attack", "assault", "offensive", "штурм", "наступ", "наступлен"),
    "explosion": ("explosion", "detonation", "explodiert", "einschlag", "blast", "exploded", "вибух", "взрыв"),
    "attack": ("angriff", "angriffe", "attacke", "angegriffen", "attack", "strike", "struck", "hit$", "hits$", "атак",
               "удар", "уразил", "уражен", "поражен", "getroffen"),
}
_KIND_BY_TYPE = {
    "missile": "explosion", "drone": "explosion", "air-strike": "explosion", "shelling": "explosion", "explosion": "explosion",
    "attack": "explosion", "ground-attack": "other",
}
#: Words that make a sentence about attacks hypothetical or about their absence: no event.
_NOT_AN_EVENT = re.compile(
    r"\b(?:keine weiteren|kein(?:e|en)? angriff|falls|im falle|wenn es|abschrecken|abzuschrecken|verhindern|would|could|if there|"
    r"no further|prevent|deter|in the event of|якщо|у разі|запобіг|если|в случае|предотврат|future|zukunft|майбутн|будущ)",
    re.IGNORECASE,
)

# --- counts -----------------------------------------------------------------------------------------------

_NUMBER_WORDS = {
    "ein": 1, "eine": 1, "einer": 1, "einen": 1, "zwei": 2, "drei": 3, "vier": 4, "fünf": 5, "sechs": 6, "sieben": 7, "acht": 8,
    "neun": 9, "zehn": 10, "elf": 11, "zwölf": 12, "zwanzig": 20, "dreißig": 30, "dutzend": 12,
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10, "eleven": 11,
    "twelve": 12, "twenty": 20, "thirty": 30, "dozen": 12, "a dozen": 12,
    "один": 1, "одна": 1, "одного": 1, "одну": 1, "двоє": 2, "два": 2, "дві": 2, "троє": 3, "три": 3, "четверо": 4, "чотири": 4,
    "п'ятеро": 5, "п’ятеро": 5, "п'ять": 5, "п’ять": 5, "шестеро": 6, "шість": 6, "семеро": 7, "сім": 7, "восьмеро": 8, "вісім": 8,
    "дев'ять": 9, "десять": 10, "двое": 2, "трое": 3, "четыре": 4, "пятеро": 5, "пять": 5, "шесть": 6, "семь": 7, "восемь": 8,
    "девять": 9, "двух": 2, "трех": 3, "трёх": 3,
}
_KILLED = re.compile(r"^(?:getötet|tot|tote|toten|todesopfer|starben|gestorben|ums|killed|killing|dead|died|deaths|death|загин|загибл|вбит|вбив|убит|убив|смерт|погиб|скончал)", re.IGNORECASE)
_INJURED = re.compile(r"^(?:verletzt|verletzte|verletzten|verwundet|verwundete|injured|injuring|wounded|wounding|hurt|injuries|поранен|травмован|постраждал|ранен|пострадал|травм)", re.IGNORECASE)
_REGION_COUNT = re.compile(r"^(?:regionen|region|regions|oblasts|oblasten|gebiete|областей|області|областях|регіонів|регіони|регионов|региона|региона)$", re.IGNORECASE)
_SUBSET = re.compile(r"^(?:darunter|davon|including|among|серед|зокрема|том|числе|из|них)$", re.IGNORECASE)
_ARTICLE_NUMBERS = frozenset({"ein", "eine", "einer", "einen", "one", "один", "одна", "одного", "одну"})
_TOKEN = re.compile(r"\d+|[^\W\d_]+(?:['’][^\W\d_]+)?", re.UNICODE)

# --- claims -----------------------------------------------------------------------------------------------

_ACTORS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("RU", re.compile(r"\b(?:russisch\w*|russland\w*|russian|russia'?s?|kreml\w*|kremlin|росі\w*|російськ\w*|рф|россия|российск\w*|русск\w*)\b", re.IGNORECASE)),
    ("UA", re.compile(r"\b(?:ukrainische[nr]? (?:streitkräfte|armee|truppen|drohnen|soldaten)|ukrainian (?:forces|army|troops|drones|military)|зсу|всу|українськ\w* (?:військ\w*|сил\w*|армі\w*)|украинск\w* (?:войск\w*|сил\w*|арми\w*))\b", re.IGNORECASE)),
)
_CLAIMANT = re.compile(
    r"(?:nach (?:offiziellen )?angaben(?: (?:der|des|von))?|laut|according to|за даними|за словами|за інформацією|по данным|по словам|по информации)"
    r"\s+(?P<who>[^,.;:!?\"“”„«»()]{2,80})",
    re.IGNORECASE,
)
_CLAIMANT_AFTER = re.compile(
    r"(?:sagten?|sagte|erklärte[n]?|teilte[n]? mit|berichtete[n]?|said|told|reported|claimed|заяви\w*|повідоми\w*|сообщи\w*)\s+"
    r"(?P<who>(?:die |der |das |the )?[^,.;:!?\"“”„«»()]{2,60})",
    re.IGNORECASE,
)
_OFFICIAL_WORDS = re.compile(r"offizie|behörde|regierung|minister|authorit|official|governor|gouverneur|влад|міністер|губернатор|адміністрац|власт|министер", re.IGNORECASE)
_CLAIMANT_STOP = re.compile(
    r"\s+(?:\d+|wurden|wurde|sind|were|was|have|has|had|that|dass|die angriffe|the attacks|am|an|in|im|on|at|auf|bei|nach|"
    r"vor|mit|während|nachdem|als|after|before|during|when|on|у|в|на|під|після|во|при|после)\b.*$",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Claim:
    """A party said to be responsible, and who says so (``claimed_by`` None: the report itself)."""

    actor: str
    claimed_by: str | None
    words: str

    def as_dict(self) -> dict[str, Any]:
        """JSON form kept in the observation's attributes."""
        return {"actor": self.actor, "claimed_by": self.claimed_by or "the report", "words": self.words}


@dataclass(frozen=True)
class EventMention:
    """What one sentence reports; ``types`` as found, best first."""

    sentence: Sentence
    types: tuple[str, ...]
    kind: str
    killed: int | None = None
    injured: int | None = None
    regions_hit: int | None = None
    claims: tuple[Claim, ...] = ()
    according_to: str | None = None
    official: bool = False
    triggers: tuple[str, ...] = field(default_factory=tuple)


def _number(token: str) -> int | None:
    if is_ascii_digits(token):
        return int(token) if len(token.lstrip("0")) <= 5 else None  # below 100,000; int() of 4,301 digits raises
    return _NUMBER_WORDS.get(token.casefold().replace("’", "'"))


def _counts(text: str) -> tuple[int | None, int | None, int | None]:
    tokens = [m.group(0) for m in _TOKEN.finditer(text)]
    killed = injured = regions = None
    for i, token in enumerate(tokens):
        value = _number(token)
        if value is None:
            continue
        if i + 1 < len(tokens) and re.fullmatch(r"(?:uhr|jahre|jahren|years|year|km|kilometer|prozent|percent|%|року|рік|років|лет|года|год)", tokens[i + 1], re.IGNORECASE):
            continue
        after = tokens[i + 1 : i + 6]
        before = tokens[max(0, i - 2) : i]
        if any(_SUBSET.match(w) for w in tokens[max(0, i - 4) : i]):
            continue  # "darunter drei Kinder", "including two children": part of a count already made
        if token.casefold() in _ARTICLE_NUMBERS:
            before = []  # "eine Familie", "one of them": only a count when the casualty word follows
        if after and _REGION_COUNT.match(after[0]):
            regions = max(regions or 0, value)
            continue
        if len(after) > 1 and _REGION_COUNT.match(after[1]) and not _KILLED.match(after[0]) and not _INJURED.match(after[0]):
            regions = max(regions or 0, value)
            continue
        kind = None
        if before and (_KILLED.match(before[-1]) or _INJURED.match(before[-1])):
            kind = "killed" if _KILLED.match(before[-1]) else "injured"  # "killing two", "поранено 5"
        for word in after if kind is None else ():
            if _KILLED.match(word):
                kind = "killed"
                break
            if _INJURED.match(word):
                kind = "injured"
                break
        if kind is None:
            for word in reversed(before):
                if _KILLED.match(word):
                    kind = "killed"
                    break
                if _INJURED.match(word):
                    kind = "injured"
                    break
        if kind == "killed":
            killed = (killed or 0) + value
        elif kind == "injured":
            injured = (injured or 0) + value
    return killed, injured, regions


def _claimant(text: str) -> str | None:
    match = _CLAIMANT.search(text) or _CLAIMANT_AFTER.search(text)
    if match is None:
        return None
    who = _CLAIMANT_STOP.sub("", match.group("who")).strip()
    return who or None


def event_in(sentence: Sentence) -> EventMention | None:
    """The event a sentence reports, or None if it reports none (or only a hypothetical one)."""
    low = sentence.text.casefold()
    types: list[str] = []
    triggers: list[str] = []
    for event_type, words in _EVENT_WORDS.items():
        for word in words:
            pattern = r"(?<!\w)" + (re.escape(word[:-1]) + r"(?!\w)" if word.endswith("$") else re.escape(word))
            if re.search(pattern, low):
                types.append(event_type)
                triggers.append(word.rstrip("$"))
                break
    killed, injured, regions = _counts(sentence.text)
    if not types and not (killed or injured):
        return None
    if _NOT_AN_EVENT.search(sentence.text) and not (killed or injured):
        return None
    specific = [t for t in types if t != "attack"] or types or ["attack"]
    kind = "casualty-report" if (killed or injured) else _KIND_BY_TYPE[specific[0]]
    according_to = _claimant(sentence.text)
    claims = tuple(
        Claim(actor, according_to, m.group(0)) for actor, pattern in _ACTORS for m in [pattern.search(sentence.text)] if m is not None
    )
    official = bool(according_to and _OFFICIAL_WORDS.search(according_to)) or bool(_OFFICIAL_WORDS.search(sentence.text) and according_to is None and "offiziell" in low)
    return EventMention(sentence, tuple(specific), kind, killed, injured, regions, claims, according_to, official, tuple(triggers))


def detect_language(text: str) -> str:
    """``uk``, ``ru``, ``de`` or ``en``, by letters and frequent words: enough to label a report."""
    sample = text[:4000].casefold()
    if re.search(r"[іїєґ]", sample):
        return "uk"
    if re.search(r"[ыэъё]", sample) or re.search(r"[а-я]{3}", sample):
        return "ru"
    german = len(re.findall(r"\b(?:der|die|das|und|nicht|mit|wurde|wurden|ist)\b|[äöüß]", sample))
    english = len(re.findall(r"\b(?:the|and|was|were|with|of|is)\b", sample))
    return "de" if german > english else "en"
