"""Numbers in query strings, node reports and command-line options are read strictly, as numbers in data are.

pydantic's lax mode read the query integer ``" 3"`` as 3, ``"1_0"`` as 10 and ``"3.0"`` as 3, and a node's
``"pending": "3"`` (or ``true``) as a count; typer read ``--poll nan`` and ``--port 1_0``. Each case below was
accepted before and is now refused with the parameter and the reason.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.conftest import ApiClient
from typer.testing import CliRunner

from truceline.cli import app

LAX_INTEGERS = [" 3", "3 ", "1_0", "3.0", "+ 3"]
LAX_DECIMALS = ["1_0", " 48", "48 ", "nan", "inf", "0x10"]


@pytest.mark.parametrize("text", LAX_INTEGERS)
@pytest.mark.parametrize("route", ["/api/v1/observations", "/api/v1/incidents", "/api/v1/tracks"])
def test_a_query_limit_in_a_lax_spelling_is_a_422_naming_it(api: ApiClient, route: str, text: str) -> None:
    response = api.client.get(route, params={"limit": text}, headers=api.auth)
    assert response.status_code == 422, (route, text, response.text)
    [error] = response.json()["errors"]
    assert error["field"] == "query.limit" and "whole number in ASCII digits" in error["message"], error


@pytest.mark.parametrize("text", ["3", "03", "+3"])
def test_a_plain_query_limit_still_reads(api: ApiClient, text: str) -> None:
    assert api.client.get("/api/v1/observations", params={"limit": text}, headers=api.auth).status_code == 200


def test_bounds_still_speak_for_a_plainly_written_number(api: ApiClient) -> None:
    response = api.client.get("/api/v1/observations", params={"limit": "-1"}, headers=api.auth)
    assert response.status_code == 422 and "greater than or equal to 1" in response.text


@pytest.mark.parametrize("text", LAX_INTEGERS)
def test_a_ledger_leaf_index_in_a_lax_spelling_is_a_422(api: ApiClient, text: str) -> None:
    response = api.client.get(f"/api/v1/ledger/leaves/{text}", headers=api.auth)
    assert response.status_code == 422 and "whole number in ASCII digits" in response.text, response.text


@pytest.mark.parametrize("text", LAX_DECIMALS)
def test_a_located_point_in_a_lax_spelling_is_a_422(api: ApiClient, text: str) -> None:
    response = api.client.get("/api/v1/agreement/locate", params={"lat": text, "lon": "37.5"}, headers=api.auth)
    assert response.status_code == 422, (text, response.text)
    assert "is not a decimal number" in response.text or "beyond the range" in response.text, response.text


@pytest.mark.parametrize("value", ["3", 3.0, True])
def test_a_node_report_count_that_is_not_a_json_integer_is_refused(api: ApiClient, value: object) -> None:
    report = {"node": "ua-1", "pending": value, "oldest_pending_age_s": 12.5, "refused": 0, "sent": 7}
    response = api.client.put("/api/v1/nodes/self", json=report, headers=api.auth)
    assert response.status_code == 422 and [e["field"] for e in response.json()["errors"]] == ["body.pending"], response.text
    assert api.client.get("/api/v1/nodes", headers=api.auth).json()["nodes"] == []


@pytest.mark.parametrize(
    ("args", "option"),
    [
        (["fuse", "DIR", "--poll", "nan"], "--poll"),
        (["fuse", "DIR", "--poll", "1_0"], "--poll"),
        (["fuse", "DIR", "--poll", " 3"], "--poll"),
        (["serve", "DIR", "--port", "1_0"], "--port"),
        (["serve", "DIR", "--port", "80.0"], "--port"),
        (["simulate", "sparse-day", "--seed", " 7"], "--seed"),
        (["eval", "TRUTH", "--distance-gate-m", "inf"], "--distance-gate-m"),
    ],
)
def test_a_command_line_number_in_a_lax_spelling_is_refused_before_anything_runs(
    tmp_path: Path, args: list[str], option: str
) -> None:
    argv = [str(tmp_path / "data") if a == "DIR" else str(tmp_path / "truth.jsonl") if a == "TRUTH" else a for a in args]
    result = CliRunner().invoke(app, argv)
    assert result.exit_code == 2, result.output
    assert f"Invalid value for '{option}'" in result.output, result.output
    assert not (tmp_path / "data").exists()
