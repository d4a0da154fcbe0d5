"""Spelling keys: one name in Ukrainian, Russian, English and German systems gets one key; others do not."""

from __future__ import annotations

import pytest

from truceline.text.normalise import canonical, fold_cyrillic, skeleton, skeleton_variants, transliterate_ru, transliterate_uk


@pytest.mark.parametrize(
    "spellings",
    [
        ("Kupiansk", "Kupyansk", "Kup'yans'k", "Куп'янськ", "Куп’янськ", "Купянск"),
        ("Kharkiv", "Charkiw", "Харків", "Kharkiw"),
        ("Zaporizhzhia", "Zaporizhzhya", "Saporischschja", "Запоріжжя"),
        ("Huliaipole", "Hulyaypole", "Гуляйполе"),
        ("Kherson", "Cherson", "Херсон"),
        ("Avdiivka", "Avdiyivka", "Авдіївка"),
        ("Kryvyi Rih", "Kryvyy Rih", "Кривий Ріг"),
        ("Izium", "Izyum", "Ізюм"),
    ],
)
def test_spellings_of_one_name_share_a_skeleton(spellings: tuple[str, ...]) -> None:
    assert len({skeleton(s) for s in spellings}) == 1


@pytest.mark.parametrize("a,b", [("Kharkiv", "Kherson"), ("Sumy", "Suma"), ("Lviv", "Kyiv"), ("Donetsk", "Luhansk")])
def test_different_names_keep_different_skeletons(a: str, b: str) -> None:
    assert skeleton(a) != skeleton(b)


def test_german_z_is_also_read_as_ts() -> None:
    assert skeleton("Donetsk") in skeleton_variants("Donezk")


@pytest.mark.parametrize(
    "cyrillic,latin",
    [("Куп'янськ", "Kupiansk"), ("Гуляйполе", "Huliaipole"), ("Згурівка", "Zghurivka"), ("Ярмолинці", "Yarmolyntsi"), ("Їжакевич", "Yizhakevych"), ("Київ", "Kyiv")],
)
def test_ukrainian_national_transliteration(cyrillic: str, latin: str) -> None:
    assert transliterate_uk(cyrillic) == latin


def test_russian_transliteration_gives_the_russian_based_form() -> None:
    assert transliterate_ru("Купянск") == "Kupyansk"
    assert transliterate_ru("Елец") == "Yelets"


def test_canonical_drops_marks_apostrophes_and_punctuation() -> None:
    assert canonical("  Kup’yans’k-Vuzlovyi ") == "kupyansk vuzlovyi"
    assert fold_cyrillic("Куп’янськ") == "куп'янськ".replace("'", "")
