"""Quantiles of the chi-squared distribution: the gates of fusion, localisation and the evaluation oracle.

``scipy.stats`` costs over a second to import (it loads every distribution); fusion, the TDOA solver and
the oracle need only this one quantile. It is computed exactly as ``scipy.stats.chi2.ppf`` computes it
(twice the inverse of the regularised lower incomplete gamma function at half the degrees of freedom), so
every gate keeps its value to the last bit (``tests/test_chi2.py`` checks that against scipy.stats).
"""

from __future__ import annotations


def chi2_ppf(probability: float, degrees_of_freedom: int) -> float:
    """The value below which a chi-squared variable with ``degrees_of_freedom`` falls with ``probability``."""
    from scipy.special import gammaincinv  # on first use: scipy.special takes a few hundred ms to import

    if not 0.0 <= probability <= 1.0:
        raise ValueError(f"probability must lie in [0, 1], got {probability!r}")
    if degrees_of_freedom < 1:
        raise ValueError(f"degrees of freedom must be at least 1, got {degrees_of_freedom!r}")
    return float(2.0 * gammaincinv(degrees_of_freedom / 2.0, probability))


__all__ = ["chi2_ppf"]
