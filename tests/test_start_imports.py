"""A server's processes start without the heavy libraries only some requests need.

matplotlib (charts and maps of the daily report, 0.65 s to import) and scipy (the report's sector index and the
fire analytic, 0.65 s) were imported by every `truceline serve` and every CLI verb at start; they are now
imported where they are used (tests/test_report_render.py draws the charts and maps). A fresh interpreter checks
it, since this test process has imported them long ago.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

HEAVY = ("matplotlib", "scipy")


@pytest.mark.parametrize(
    "modules",
    [
        "truceline.cli, truceline.api.app",  # the server's own process
        "truceline.service.batch_parser",  # its parser processes
        "truceline.service.fusion_process, truceline.service.fusion_writer",  # its fusion process and writer
    ],
)
def test_starting_a_server_process_imports_neither_matplotlib_nor_scipy(modules: str) -> None:
    probe = f"import sys, {modules}; print(sorted({{m.split('.')[0] for m in sys.modules}} & {set(HEAVY)!r}))"
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True)
    assert result.stdout.strip() == "[]", result.stdout

