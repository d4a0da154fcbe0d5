"""Geoparsing, the entry point: place names in a location field or in running text → places with honest precision.

Two entry points share one resolver:

* :func:`parse_location` reads a location *field* ("Kupyansk (Kharkiv region)", "Beryslav, Kherson Oblast",
  "Kharkiv (Saltivka district)"): every part is meant as a place, so near spellings are accepted
  (fuzzy matching above :attr:`Thresholds.fuzzy_field`).
* :func:`geoparse` reads running text in German, English, Ukrainian or Russian. Most capitalised words
  there are not places, so only exact names (in any spelling system, Cyrillic ones inflected) count,
  villages known only from the codifier need a cue ("near", "village", "біля", "с."), and a name glued
  to another capitalised word ("Wladimir Putin") is taken for a person.

Choosing among same-named places, in this order: the region the text names ("…, Zaporizhzhia Oblast"),
proximity to the other places it names, the official name over an alternate one, population when one place
clearly dominates (:attr:`Thresholds.dominance`), then the line of contact as a prior; otherwise the name is
reported as ambiguous, without a point, with how far apart the namesakes are and why nothing decided. A name that cannot be resolved is returned without a
point and a note saying why, never as the nearest-looking place.

Precision is ACLED's: 1 the settlement (or a known city district), 2 near it or an unknown part of it,
3 a district (raion/hromada; also a village placed at its hromada's median point), 4 a region.

The work is split by responsibility: :mod:`~truceline.text.resolved` (the answer and thresholds),
:mod:`~truceline.text.vocabulary` (report words), :mod:`~truceline.text.choose` (scoring: choosing among
namesakes or abstaining), :mod:`~truceline.text.frontline` (the line of contact as a prior),
:mod:`~truceline.text.fields` (location fields) and :mod:`~truceline.text.scan` (candidate generation in
running text).
"""

from __future__ import annotations

from truceline.text.choose import Context
from truceline.text.fields import FieldReader
from truceline.text.resolved import DEFAULT_THRESHOLDS, THEATRE, ResolvedPlace, Thresholds, merge_mentions
from truceline.text.scan import TextScanner
from truceline.text.vocabulary import looks_like_field

__all__ = [
    "DEFAULT_THRESHOLDS", "THEATRE", "Context", "Geoparser", "ResolvedPlace", "Thresholds", "default_geoparser", "geoparse",
    "merge_mentions", "parse_location",
]


class Geoparser(FieldReader, TextScanner):
    """Resolves place mentions in location fields and running text against a gazetteer."""

    def geoparse(self, text: str) -> list[ResolvedPlace]:
        """Places named in running text, most mentioned first; a short field-like text is read as a field."""
        if looks_like_field(text):
            return self.parse_location(text)
        return merge_mentions(self.mentions(text))


_DEFAULT: Geoparser | None = None


def default_geoparser() -> Geoparser:
    """A geoparser over the bundled gazetteer with the default thresholds, created once per process."""
    global _DEFAULT
    if _DEFAULT is None:
        _DEFAULT = Geoparser()
    return _DEFAULT


def parse_location(text: str) -> list[ResolvedPlace]:
    """:meth:`Geoparser.parse_location` with the default geoparser."""
    return default_geoparser().parse_location(text)


def geoparse(text: str) -> list[ResolvedPlace]:
    """:meth:`Geoparser.geoparse` with the default geoparser."""
    return default_geoparser().geoparse(text)
