"""First-level administrative areas that reports name: Ukraine's oblasts and Russia's border regions.

A fixed table, because the names people use for a region ("Kharkiv region", "Charkiwer Gebiet",
"Харківщина", "Харьковская область", "Kharkivs'ka oblast") are built from its centre's name or its
adjective, neither of which any offline GeoNames package ships for admin areas. Codes are GeoNames
``admin1`` codes (what the gazetteer's places carry) and, for Ukraine, the KATOTTG top-level code.
Centroids are not here: :mod:`truceline.text.build` derives them from the places of each region.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Region:
    """One first-level area: its key ``CC-admin1``, English name, and the words that name it."""

    key: str
    country: str
    admin1: str
    name: str
    katottg: str | None
    centre: str
    stems: tuple[str, ...]
    adjectives: tuple[str, ...]
    nouns: tuple[str, ...] = ()


def _ua(admin1: str, name: str, katottg: str | None, centre: str, stems: str, adjectives: str, nouns: str = "") -> Region:
    return Region(
        key=f"UA-{admin1}",
        country="UA",
        admin1=admin1,
        name=name,
        katottg=katottg,
        centre=centre,
        stems=tuple(s for s in stems.split("|") if s),
        adjectives=tuple(a for a in adjectives.split("|") if a),
        nouns=tuple(n for n in nouns.split("|") if n),
    )


def _ru(admin1: str, name: str, centre: str, stems: str, adjectives: str) -> Region:
    return Region(
        key=f"RU-{admin1}",
        country="RU",
        admin1=admin1,
        name=name,
        katottg=None,
        centre=centre,
        stems=tuple(s for s in stems.split("|") if s),
        adjectives=tuple(a for a in adjectives.split("|") if a),
    )


# stems: the centre's name in the forms used for the region ("Zaporizhia region", "Gebiet Saporischschja");
# adjectives: Ukrainian and Russian adjective (+ область); nouns: the Ukrainian -щина names.
REGIONS: tuple[Region, ...] = (
    _ua("01", "Cherkasy Oblast", "UA71", "Cherkasy", "Cherkasy|Cherkassy|Tscherkassy|Черкаси|Черкассы", "Черкаська|Черкасская", "Черкащина"),
    _ua("02", "Chernihiv Oblast", "UA74", "Chernihiv", "Chernihiv|Chernigov|Tschernihiw|Чернігів|Чернигов", "Чернігівська|Черниговская", "Чернігівщина"),
    _ua("03", "Chernivtsi Oblast", "UA73", "Chernivtsi", "Chernivtsi|Chernovtsy|Czernowitz|Tscherniwzi|Чернівці|Черновцы", "Чернівецька|Черновицкая", "Буковина"),
    _ua("04", "Dnipropetrovsk Oblast", "UA12", "Dnipro", "Dnipropetrovsk|Dnipro|Dnepropetrovsk|Dnipropetrowsk|Dnepr|Дніпро|Днепр|Дніпропетровськ|Днепропетровск", "Дніпропетровська|Днепропетровская", "Дніпропетровщина|Дніпровщина"),
    _ua("05", "Donetsk Oblast", "UA14", "Donetsk", "Donetsk|Donezk|Донецьк|Донецк", "Донецька|Донецкая", "Донеччина"),
    _ua("06", "Ivano-Frankivsk Oblast", "UA26", "Ivano-Frankivsk", "Ivano-Frankivsk|Ivano-Frankovsk|Iwano-Frankiwsk|Івано-Франківськ|Ивано-Франковск", "Івано-Франківська|Ивано-Франковская", "Прикарпаття|Івано-Франківщина"),
    _ua("07", "Kharkiv Oblast", "UA63", "Kharkiv", "Kharkiv|Kharkov|Charkiw|Харків|Харьков", "Харківська|Харьковская", "Харківщина|Слобожанщина"),
    _ua("08", "Kherson Oblast", "UA65", "Kherson", "Kherson|Cherson|Херсон", "Херсонська|Херсонская", "Херсонщина"),
    _ua("09", "Khmelnytskyi Oblast", "UA68", "Khmelnytskyi", "Khmelnytskyi|Khmelnitsky|Khmelnytsky|Chmelnyzkyj|Хмельницький|Хмельницкий", "Хмельницька|Хмельницкая", "Хмельниччина"),
    _ua("10", "Kirovohrad Oblast", "UA35", "Kropyvnytskyi", "Kirovohrad|Kirovograd|Kropyvnytskyi|Kirowohrad|Kropywnyzkyj|Кропивницький|Кировоград|Кіровоград", "Кіровоградська|Кировоградская", "Кіровоградщина"),
    _ua("11", "Autonomous Republic of Crimea", "UA01", "Simferopol", "Crimea|Krym|Krim|Crimean|Крим|Крым", "Кримська|Крымская", "Крим"),
    _ua("12", "Kyiv", "UA80", "Kyiv", "", ""),
    _ua("13", "Kyiv Oblast", "UA32", "Kyiv", "Kyiv|Kiev|Kiew|Kyjiw|Київ|Киев", "Київська|Киевская", "Київщина"),
    _ua("14", "Luhansk Oblast", "UA44", "Luhansk", "Luhansk|Lugansk|Луганськ|Луганск", "Луганська|Луганская", "Луганщина"),
    _ua("15", "Lviv Oblast", "UA46", "Lviv", "Lviv|Lvov|Lwiw|Lemberg|Львів|Львов", "Львівська|Львовская", "Львівщина"),
    _ua("16", "Mykolaiv Oblast", "UA48", "Mykolaiv", "Mykolaiv|Nikolaev|Nikolayev|Mykolajiw|Миколаїв|Николаев", "Миколаївська|Николаевская", "Миколаївщина"),
    _ua("17", "Odesa Oblast", "UA51", "Odesa", "Odesa|Odessa|Одеса|Одесса", "Одеська|Одесская", "Одещина"),
    _ua("18", "Poltava Oblast", "UA53", "Poltava", "Poltava|Poltawa|Полтава", "Полтавська|Полтавская", "Полтавщина"),
    _ua("19", "Rivne Oblast", "UA56", "Rivne", "Rivne|Rovno|Riwne|Рівне|Ровно", "Рівненська|Ровенская", "Рівненщина"),
    _ua("20", "Sevastopol", "UA85", "Sevastopol", "", ""),
    _ua("21", "Sumy Oblast", "UA59", "Sumy", "Sumy|Суми|Сумы", "Сумська|Сумская", "Сумщина"),
    _ua("22", "Ternopil Oblast", "UA61", "Ternopil", "Ternopil|Ternopol|Тернопіль|Тернополь", "Тернопільська|Тернопольская", "Тернопільщина"),
    _ua("23", "Vinnytsia Oblast", "UA05", "Vinnytsia", "Vinnytsia|Vinnytsya|Vinnitsa|Winnyzja|Вінниця|Винница", "Вінницька|Винницкая", "Вінниччина"),
    _ua("24", "Volyn Oblast", "UA07", "Lutsk", "Volyn|Volhynia|Wolhynien|Lutsk|Луцьк|Луцк|Волинь", "Волинська|Волынская", "Волинь"),
    _ua("25", "Zakarpattia Oblast", "UA21", "Uzhhorod", "Zakarpattia|Transcarpathia|Transkarpatien|Uzhhorod|Uzhgorod|Закарпаття|Ужгород", "Закарпатська|Закарпатская", "Закарпаття"),
    _ua("26", "Zaporizhzhia Oblast", "UA23", "Zaporizhzhia", "Zaporizhzhia|Zaporizhia|Zaporozhye|Zaporozhzhia|Saporischschja|Запоріжжя|Запорожье", "Запорізька|Запорожская", "Запоріжжя"),
    _ua("27", "Zhytomyr Oblast", "UA18", "Zhytomyr", "Zhytomyr|Zhitomir|Schytomyr|Житомир", "Житомирська|Житомирская", "Житомирщина"),
    _ru("09", "Belgorod Oblast", "Belgorod", "Belgorod|Bilhorod|Белгород|Бєлгород", "Белгородская|Бєлгородська"),
    _ru("41", "Kursk Oblast", "Kursk", "Kursk|Курск", "Курская|Курська"),
    _ru("10", "Bryansk Oblast", "Bryansk", "Bryansk|Brjansk|Брянск", "Брянская|Брянська"),
    _ru("86", "Voronezh Oblast", "Voronezh", "Voronezh|Woronesch|Воронеж", "Воронежская|Воронізька"),
    _ru("61", "Rostov Oblast", "Rostov-na-Donu", "Rostov|Rostow|Ростов", "Ростовская|Ростовська"),
    _ru("38", "Krasnodar Krai", "Krasnodar", "Krasnodar|Kuban|Краснодар|Кубань", "Краснодарский|Краснодарський"),
    _ru("47", "Moscow Oblast", "Moscow", "Moscow|Moskau|Moskva|Москва", "Московская|Московська"),
)

#: Regions by key.
BY_KEY: dict[str, Region] = {r.key: r for r in REGIONS}
#: Ukrainian regions by KATOTTG top-level code prefix (``UA63`` → Kharkiv Oblast).
BY_KATOTTG: dict[str, Region] = {r.katottg: r for r in REGIONS if r.katottg}

#: Groups of regions that reports name as one (Donbas = Donetsk + Luhansk).
GROUPS: dict[str, tuple[str, tuple[str, ...]]] = {
    "donbas": ("Donbas", ("UA-05", "UA-14")),
    # Russia's names for the occupied parts of the two oblasts, as Russian sources write them: the oblast is meant
    "dpr": ("Donetsk Oblast", ("UA-05",)),
    "lpr": ("Luhansk Oblast", ("UA-14",)),
}
GROUP_NAMES: dict[str, str] = {
    "Donbas": "donbas", "Donbass": "donbas", "Donbass region": "donbas", "Донбас": "donbas", "Донбасс": "donbas",
    "DPR": "dpr", "DNR": "dpr", "ДНР": "dpr", "Donetsk People's Republic": "dpr", "Donetsk People’s Republic": "dpr",
    "LPR": "lpr", "LNR": "lpr", "ЛНР": "lpr", "Luhansk People's Republic": "lpr", "Lugansk People's Republic": "lpr",
    "Luhansk People’s Republic": "lpr", "Lugansk People’s Republic": "lpr",
}
