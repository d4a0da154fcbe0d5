"""The page's files: vendored npm files match their manifest and lock, the places layer matches the
gazetteer, and the server serves page, files and ``whoami`` with the right types and cache headers."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from tests.conftest import REPO, ApiClient

from truceline.text.gazetteer import default_gazetteer, distance_km
from truceline.web.assets import check_manifest, static_dir

VENDOR = REPO / "src" / "truceline" / "web" / "static" / "vendor"


def test_vendored_files_match_the_manifest() -> None:
    assert check_manifest(VENDOR) == []


def test_manifest_versions_are_the_locked_ones_and_licences_are_included() -> None:
    manifest = json.loads((VENDOR / "manifest.json").read_text())
    lock = json.loads((REPO / "web" / "package-lock.json").read_text())
    pinned = json.loads((REPO / "web" / "package.json").read_text())["dependencies"]
    names = {p["name"] for p in manifest["packages"]}
    assert names == set(pinned) == {"leaflet", "topojson-client", "world-atlas"}
    for package in manifest["packages"]:
        assert package["version"] == pinned[package["name"]] == lock["packages"][f"node_modules/{package['name']}"]["version"]
        assert package["integrity"].startswith("sha512-")
        assert (VENDOR / package["name"] / "LICENSE").read_text().strip()


def test_manifest_check_notices_an_edited_a_missing_and_an_unlisted_file(tmp_path: Path) -> None:
    copy = tmp_path / "vendor"
    shutil.copytree(VENDOR, copy)
    (copy / "topojson-client" / "topojson-client.min.js").write_text("// edited by hand\n")
    (copy / "leaflet" / "leaflet.css").unlink()
    (copy / "leaflet" / "extra.js").write_text("")
    problems = "\n".join(check_manifest(copy))
    assert "topojson-client/topojson-client.min.js: content differs" in problems
    assert "leaflet/leaflet.css: listed in the manifest but missing" in problems
    assert "leaflet/extra.js: present but not in the manifest" in problems


def test_places_layer_agrees_with_the_gazetteer() -> None:
    places = json.loads((static_dir() / "data" / "places.geojson").read_text(encoding="utf-8"))["features"]
    points = [(f["geometry"]["coordinates"][1], f["geometry"]["coordinates"][0]) for f in places]
    # Oblast centres (Kyiv, Kharkiv, Odesa, Dnipro, Zaporizhzhia, Mykolaiv, Kherson, Lviv, Sumy) are all in …
    for lat, lon in [(50.45, 30.52), (49.99, 36.23), (46.48, 30.73), (48.46, 35.04), (47.84, 35.14),
                     (46.97, 32.0), (46.64, 32.61), (49.84, 24.03), (50.91, 34.8)]:
        assert min(distance_km(lat, lon, a, b) for a, b in points) < 10, (lat, lon)
    # … villages and city districts are not.
    assert all(f["properties"]["population"] >= 50_000 for f in places)
    for i, (lat, lon) in enumerate(points):
        assert all(distance_km(lat, lon, a, b) >= 12 for a, b in points[i + 1 :]), places[i]["properties"]["name"]
    gazetteer = default_gazetteer()
    for feature, (lat, lon) in zip(places, points, strict=True):
        same = [p for p in gazetteer.spelled(feature["properties"]["name"]) if p.lat is not None]
        assert same and min(distance_km(lat, lon, p.lat, p.lon) for p in same) < 5, feature["properties"]["name"]


def test_page_files_and_whoami_are_served(api: ApiClient) -> None:
    page = api.client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert '/static/app.js" type="module"' in page.text and page.headers["cache-control"] == "no-cache"
    script = api.client.get("/static/app.js")
    assert script.status_code == 200 and script.headers["content-type"].startswith("text/javascript")
    assert script.headers["cache-control"] == "no-cache" and "etag" in script.headers
    again = api.client.get("/static/app.js", headers={"If-None-Match": script.headers["etag"]})
    assert again.status_code == 304
    atlas = api.client.get("/static/vendor/world-atlas/countries-50m.json")
    assert atlas.status_code == 200 and atlas.headers["cache-control"].startswith("public, max-age=")
    assert api.client.get("/static/data/places.geojson").headers["content-type"].startswith("application/geo+json")
    assert api.client.get("/static/../routes.py").status_code == 404
    assert api.client.get("/static/vendor/").status_code == 404  # no directory listing
    assert api.client.get("/api/v1/whoami").status_code == 401
    me = api.client.get("/api/v1/whoami", headers=api.auth).json()
    assert me["role"] == "admin" and me["org"] == "ADMIN" and "review" in me["permissions"] and "key" not in me
    created = api.client.post("/api/v1/keys", json={"org": "FR", "role": "observer"}, headers=api.auth).json()
    observer = api.client.get("/api/v1/whoami", headers={"Authorization": f"Bearer {created['key']}"}).json()
    assert observer["role"] == "observer" and observer["permissions"] == ["read"] and "FR" in observer["reads"]
