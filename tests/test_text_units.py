"""Raions and hromadas named in a location field constrain its places: never a far namesake (issue #16)."""

from __future__ import annotations

from truceline.text.gazetteer import distance_km
from truceline.text.geoparse import ResolvedPlace, geoparse, parse_location
from truceline.text.units import adjective_forms, unit_kind

# Points of the towns the tests name (GeoNames, rounded): what a right answer must lie near.
SUDZHA = (51.19, 35.27)
VOLNOVAKHA_RAION = (47.75, 37.04)


def first_point(places: list[ResolvedPlace]) -> ResolvedPlace:
    located = [p for p in places if p.lat is not None]
    assert located, f"no point in {places}"
    return located[0]


def km(place: ResolvedPlace, point: tuple[float, float]) -> float:
    assert place.lat is not None and place.lon is not None
    return distance_km(place.lat, place.lon, *point)


def test_a_russian_raion_rules_out_a_namesake_in_crimea() -> None:
    # Martynovka of Sudzha raion is not in the gazetteer; the only Martynovka it has is in Crimea, 600 km off.
    places = parse_location("Martynovka, Sudzha raion")
    village = places[0]
    assert village.mention == "Martynovka" and not village.resolved
    assert village.note == "no such place in Sudzha raion in the gazetteer"
    point = first_point(places)  # what is left is the raion, at its centre, as a district
    assert point.name == "Sudzha" and point.precision == 3 and point.kind == "district" and km(point, SUDZHA) < 1


def test_a_russian_raion_keeps_a_village_that_lies_in_it() -> None:
    place = first_point(parse_location("Gornal, Sudzha raion"))
    assert place.name.startswith("Gornal") and place.precision == 1 and place.country == "RU"
    assert km(place, SUDZHA) < 40


def test_a_russian_raion_in_russian_and_by_its_adjective() -> None:
    for text in ("Мартыновка, Судженский район", "Мартыновка, Судженского района", "Martynovka, Sudzhansky raion"):
        places = parse_location(text)
        assert not places[0].resolved and places[0].note is not None and places[0].note.startswith("no such place in "), text
        assert km(first_point(places), SUDZHA) < 1, text


def test_several_russian_towns_of_the_raion_name_the_one_near_the_fighting_is_meant() -> None:
    # Korenevo: a town of Kursk Oblast and a Korenyovo of Moscow Oblast; the raion of the fighting is Kursk's.
    place = first_point(parse_location("Novoivanovka, Korenevo raion"))
    assert place.name == "Korenevo" and place.admin1 is not None and "Kursk" in place.admin1


def test_a_ukrainian_raion_picks_its_village_over_a_bigger_namesake_127_km_away() -> None:
    # Yalta of Mariupol raion has 5,500 inhabitants; the Yalta of Volnovakha raion is a village the codifier has.
    place = first_point(parse_location("Yalta, Volnovakha raion"))
    assert place.name == "Yalta" and place.raion == "Volnovaskyi raion"
    assert place.basis == "the only place of this name in Volnovakha raion, named in the text"
    assert km(place, VOLNOVAKHA_RAION) < 60


def test_a_ukrainian_raion_by_its_genitive_adjective() -> None:
    places = parse_location("Ялта, Волноваського району")
    assert places[0].raion == "Volnovaskyi raion"
    raion = next(p for p in places if p.kind == "district")
    assert raion.name == "Volnovaskyi raion" and raion.precision == 3


def test_a_hromada_named_in_the_field_constrains_too() -> None:
    places = parse_location("Stepove (Velykomykhailivka hromada), Synelnykove raion")
    assert not places[0].resolved
    assert places[0].note == "no such place in Velykomykhailivka hromada, Synelnykove raion in the gazetteer"
    kept = first_point(parse_location("Novotoretske (Shakhove hromada), Pokrovsk raion"))
    assert kept.name == "Novotoretske" and kept.hromada == "Shakhivska hromada" and kept.raion == "Pokrovskyi raion"
    # The hromada is read within the raion named beside it: the Malynivka of Polohy raion, not Kharkiv Oblast's bigger one.
    village = first_point(parse_location("Liubymivka (Malynivka hromada), Polohy raion"))
    assert village.name == "Liubymivka" and village.hromada == "Malynivska hromada" and village.raion == "Polohivskyi raion"


def test_a_city_district_is_no_raion() -> None:
    # "district" also names a part of a city: the city named beside it answers, as before.
    place = first_point(parse_location("Kharkiv city, Shevchenkivs'kyi district"))
    assert place.name.startswith("Kharkiv") and place.precision == 2
    # A Russian town far from the fighting (Suvorov, Kaluga Oblast) is not taken for a city district's namesake.
    assert all(p.lat is None for p in parse_location("Suvorovs'kyi district"))


