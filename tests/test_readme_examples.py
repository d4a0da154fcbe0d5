"""The README's example commands, run as written against the demo's data, give the answers it implies.

Every ``truceline …`` line of the README's ``bash`` blocks that needs no server is run: its placeholders
filled in (``DIR`` the demo's data dir loaded with ``demo --load-only``, ``FILE...`` the README's own example
observation, ``a|b|c`` the alternative the line's ``--out`` names or else the first, ``[optional]`` parts
left out), in a scratch directory, and checked against what the README says it does. The report's date is
read from the README, so the README decides which day the example shows; that day must have incidents.
"""

from __future__ import annotations

import csv
import json
import re
import shlex
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from tests.testdata import REPO
from typer.testing import CliRunner, Result

from truceline.cli import app

README = (REPO / "README.md").read_text(encoding="utf-8")
#: Verbs the test does not run, and why.
NOT_RUN = {
    "serve": "serves until stopped (the API tests run it)",
    "demo": "serves and opens a browser (the fixture runs demo --load-only)",
    "worker": "runs until stopped, on PostgreSQL and NATS (tests/test_cluster_faults.py runs it)",
    "bench": "measures for minutes; bench/ has its own tests",
}
#: README lines known to give a wrong answer today: (a fragment of the line) → why. Strict: once the line is
#: fixed (or the README's text changes), the entry must go, or test_known_wrong_entries_are_current fails.
KNOWN_WRONG: dict[str, str] = {}  # README fragment → why its example is known to be wrong (strict xfail)


def bash_blocks(text: str) -> list[str]:
    """The contents of the fenced ```bash blocks, backslash-continued lines joined."""
    return [block.replace("\\\n", " ") for block in re.findall(r"^```bash\n(.*?)^```", text, flags=re.S | re.M)]


def truceline_lines() -> list[str]:
    """Every line of a bash block that starts with ``truceline``, comments dropped."""
    lines = []
    for block in bash_blocks(README):
        for line in block.splitlines():
            if line.startswith("truceline "):
                lines.append(line.split("  #")[0].strip())
    return lines


def example_observation() -> dict[str, Any]:
    """The observation of the README's curl example (the JSON after ``-d``)."""
    for block in bash_blocks(README):
        tokens = shlex.split(block, comments=True)
        if "curl" in tokens and "-d" in tokens:
            return dict(json.loads(tokens[tokens.index("-d") + 1]))
    raise AssertionError("the README has no curl example with -d JSON")


def concrete(tokens: list[str], values: dict[str, str]) -> list[str]:
    """A synopsis made runnable: optional ``[...]`` parts dropped, placeholders and ``a|b`` alternatives chosen."""
    out: list[str] = []
    depth = 0
    for token in tokens:
        if depth or token.startswith("["):
            depth += token.count("[") - token.count("]")
            continue
        out.append(values.get(token, token))
    wanted = Path(out[out.index("--out") + 1]).suffix.lstrip(".") if "--out" in out else ""
    return [(wanted if wanted in t.split("|") else t.split("|")[0]) if "|" in t and not t.startswith("-") else t for t in out]


def commands(line: str, values: dict[str, str]) -> list[list[str]]:
    """The commands of a line (``a && b``), each without its leading ``truceline``."""
    tokens = shlex.split(line, comments=True)
    parts: list[list[str]] = [[]]
    for token in tokens:
        if token == "&&":
            parts.append([])
        else:
            parts[-1].append(token)
    assert all(p and p[0] == "truceline" for p in parts), line
    return [concrete(p[1:], values) for p in parts]


LINES = [ln for ln in truceline_lines() if shlex.split(ln)[1] not in NOT_RUN]


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The placeholders' values: the demo's data dir and the README's example observation as a file."""
    root = tmp_path_factory.mktemp("readme")
    result = CliRunner().invoke(app, ["demo", "--data-dir", str(root / "DIR"), "--load-only"])
    assert result.exit_code == 0, result.output
    (root / "observation.json").write_text(json.dumps(example_observation()))
    # for `ingest --format ais`: the first complete sentences of GPSD's real sample (tests/data/ais/SOURCES.md)
    sentences = [ln for ln in (REPO / "tests" / "data" / "ais" / "gpsd_sample.aivdm").read_text().splitlines() if ln.startswith("!AIVDM,1,1,")]
    (root / "sample.aivdm").write_text("\n".join(sentences[:20]) + "\n")
    return {"DIR": str(root / "DIR"), "FILE...": str(root / "observation.json"), "root": str(root), "AIS": str(root / "sample.aivdm")}


def _words(result: Result) -> str:
    return " ".join(result.output.split())


def _count(result: Result, noun: str) -> int:
    found = re.search(rf"([\d,]+) {noun}s?\b", _words(result))
    assert found, result.output
    return int(found.group(1).replace(",", ""))


