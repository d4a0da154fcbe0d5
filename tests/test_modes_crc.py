"""The Mode S decoder's table-per-byte CRC-24 equals pyModeS's own remainder, for long and short messages."""

from __future__ import annotations

import random

from pyModeS._bits import crc_remainder

from truceline.ingest.modes import _crc


def test_crc_equals_pymodes() -> None:
    rng = random.Random(18)
    for length in (112, 56):
        values = [rng.getrandbits(length) for _ in range(20_000)] + [0, (1 << length) - 1, 1, 1 << (length - 1)]
        for value in values:
            assert _crc(value, length) == crc_remainder(value, length)
