"""Time expressions resolved against the publication time, as UTC intervals in Ukrainian local days."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from truceline.text.timex import default_interval, find_times

# Wednesday 20 August 2025, 11:00 in Kyiv.
PUBLISHED = datetime(2025, 8, 20, 8, 0, tzinfo=UTC)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.mark.parametrize(
    "text,start,end",
    [
        ("in der Nacht zum Mittwoch", utc(2025, 8, 19, 15), utc(2025, 8, 20, 3)),  # 18:00–06:00 Kyiv (UTC+3)
        ("am Dienstagabend", utc(2025, 8, 19, 15), utc(2025, 8, 19, 21)),
        ("yesterday", utc(2025, 8, 18, 21), utc(2025, 8, 19, 21)),
        ("вчора", utc(2025, 8, 18, 21), utc(2025, 8, 19, 21)),
        ("вчера вечером", utc(2025, 8, 19, 15), utc(2025, 8, 19, 21)),
        ("минулої ночі", utc(2025, 8, 19, 15), utc(2025, 8, 20, 3)),
        ("накануне", utc(2025, 8, 18, 21), utc(2025, 8, 19, 21)),
        ("у ніч на середу", utc(2025, 8, 19, 15), utc(2025, 8, 20, 3)),
        ("в ночь на вторник", utc(2025, 8, 18, 15), utc(2025, 8, 19, 3)),
        ("on 2 April 2023", utc(2023, 4, 1, 21), utc(2023, 4, 2, 21)),
        ("am 24.02.2022", utc(2022, 2, 23, 22), utc(2022, 2, 24, 22)),
        ("24 лютого", utc(2025, 2, 23, 22), utc(2025, 2, 24, 22)),
        ("in the past 24 hours", utc(2025, 8, 19, 8), PUBLISHED),
    ],
)
def test_expressions(text: str, start: datetime, end: datetime) -> None:
    found = find_times(text, PUBLISHED)
    assert [(t.start, t.end) for t in found] == [(start, end)]


def test_today_is_clipped_at_publication() -> None:
    (today,) = find_times("heute", PUBLISHED)
    assert today.end == PUBLISHED


def test_a_date_later_in_the_year_without_year_is_last_year() -> None:
    (day,) = find_times("am 3. Dezember", PUBLISHED)
    assert day.start.year == 2024


def test_the_longest_expression_wins() -> None:
    found = find_times("Bei Angriffen in der Nacht zum Mittwoch", PUBLISHED)
    assert len(found) == 1 and found[0].kind == "night_to"


def test_words_that_look_like_weekdays_are_not() -> None:
    assert find_times("серед них троє дітей", PUBLISHED) == []


def test_no_expression_means_the_day_before_publication() -> None:
    interval = default_interval(PUBLISHED)
    assert interval.end == PUBLISHED and interval.half_width_s == 12 * 3600


def test_naive_publication_time_is_refused() -> None:
    with pytest.raises(ValueError, match="UTC offset"):
        find_times("gestern", datetime(2025, 8, 20))
