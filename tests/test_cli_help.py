"""Every verb's --help says what to type (TEXT, FILE, the choices), never Python's types (<str>, <bool>)."""

from __future__ import annotations

import re

import pytest
import typer.main
from typer.testing import CliRunner

from truceline.cli import app

runner = CliRunner()


def _paths(command: object, path: list[str]) -> list[list[str]]:
    out = [path]
    if isinstance(getattr(command, "commands", None), dict):
        for name, sub in command.commands.items():  # type: ignore[attr-defined]
            out += _paths(sub, [*path, name])
    return out


VERBS = _paths(typer.main.get_command(app), [])


def _help(path: list[str]) -> str:
    result = runner.invoke(app, [*path, "--help"], env={"COLUMNS": "250"})
    assert result.exit_code == 0, result.output
    return result.output


@pytest.mark.parametrize("path", VERBS, ids=[" ".join(p) or "truceline" for p in VERBS])
def test_no_python_type_tags(path: list[str]) -> None:
    text = _help(path)
    assert not re.findall(r"<(?:str|bool|int|float|Path|list\[[^\]]*\]|datetime)>", text)
    assert "{" not in text.split("\n", 3)[1]  # the usage line names arguments in capitals, e.g. FILES...


def test_verbs_are_all_found() -> None:
    names = {" ".join(p) for p in VERBS}
    assert {"ingest", "report daily", "export acled", "ledger export", "ledger verify", "keys create", "geoparse"} <= names


@pytest.mark.parametrize(
    ("path", "option", "choices"),
    [
        (["ingest"], "--format", "FORMAT"),  # ten: named, and listed in the help text
        (["report", "daily"], "--format", "[html|md|pdf]"),
        (["report", "daily"], "--audience", "[public|coalition]"),
        (["export", "acled"], "--audience", "[public|coalition]"),
        (["keys", "create"], "--role", "[contributor|analyst|supervisor|observer|metrics]"),
    ],
)
def test_options_with_a_fixed_set_list_it(path: list[str], option: str, choices: str) -> None:
    line = next(ln for ln in _help(path).splitlines() if f" {option} " in ln)
    assert choices in line


def test_a_long_set_is_listed_in_the_help_text_and_checked() -> None:
    assert "One of auto, json, jsonl, geojson, firms, text, sensorthings, acled, cot, klv" in _help(["ingest"])
    result = runner.invoke(app, ["ingest", "--data-dir", "x", "--format", "docx", "f.json"], env={"COLUMNS": "250"})
    assert result.exit_code == 2 and "'docx' is not one of 'auto'" in result.output


def test_values_are_named_and_flags_take_none() -> None:
    text = _help(["ingest"])
    assert re.search(r"--data-dir\s+PATH\s", text) and re.search(r"--json\s+Print", text)  # a flag shows no value
    assert "ingest [OPTIONS] FILES..." in text
