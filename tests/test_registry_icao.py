"""State of registry from the ICAO 24-bit address (track/registry_icao.py, data/registry/icao24_blocks.csv).

Expected blocks are ICAO Annex 10 Vol III, Part I, Chapter 9, Appendix (see data/registry/ATTRIBUTION.md);
the addresses are those of the real sample messages (tests/data/modes/SOURCES.md).
"""

from __future__ import annotations

import pytest

from truceline.track.registry_icao import ICAO24_SOURCE, _table, icao24_block, registry_state


@pytest.mark.parametrize(
    ("address", "state", "name"),
    [("4840D6", "NL", "Netherlands"),  # KLM1023 of the 1090 MHz Riddle
     ("40621d", "GB", "United Kingdom"),
     ("406B90", "GB", "United Kingdom"),  # EZY85MH, pyModeS's recorded flight
     ("a05f21", "US", "United States"),
     ("508000", "UA", "Ukraine"), ("50FFFF", "UA", "Ukraine"),
     ("100000", "RU", "Russian Federation"), ("1FFFFF", "RU", "Russian Federation"),
     ("510000", "BY", "Belarus"), ("3A23FF", "FR", "France")],
)
def test_known_states(address: str, state: str, name: str) -> None:
    block = icao24_block(address)
    assert block is not None and (block.kind, block.state, block.name) == ("state", state, name)
    assert registry_state(address) == state


def test_block_edges_are_exact() -> None:
    assert registry_state("507FFF") == "UZ" and registry_state("510000") == "BY"  # Ukraine's neighbours
    assert registry_state("507BFF") is None  # EUR/NAT reserve between Slovenia's and Uzbekistan's blocks
    assert icao24_block("507BFF").kind == "unassigned"  # type: ignore[union-attr]
    assert registry_state("0FFFFF") is None and registry_state("200000") is None
    assert registry_state(0x508000) == "UA" and registry_state(0x510400) != "UA"


def test_icao_blocks_and_unallocated_name_no_state() -> None:
    assert icao24_block("F00001").kind == "icao"  # type: ignore[union-attr]
    assert registry_state("F00001") is None
    assert icao24_block("000000") is None and registry_state("000000") is None


def test_state_blocks_do_not_overlap_and_codes_are_alpha2() -> None:
    _, states, others = _table()
    assert len(states) > 180 and all(b.state and len(b.state) == 2 and b.state.isupper() for b in states)
    assert all(a.end < b.start for a, b in zip(states, states[1:]))
    assert all(b.state is None for b in others)
    assert "Annex 10" in ICAO24_SOURCE


@pytest.mark.parametrize("bad", ["4840D", "4840D6A", "ZZZZZZ", -1, 0x1000000])
def test_not_an_address(bad: object) -> None:
    with pytest.raises(ValueError):
        icao24_block(bad)  # type: ignore[arg-type]
