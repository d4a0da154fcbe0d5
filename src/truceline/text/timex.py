"""Time expressions in German, English, Ukrainian and Russian, resolved against the publication time.

"In der Nacht zum Mittwoch", "am Dienstagabend", "yesterday", "вчора", "минулої ночі", "накануне",
"2. April 2023": each becomes a UTC interval. Days and nights are those of Ukraine (Europe/Kyiv), where
the events happen, whatever the publisher's zone; a night is 18:00–06:00 local. Nothing is resolved into
the future: a report cannot describe what happened after it was published, so intervals are clipped at
the publication time.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

LOCAL = ZoneInfo("Europe/Kyiv")
NIGHT_START = time(18, 0)
NIGHT_END = time(6, 0)
#: When a report gives no time at all, the event is taken to be within this long before publication.
DEFAULT_LOOKBACK = timedelta(hours=24)

_PARTS: dict[str, tuple[time, time | None]] = {
    # part of day → (start, end) local; end None means midnight at the end of the day
    "morning": (time(6), time(12)), "afternoon": (time(12), time(18)), "evening": (time(18), None),
    "night": (time(18), None), "noon": (time(11), time(14)),
}

_WEEKDAYS: dict[str, int] = {}
for _i, _names in enumerate(
    (
        "monday montag понеділ понедельник",
        "tuesday dienstag вівтор вторник",
        "wednesday mittwoch серед сред",
        "thursday donnerstag четвер четверг",
        "friday freitag п'ятниц пятниц п’ятниц пʼятниц",
        "saturday samstag sonnabend субот суббот",
        "sunday sonntag неділ воскресень",
    )
):
    for _name in _names.split():
        _WEEKDAYS[_name] = _i

_MONTHS: dict[str, int] = {}
for _i, _names in enumerate(
    (
        "january jan januar jänner січня січень января январь",
        "february feb februar лютого лютий февраля февраль",
        "march mar märz maerz березня березень марта март",
        "april apr квітня квітень апреля апрель",
        "may mai травня травень мая май",
        "june jun juni червня червень июня июнь",
        "july jul juli липня липень июля июль",
        "august aug серпня серпень августа август",
        "september sep sept вересня вересень сентября сентябрь",
        "october oct oktober okt жовтня жовтень октября октябрь",
        "november nov листопада листопад ноября ноябрь",
        "december dec dezember dez грудня грудень декабря декабрь",
    ),
    start=1,
):
    for _name in _names.split():
        _MONTHS[_name] = _i

_WD = r"(?P<wd>montag|dienstag|mittwoch|donnerstag|freitag|samstag|sonnabend|sonntag|monday|tuesday|wednesday|thursday|friday|saturday|sunday|понеділ\w*|вівтор\w*|середа|середу|середи|четвер\w*|п['’ʼ]?ятниц\w*|субот\w*|неділ\w*|понедельник\w*|вторник\w*|среда|среду|среды|четверг\w*|пятниц\w*|суббот\w*|воскресень\w*)"
_MONTH = r"(?P<month>" + "|".join(sorted((re.escape(m) for m in _MONTHS), key=len, reverse=True)) + r")\.?"

_PART_WORDS = {
    "morgen": "morning", "vormittag": "morning", "früh": "morning", "morning": "morning", "вранці": "morning", "зранку": "morning", "утром": "morning",
    "mittag": "noon", "nachmittag": "afternoon", "afternoon": "afternoon", "вдень": "afternoon", "днем": "afternoon", "днём": "afternoon",
    "abend": "evening", "evening": "evening", "ввечері": "evening", "вечером": "evening",
    "nacht": "night", "night": "night", "вночі": "night", "ночью": "night",
}
_PART = r"(?P<part>morgen|vormittag|früh|mittag|nachmittag|abend|nacht|morning|afternoon|evening|night|вранці|зранку|вдень|ввечері|вночі|утром|днем|днём|вечером|ночью)"

_RELATIVE_DAYS = {
    "vorgestern": -2, "the day before yesterday": -2, "позавчора": -2, "позавчера": -2,
    "gestern": -1, "yesterday": -1, "вчора": -1, "учора": -1, "вчера": -1, "накануне": -1, "am vortag": -1, "vom vortag": -1,
    "напередодні": -1, "the previous day": -1,
    "heute": 0, "today": 0, "сьогодні": 0, "сегодня": 0,
}
_REL = r"(?P<rel>the day before yesterday|the previous day|vorgestern|gestern|yesterday|позавчора|позавчера|вчора|учора|вчера|накануне|напередодні|am vortag|vom vortag|heute|today|сьогодні|сегодня)"

_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (kind, re.compile(pattern, re.IGNORECASE))  # digits are [0-9]: \d would also match "٣", which int() reads as 3
    for kind, pattern in (
        ("iso", r"\b(?P<y>20[0-9][0-9])-(?P<m>[0-9][0-9])-(?P<d>[0-9][0-9])\b"),
        ("dmy", r"\b(?P<d>[0-9]{1,2})\.(?P<m>[0-9]{1,2})\.(?P<y>20[0-9][0-9])?(?![0-9])"),
        ("day_month", r"\b(?P<d>[0-9]{1,2})\.?\s+" + _MONTH + r"(?:\s+(?P<y>20[0-9][0-9]))?"),
        ("month_day", r"\b" + _MONTH + r"\s+(?P<d>[0-9]{1,2})(?:st|nd|rd|th)?,?(?:\s+(?P<y>20[0-9][0-9]))?\b"),
        ("night_to", r"\b(?:in der |in die )?nacht (?:zum|zu|auf den|auf) " + _WD),
        ("night_to", r"\b(?:overnight|the night|night) (?:into|to|before|leading into) " + _WD),
        ("night_to", r"(?:\bв |\bу |\bво )?ніч (?:на|проти) " + _WD),
        ("night_to", r"(?:\bв |\bво )?ночь (?:на|с \w+ на) " + _WD),
        ("wd_part", r"\b" + _WD + r"(?P<part>morgen|vormittag|mittag|nachmittag|abend|nacht)\b"),
        ("wd_part", r"\b" + _WD + r"\s+" + _PART + r"\b"),
        ("part_wd", r"\b" + _PART + r"\s+(?:в|у|во|am|on)\s+" + _WD),
        ("rel_part", r"\b" + _REL + r"\s+" + _PART + r"\b"),
        ("last_night", r"\b(?:last night|overnight|tonight|in der nacht|über nacht|letzte nacht|in der vergangenen nacht|vergangene nacht|heute nacht|минулої ночі|цієї ночі|вночі|уночі|прошлой ночью|этой ночью|минувшей ночью|ночью)\b"),
        ("last_day", r"\b(?:in the past 24 hours|over the past day|in den vergangenen 24 stunden|in den letzten 24 stunden|минулої доби|за минулу добу|за добу|за минувшие сутки|за сутки)\b"),
        ("rel", r"\b" + _REL + r"\b"),
        ("weekday", r"\b(?:am |on |last |this |у |в |во )?" + _WD + r"\b"),
        ("last_week", r"\b(?:last week|vergangene woche|vergangenen woche|letzte woche|letzten woche|минулого тижня|на минулому тижні|на прошлой неделе)\b"),
    )
)


@dataclass(frozen=True)
class TimeInterval:
    """A UTC interval and the words it was read from (``start`` ≤ ``end``)."""

    start: datetime
    end: datetime
    expression: str
    kind: str
    span: tuple[int, int] | None = None

    @property
    def midpoint(self) -> datetime:
        """Centre of the interval: the time to give an observation."""
        return self.start + (self.end - self.start) / 2

    @property
    def half_width_s(self) -> float:
        """Half the width in seconds: the time uncertainty to give an observation."""
        return (self.end - self.start).total_seconds() / 2

    def as_dict(self) -> dict[str, str]:
        """JSON form."""
        return {
            "start": self.start.isoformat().replace("+00:00", "Z"),
            "end": self.end.isoformat().replace("+00:00", "Z"),
            "expression": self.expression,
            "kind": self.kind,
        }


def _local(day: date, at: time) -> datetime:
    return datetime.combine(day, at, tzinfo=LOCAL).astimezone(UTC)


def _day(day: date) -> tuple[datetime, datetime]:
    return _local(day, time(0)), _local(day + timedelta(days=1), time(0))


def _night_before(day: date) -> tuple[datetime, datetime]:
    return _local(day - timedelta(days=1), NIGHT_START), _local(day, NIGHT_END)


def _part(day: date, part: str) -> tuple[datetime, datetime]:
    if part == "night":
        return _local(day, NIGHT_START), _local(day + timedelta(days=1), NIGHT_END)
    start, end = _PARTS[part]
    return _local(day, start), (_local(day, end) if end else _local(day + timedelta(days=1), time(0)))


def _weekday(name: str) -> int | None:
    low = name.casefold().replace("’", "'").replace("ʼ", "'")
    for stem, index in _WEEKDAYS.items():
        if low.startswith(stem):
            return index
    return None


def _last_weekday(today: date, weekday: int) -> date:
    """The most recent date with this weekday, today included."""
    return today - timedelta(days=(today.weekday() - weekday) % 7)


def _explicit(match: re.Match[str], today: date) -> date | None:
    groups = match.groupdict()
    month = groups.get("m")
    month_number = int(month) if month else _MONTHS.get((groups.get("month") or "").casefold().rstrip("."))
    if month_number is None:
        return None
    year = int(groups["y"]) if groups.get("y") else today.year
    try:
        found = date(year, month_number, int(groups["d"]))
    except ValueError:
        return None
    if not groups.get("y") and found > today:
        found = found.replace(year=year - 1)
    return found


def _interval(kind: str, match: re.Match[str], today: date, published: datetime) -> tuple[datetime, datetime] | None:
    groups = match.groupdict()
    if kind in ("iso", "dmy", "day_month", "month_day"):
        day = _explicit(match, today)
        return _day(day) if day else None
    if kind == "night_to":
        weekday = _weekday(groups["wd"])
        return _night_before(_last_weekday(today, weekday)) if weekday is not None else None
    if kind in ("wd_part", "part_wd"):
        weekday = _weekday(groups["wd"])
        part = _PART_WORDS.get(groups["part"].casefold())
        if weekday is None or part is None:
            return None
        return _part(_last_weekday(today, weekday), part)
    if kind == "rel_part":
        offset = _RELATIVE_DAYS[groups["rel"].casefold()]
        part = _PART_WORDS.get(groups["part"].casefold())
        if part is None:
            return None
        if offset == 0 and part == "night":
            return _night_before(today)  # "heute Nacht", "сьогодні вночі" in a report: the night just past
        return _part(today + timedelta(days=offset), part)
    if kind == "last_night":
        return _night_before(today)
    if kind == "last_day":
        return published - timedelta(hours=24), published
    if kind == "rel":
        return _day(today + timedelta(days=_RELATIVE_DAYS[groups["rel"].casefold()]))
    if kind == "weekday":
        weekday = _weekday(groups["wd"])
        return _day(_last_weekday(today, weekday)) if weekday is not None else None
    if kind == "last_week":
        return _local(today - timedelta(days=today.weekday() + 7), time(0)), _local(today - timedelta(days=today.weekday()), time(0))
    raise ValueError(f"unknown time expression kind {kind!r}")  # pragma: no cover - the table above is closed


def find_times(text: str, published_at: datetime) -> list[TimeInterval]:
    """Every time expression of ``text`` resolved against ``published_at`` (aware), in text order.

    Where expressions overlap the longest, most specific one wins ("in der Nacht zum Mittwoch" over
    "Mittwoch"). Intervals are clipped at the publication time; one lying wholly after it is dropped.
    """
    if published_at.tzinfo is None or published_at.utcoffset() is None:
        raise ValueError("published_at must carry a UTC offset")
    published = published_at.astimezone(UTC)
    today = published.astimezone(LOCAL).date()
    taken: list[tuple[int, int]] = []
    found: list[TimeInterval] = []
    for kind, pattern in _PATTERNS:
        for match in pattern.finditer(text):
            start, end = match.span()
            if any(start < e and s < end for s, e in taken):
                continue
            interval = _interval(kind, match, today, published)
            if interval is None:
                continue
            begin, finish = interval
            if begin >= published:
                continue
            taken.append((start, end))
            found.append(TimeInterval(begin, min(finish, published), match.group(0).strip(), kind, (start, end)))
    found.sort(key=lambda t: t.span or (0, 0))
    return found


def default_interval(published_at: datetime) -> TimeInterval:
    """The interval for a report that says nothing about time: the day before publication."""
    published = published_at.astimezone(UTC)
    return TimeInterval(published - DEFAULT_LOOKBACK, published, "", "publication")
