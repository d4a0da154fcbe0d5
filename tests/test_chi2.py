"""The chi-squared quantile the gates use equals scipy.stats' to the last bit, and refuses nonsense."""

import pytest
from scipy.stats import chi2

from truceline.domain.chi2 import chi2_ppf


@pytest.mark.parametrize("df", [1, 2, 3, 4, 7, 20])
@pytest.mark.parametrize("p", [0.0, 0.5, 0.9, 0.95, 0.99, 0.997, 0.999, 0.9999, 1 - 1e-9])
def test_same_value_as_scipy_stats(p: float, df: int) -> None:
    assert chi2_ppf(p, df) == float(chi2.ppf(p, df))


@pytest.mark.parametrize(("p", "df"), [(-0.1, 2), (1.5, 2), (0.9, 0)])
def test_refuses_out_of_domain(p: float, df: int) -> None:
    with pytest.raises(ValueError):
        chi2_ppf(p, df)


def test_the_cli_starts_without_scipy_stats() -> None:
    """Every command imports the CLI; the stats module (1–3 s) must stay out of it."""
    import subprocess
    import sys

    code = "import sys, truceline.cli; print('scipy.stats' in sys.modules, 'matplotlib' in sys.modules, 'fastapi' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["False", "False", "False"]