def test_unit_words_and_adjective_forms() -> None:
    assert unit_kind("Sudzha raion") == "raion" and unit_kind("Shakhove hromada") == "hromada" and unit_kind("Sudzha") is None
    assert unit_kind("Шахівської громади") == "hromada" and unit_kind("Судженского района") == "raion"
    assert "sudsanski" in adjective_forms("Судженского") and "pokrovski" in adjective_forms("Покровського")
    assert "sahivska" in adjective_forms("Шахівської") and adjective_forms("Sudzha") == []


def test_a_raion_named_after_a_city_is_an_area_not_a_part_of_the_village_beside_it() -> None:
    # Donetsk lies 10 km from Makiivka, but "Donetsk raion" is the raion, not a district of Makiivka.
    places = parse_location("Makiivka, Donetsk raion")
    assert first_point(places).name == "Makiyivka"
    raion = next(p for p in places if p.kind == "district")
    assert raion.name == "Donetsk" and raion.precision == 3


def test_a_city_of_the_raions_oblast_names_the_oblast_and_keeps_its_point() -> None:
    # "Borovsky raion (Kharkiv)": Borivskyi raion (centre Borova) lies in Kharkiv Oblast; Kharkiv, outside the
    # raion, says which oblast, so it stays placed; and the raion is Borova's, not a Borovskiy of Tyumen Oblast.
    places = parse_location("Borovsky raion (Kharkiv)")
    raion = next(p for p in places if p.mention.startswith("Borovsky"))
    assert raion.name == "Borova" and raion.country == "UA"
    city = next(p for p in places if p.mention == "Kharkiv")
    assert city.resolved and city.name == "Kharkiv" and city.precision == 1
    # A city of another oblast is still no part of the raion named beside it.
    yalta = next(p for p in parse_location("Yalta, Volnovakha raion") if p.mention == "Yalta")
    assert not yalta.resolved or km(yalta, VOLNOVAKHA_RAION) < 60


def test_a_village_linked_by_name_to_a_namesakes_unit_still_lies_in_the_raion_named() -> None:
    # GeoNames' Zalizne by Toretsk (Bakhmut raion) is linked by its name to the codifier's Zalizne of Snizhne
    # hromada (Horlivka raion); its point lies within Bakhmut raion's extent, so it is the village meant,
    # not the raion's centre 27 km off.
    toretsk = (48.40, 37.85)
    for text in ("Zalizne, Bakhmut raion", "Zalizne, Bakhmutskyi raion"):
        place = first_point(parse_location(text))
        assert place.name == "Zalizne" and place.precision == 1 and km(place, toretsk) < 10


def test_a_hromada_renamed_after_its_seat_is_the_hromada_its_village_lies_in() -> None:
    # Kamianska hromada of Polohy raion is Bilmanka hromada since its seat was renamed; the codifier knows the
    # village Bilmanka but no hromada of that name. The hromada named is Bilmanka's, and of the two Trudoves
    # of the raion, 63 km apart, the one in it is meant, not neither.
    bilmanka = (47.36, 36.52)
    places = parse_location("Trudove (Bilmanka hromada), Polohy district")
    village = places[0]
    assert village.name == "Trudove" and village.hromada == "Kamianska hromada" and km(village, bilmanka) < 10
    hromada = next(p for p in places if p.mention == "Bilmanka")
    assert hromada.resolved and hromada.name == "Kamianska hromada"


def test_a_village_just_across_the_oblast_border_of_the_raion_named_is_taken_when_none_lies_inside() -> None:
    # The Serebrianka forest lies in Siverskodonetsk raion (Luhansk Oblast); the village Serebrianka beside it is
    # in Donetsk Oblast, within the raion's extent. With no Serebrianka inside the raion it is the place meant,
    # not the raion's centre 25 km off.
    forest = (48.96, 38.18)
    place = first_point(parse_location("Serebrianka forest, Siverskodonetskyi raion"))
    assert place.name == "Serebrianka" and place.precision == 1 and km(place, forest) < 10


def test_a_village_at_its_hromadas_median_takes_its_own_point_linked_to_a_namesake() -> None:
    # The codifier's Pryvillia of Lysychansk hromada (Siverskodonetsk raion) has no point but its hromada's
    # median; GeoNames' Pryvillia by Lysychansk is linked by name to the Pryvillia of Bilovodsk hromada, 90 km
    # off, yet lies in the raion named and nearer Lysychansk hromada's median than Bilovodsk hromada's.
    place = first_point(parse_location("Pryvillia, Siverskodonetsk raion"))
    assert place.name == "Pryvillia" and place.precision == 1 and place.hromada == "Lysychanska hromada"
    assert km(place, (49.006, 38.299)) < 1 and "its codifier link names the namesake of Bilovodska hromada" in (place.basis or "")


