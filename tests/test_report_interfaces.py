"""``truceline report daily`` and ``GET /api/v1/reports/daily``: arguments, errors, exit codes, access."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from tests.test_report_daily import SECRET_OBS, build_dataset
from typer.testing import CliRunner

from truceline.access.policy import Role
from truceline.api.app import create_app
from truceline.api.auth import ensure_admin_key, read_admin_key
from truceline.cli import app as cli
from truceline.service.settings import Settings
from truceline.store.sqlite import open_store

runner = CliRunner()


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("iface") / "data"
    build_dataset(path).close()
    return path


def run(*args: str) -> Any:
    return runner.invoke(cli, ["report", "daily", *args], env={"COLUMNS": "200"})


def test_cli_writes_each_format(data_dir: Path, tmp_path: Path) -> None:
    for fmt, magic in (("md", b"# Ceasefire monitoring"), ("html", b"<!DOCTYPE html>"), ("pdf", b"%PDF-")):
        out = tmp_path / f"r.{fmt}"
        result = run("--data-dir", str(data_dir), "--date", "2023-05-10", "--format", fmt, "--out", str(out))
        assert result.exit_code == 0, result.output
        assert out.read_bytes().startswith(magic)
        assert "6 incidents, 4 violations" in result.output
    out = tmp_path / "coalition.md"
    result = run("--data-dir", str(data_dir), "--date", "2023-05-10", "--format", "md", "--out", str(out), "--audience", "coalition")
    assert result.exit_code == 0 and SECRET_OBS in out.read_text().replace("\\", "")


def test_cli_markdown_links_its_images_as_files_beside_it(data_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "r.md"
    result = run("--data-dir", str(data_dir), "--date", "2023-05-10", "--format", "md", "--out", str(out))
    assert result.exit_code == 0, result.output
    text = out.read_text()
    links = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text)
    assert links == ["r-files/trend.svg", "r-files/map.png"] and "base64" not in text
    assert (tmp_path / "r-files" / "trend.svg").read_bytes().lstrip().startswith((b"<?xml", b"<svg"))
    assert (tmp_path / "r-files" / "map.png").read_bytes().startswith(b"\x89PNG")
    assert len(text) < 40_000  # words and tables; the images are beside it
    assert "r-files/" in " ".join(result.output.split())


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--date", "2023-02-30", "--format", "md"], "is not a date"),
        (["--date", "10.05.2023", "--format", "md"], "is not a date"),
        (["--date", "2023-05-10", "--format", "docx"], "'docx' is not one of 'html'"),
        (["--date", "2023-05-10", "--format", "md", "--audience", "press"], "'press' is not one of 'public'"),
    ],
)
def test_cli_refuses_bad_arguments(data_dir: Path, tmp_path: Path, args: list[str], message: str) -> None:
    out = tmp_path / "r.out"
    result = run("--data-dir", str(data_dir), "--out", str(out), *args)
    assert result.exit_code == 2 and message in result.output
    assert not out.exists()


def test_cli_refuses_a_missing_data_dir_without_creating_it(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    result = run("--data-dir", str(missing), "--date", "2023-05-10", "--out", str(tmp_path / "r.md"), "--format", "md")
    assert result.exit_code == 2 and "is not a truceline data dir" in result.output
    assert not missing.exists()


def test_cli_without_an_agreement_says_how_to_load_one(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    open_store(empty).close()
    result = run("--data-dir", str(empty), "--date", "2023-05-10", "--out", str(tmp_path / "r.md"), "--format", "md")
    assert result.exit_code == 2 and "no agreement is in force" in result.output


def test_cli_unwritable_output_directory(data_dir: Path, tmp_path: Path) -> None:
    result = run("--data-dir", str(data_dir), "--date", "2023-05-10", "--out", str(tmp_path / "no" / "r.md"), "--format", "md")
    assert result.exit_code == 2 and "does not exist" in result.output


@pytest.fixture(scope="module")
def api(data_dir: Path) -> Iterator[tuple[TestClient, dict[str, dict[str, str]]]]:
    store = open_store(data_dir)
    ensure_admin_key(store, data_dir)
    _, fr = store.create_api_key("FR", Role.OBSERVER)  # FR belongs to COALITION
    _, press = store.create_api_key("PRESS", Role.OBSERVER)  # no group: PUBLIC only
    headers = {name: {"Authorization": f"Bearer {secret}"} for name, secret in
               (("admin", read_admin_key(data_dir)), ("fr", fr), ("press", press))}
    with TestClient(create_app(Settings(data_dir=data_dir, fusion=False), store)) as client:
        yield client, headers
    store.close()


def test_api_serves_each_format_with_its_media_type(api: Any) -> None:
    client, headers = api
    for fmt, media, magic in (("html", "text/html", b"<!DOCTYPE html>"), ("md", "text/markdown", b"# "), ("pdf", "application/pdf", b"%PDF-")):
        response = client.get("/api/v1/reports/daily", params={"date": "2023-05-10", "format": fmt}, headers=headers["press"])
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith(media) and response.content.startswith(magic)
        assert f'filename="truceline-daily-2023-05-10-public.{fmt}"' in response.headers["content-disposition"]
        if fmt == "md":  # one document: no base64 images, a sentence where each figure would be
            assert b"base64" not in response.content and b"is in the HTML and PDF editions" in response.content


def test_api_coalition_edition_only_for_coalition_members(api: Any) -> None:
    client, headers = api
    params = {"date": "2023-05-10", "format": "md", "audience": "coalition"}
    refused = client.get("/api/v1/reports/daily", params=params, headers=headers["press"])
    assert refused.status_code == 403 and "COALITION" in refused.json()["detail"]
    for who in ("fr", "admin"):
        allowed = client.get("/api/v1/reports/daily", params=params, headers=headers[who])
        assert allowed.status_code == 200 and SECRET_OBS in allowed.text.replace("\\", "")
    public = client.get("/api/v1/reports/daily", params={"date": "2023-05-10", "format": "md"}, headers=headers["admin"])
    assert public.status_code == 200 and SECRET_OBS not in public.text.replace("\\", "")


def test_api_rejects_bad_parameters(api: Any) -> None:
    client, headers = api
    assert client.get("/api/v1/reports/daily", params={"date": "2023-05-10"}).status_code == 401
    for params in ({"date": "yesterday"}, {"date": "2023-05-10", "format": "docx"}, {"date": "2023-05-10", "audience": "all"}, {}):
        response = client.get("/api/v1/reports/daily", params=params, headers=headers["press"])
        assert response.status_code == 422, params


def test_cli_error_keeps_a_long_path_on_one_line(data_dir: Path, tmp_path: Path) -> None:
    # An error naming a path longer than the terminal is one line (a log or a grep sees the whole path), also
    # where the terminal is narrow: the CLI's error output is not wrapped.
    out = tmp_path / ("a-directory-name-long-enough-to-pass-the-width-" * 3) / "r.md"
    result = runner.invoke(
        cli, ["report", "daily", "--data-dir", str(data_dir), "--date", "2023-05-10", "--out", str(out), "--format", "md"],
        env={"COLUMNS": "40"},
    )
    assert result.exit_code == 2
    assert f"cannot write {out}: directory {out.parent} does not exist" in result.output