def check(args: list[str], result: Result, cwd: Path) -> None:
    """What the README implies each verb does, beyond exiting 0."""
    verb = " ".join(args[:2]) if args[0] in ("report", "export", "ledger", "keys", "orgs") else args[0]
    out = cwd / args[args.index("--out") + 1] if "--out" in args else None
    checks: dict[str, Callable[[], Any]] = {
        "fuse": lambda: "fused" in _words(result),
        "ingest": lambda: (re.search(r"20 messages, [1-9]\d* decoded into [1-9]\d* tracks .*, 0 rejected", _words(result)) is not None) if "ais" in args else "1 record, 1 accepted" in _words(result),
        "report daily": lambda: out is not None and out.stat().st_size > 0 and _count(result, "incident") > 0,
        "export acled": lambda: out is not None and len(rows := list(csv.DictReader(out.open()))) > 0 and all(r["country"] for r in rows),
        "keys create": lambda: re.search(r"^\S{20,}$", result.stdout, flags=re.M) is not None,
        "orgs set": lambda: "COALITION" in _words(result),
        "ledger export": lambda: out is not None and out.stat().st_size > 0,
        "ledger verify": lambda: "bundle verified" in _words(result),
        "ledger audit": lambda: "store matches its ledger" in _words(result),
        "geoparse": lambda: _places_both_cities(json.loads(CliRunner().invoke(app, [*args[:-1], "--json", args[-1]]).stdout)),
        "simulate": lambda: (cwd / args[args.index("--out") + 1] / "truth.jsonl").is_file(),
        "eval": lambda: "F1" in result.output,
    }
    assert verb in checks, f"the README shows `truceline {verb}`: say here what it should give"
    assert checks[verb](), f"truceline {shlex.join(args)} gave:\n{result.output}"


def _marks(line: str) -> list[Any]:
    reasons = [why for fragment, why in KNOWN_WRONG.items() if fragment in line]
    return [pytest.mark.xfail(strict=True, reason="; ".join(reasons))] if reasons else []


#: The two cities of the README's geoparse sentence (GeoNames), each to be placed at its own centre.
CITIES = {"Kharkiv": (49.98081, 36.25272), "Zaporizhzhia": (47.82289, 35.19031)}


def _places_both_cities(answer: dict[str, Any]) -> bool:
    """Each city of :data:`CITIES` has a placed mention within 10 km of it (GeoNames spells one Zaporizhzhya)."""
    from truceline.text.gazetteer import distance_km

    points = [(p["lat"], p["lon"]) for p in answer["places"] if p.get("lat") is not None]
    return all(any(distance_km(lat, lon, *city) <= 10.0 for lat, lon in points) for city in CITIES.values())


@pytest.mark.slow
@pytest.mark.parametrize("line", [pytest.param(ln, marks=_marks(ln), id=" ".join(shlex.split(ln)[1:3])) for ln in LINES])
def test_readme_example_gives_what_the_readme_says(line: str, scratch: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    cwd = Path(scratch["root"])
    monkeypatch.chdir(cwd)
    for args in commands(line, scratch):
        if args[:1] == ["ingest"] and "--format" in args and args[args.index("--format") + 1] == "ais":
            args = [scratch["AIS"] if a == scratch["FILE..."] else a for a in args]
        result = CliRunner().invoke(app, args, env={"COLUMNS": "200"})
        assert result.exit_code == 0, f"truceline {shlex.join(args)} exited {result.exit_code}:\n{result.output}"
        check(args, result, cwd)


def test_the_readme_shows_the_verbs_a_newcomer_needs() -> None:
    shown = {" ".join(shlex.split(ln)[1:3]) for ln in truceline_lines()}
    for verb in ("ingest --data-dir", "report daily", "export acled", "ledger export", "geoparse [--json]", "simulate salvo-sector"):
        assert verb in shown, verb


def test_known_wrong_entries_are_current() -> None:
    for fragment in KNOWN_WRONG:
        assert any(fragment in line for line in LINES), f"KNOWN_WRONG entry {fragment!r} names no README line: delete it"


def test_the_synopsis_is_made_runnable() -> None:
    values = {"DIR": "/d"}
    (args,) = commands("truceline report daily --data-dir DIR --date 2023-05-10 --format html|md|pdf --out report.pdf [--audience public|coalition]", values)
    assert args == ["report", "daily", "--data-dir", "/d", "--date", "2023-05-10", "--format", "pdf", "--out", "report.pdf"]
    first, second = commands("truceline ledger export --data-dir DIR --out e.bundle && truceline ledger verify e.bundle", values)
    assert first[:2] == ["ledger", "export"] and second == ["ledger", "verify", "e.bundle"]
    (args,) = commands("truceline ingest --data-dir DIR FILE... [--format auto|json] [--json] [--fire-baseline FIRMS.csv]", {"FILE...": "f.json"})
    assert args == ["ingest", "--data-dir", "DIR", "f.json"]