def test_a_geonames_point_in_its_own_linked_hromada_is_another_village_of_the_name() -> None:
    # Bilohorivka of Lysychansk hromada (GeoNames, in it) is not Soledar hromada's Bilohorivka, Bakhmut raion,
    # and Kalynivka seat of Kalynivka hromada, Fastiv raion, is not Bucha raion's (Kyiv Oblast has two
    # Kalynivka hromadas: a hromada is compared by its raion too). Both stay at their hromada's median.
    for field, hromada in (("Bilohorivka, Bakhmut raion", "Soledarska hromada"), ("Kalynivka, Bucha raion", "Makarivska hromada")):
        place = first_point(parse_location(field))
        assert place.precision == 3 and place.kind == "settlement" and place.hromada == hromada, field


def test_a_short_name_is_matched_by_a_near_spelling_inside_the_unit_named_only() -> None:
    # "Borov" (five letters) gets no near spelling alone (Borov is not Bobrov); inside Izium raion, whose few
    # villages leave little to mistake, it is Borova. GeoNames' alternate name Borov of Bobrov (Voronezh Oblast,
    # 20,587) is no city the field names, so "Izyum district" stays a raion, not a part of that city.
    for field in ("Izyum district, possibly Borov village based on another post.", "Borov, Izyum district"):
        place = first_point(parse_location(field))
        assert place.name == "Borova" and place.match == "fuzzy" and place.precision == 1, field
    alone = parse_location("Borov")[0]
    assert alone.name != "Borova"


def test_a_village_at_its_hromadas_median_takes_an_unlinked_geonames_point_of_its_name() -> None:
    # GeoNames files Verkhnosadove under Sevastopol, the codifier under Bakhchysarai raion: the build linked the
    # point to no village, and the codifier's village sat at its raion's median, 19 km off.
    place = first_point(parse_location("Verkhnosadove village (Bakhchysaraiskyi district)"))
    assert place.precision == 1 and km(place, (44.689, 33.702)) < 1
    assert "this point no codifier village" in (place.basis or "")


def test_running_text_reads_the_raion_named_after_a_place_as_in_a_location_field() -> None:
    # The only Martynovka the gazetteer has is in Crimea, 600 km from Sudzha raion: in running text it was placed
    # there; now, as in a field, it is left unplaced with the reason.
    places = geoparse("Ukrainian units held their positions near Martynovka in Sudzha raion, the brigade reported.")
    village = next(p for p in places if p.mention == "Martynovka")
    assert not village.resolved and village.note == "no such place in Sudzha raion in the gazetteer"
    # A Ukrainian raion by its adjective: the Pryvillia of Siverskodonetsk raion, not the bigger one of Bilovodsk hromada.
    places = geoparse("Ворог обстріляв село Привілля Сіверськодонецького району, повідомили в ОВА.")
    village = next(p for p in places if p.mention == "Привілля")
    assert village.hromada == "Lysychanska hromada" and km(village, (49.006, 38.299)) < 2


def test_a_raion_named_after_a_russian_town_answers_that_town_not_a_ukrainian_namesake_by_another_name() -> None:
    # Borisovka (Belgorod Oblast) is the official name the unit is read as; Borysivka of Odesa Oblast has
    # "Borisovka" only as its Russian name. The district used to answer the Odesa village, 700 km off.
    places = parse_location("Khotmyzhsk (Borisovka raion)")
    point = first_point(places)
    assert point.name == "Borisovka" and point.country == "RU" and point.precision == 3
    assert km(point, (50.599, 36.017)) < 1


def test_a_raion_the_gazetteer_does_not_know_leaves_a_far_namesake_unplaced() -> None:
    # Belovsk raion (Kursk Oblast, centre Belaya) is not in the gazetteer; the only Ozerki it has is a part of
    # Saint Petersburg, 1,050 km from the border. Alone, the name still goes there; beside the unknown raion it is
    # a guess and is left unplaced with the reason.
    village = parse_location("Ozerki village (Belovsk rayon)")[0]
    assert village.mention == "Ozerki" and not village.resolved
    assert village.note is not None and village.note.startswith("Belovsk rayon is not in the gazetteer")
    assert parse_location("Ozerki")[0].resolved
    # Near the fighting the namesake stays: a Ukrainian village by the line, with a raion name nobody knows.
    assert first_point(parse_location("Robotyne, Kvertivskyi raion")).name == "Robotyne"
