"""Analyst page benchmark: time until the page is ready (map drawn, incidents shown) with 10,000 incidents.

Run ``truceline bench page [--incidents 10000] [--runs 5]``. Starts a real server on a temporary data dir
with the demo agreement in force, posts one observation per incident (spread over Ukraine and ten minutes
apart, so fusion keeps them apart), waits until fusion has made the incidents, then loads the page in
Debian's chromium (headless, via Playwright) several times. "Ready" is the page's own mark: both the
basemap and the incidents are on their canvases and two frames have been painted. It is read from the
navigation start (``performance.now()``), so browser start-up is not counted.

Baselines from the same run: the same page with the incidents layer off (``?incidents=off``: same fetches
and basemap, no incident markers), and ``GET /api/v1/incidents`` alone, fetched and parsed in the page.
Prints one line per figure (medians over the runs).
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

try:
    import truceline  # noqa: F401
except ImportError:  # running from a checkout without installing
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from truceline.api.auth import read_admin_key

CHROMIUM = "/usr/bin/chromium"
AGREEMENT = Path(__file__).resolve().parents[1] / "src" / "truceline" / "data" / "agreements" / "isw-2023-03-04" / "agreement.yaml"
KINDS = ["explosion", "impact", "thermal", "flight", "equipment-sighting", "launch", "muzzle-flash"]
SOURCES = [("UA", "acoustic"), ("FR", "uav"), ("US", "satellite"), ("PL", "radar"), ("OSCE", "monitor")]


def observations(n: int, seed: int) -> list[dict[str, Any]]:
    """n observations that fuse into n incidents: ten minutes apart, at random points over Ukraine."""
    rng = random.Random(seed)
    start = 1_682_899_200  # 2023-05-01T00:00:00Z
    out = []
    for i in range(n):
        org, kind_of_source = SOURCES[i % len(SOURCES)]
        t = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(start + 600 * i))
        out.append({
            "id": f"bench-page-{i:06d}", "time": t, "kind": KINDS[i % len(KINDS)],
            "location": {"lat": round(rng.uniform(46.5, 51.0), 5), "lon": round(rng.uniform(24.5, 39.5), 5), "cep_m": 200},
            "source": {"id": f"{org.lower()}-{kind_of_source}-{i % 7}", "type": kind_of_source, "org": org},
            "reliability": "BC"[i % 2], "credibility": 2 + i % 3, "releasable_to": ["COALITION"],
        })
    return out


def start_server(data_dir: Path, port: int) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(
        [sys.executable, "-m", "truceline.cli", "serve", "--data-dir", str(data_dir), "--port", str(port), "--agreement", str(AGREEMENT)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return process
        except httpx.HTTPError:
            time.sleep(0.2)
    process.kill()
    raise SystemExit("the server did not start within 60 s")


def load(url: str, key: str, n: int, seed: int) -> int:
    headers = {"Authorization": f"Bearer {key}"}
    docs = observations(n, seed)
    for start in range(0, n, 2000):
        response = httpx.post(f"{url}/api/v1/observations", json=docs[start : start + 2000], headers=headers, timeout=120)
        response.raise_for_status()
    deadline = time.monotonic() + 600
    count = 0
    while time.monotonic() < deadline:
        count = len(httpx.get(f"{url}/api/v1/incidents?limit=100000", headers=headers, timeout=120).json()["features"])
        if count >= n:
            break
        time.sleep(1)
    return count


def measure(url: str, key: str, runs: int) -> dict[str, list[float]]:
    from playwright.sync_api import sync_playwright

    figures: dict[str, list[float]] = {"page": [], "no-incidents": [], "fetch": []}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        context = browser.new_context(viewport={"width": 1366, "height": 768})
        context.add_init_script(f"localStorage.setItem('truceline-key', {json.dumps(key)})")
        page = context.new_page()
        page.goto(url + "/")  # warm the server and the browser cache once, uncounted
        page.wait_for_selector("body[data-judged='1']", timeout=120_000)
        for _ in range(runs):
            # Alternate so that load on the machine hits both sides alike.
            for name, path in (("page", "/"), ("no-incidents", "/?incidents=off")):
                page.goto(url + path)
                page.wait_for_selector("body[data-ready='1']", timeout=120_000)
                figures[name].append(page.evaluate("window.trucelineReadyAt") / 1000)
                # The page judges violations after it is ready; let the server finish before the next load.
                page.wait_for_selector("body[data-judged='1']", timeout=120_000)
            figures["fetch"].append(page.evaluate(
                """async () => {
                    const t0 = performance.now();
                    const r = await fetch('/api/v1/incidents?limit=100000',
                        {headers: {Authorization: 'Bearer ' + localStorage.getItem('truceline-key')}});
                    await r.json();
                    return (performance.now() - t0) / 1000;
                }"""))
        shown = int(page.get_attribute("#count", "data-shown") or 0)
        figures["shown"] = [float(shown)]
        browser.close()
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--incidents", type=int, default=10_000, help="incidents to show (default 10,000)")
    parser.add_argument("--runs", type=int, default=5, help="page loads per variant (default 5)")
    parser.add_argument("--port", type=int, default=8787)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    if not Path(CHROMIUM).exists():
        print(f"{CHROMIUM} is missing (Debian's chromium package)", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="truceline-bench-page-") as tmp:
        data_dir = Path(tmp) / "data"
        server = start_server(data_dir, args.port)
        url = f"http://127.0.0.1:{args.port}"
        try:
            key = read_admin_key(data_dir)
            started = time.perf_counter()
            count = load(url, key, args.incidents, args.seed)
            print(f"data: {count:,} incidents fused from {args.incidents:,} observations in {time.perf_counter() - started:.1f} s")
            figures = measure(url, key, args.runs)
        finally:
            server.terminate()
            server.wait(timeout=30)
    median = {name: statistics.median(values) for name, values in figures.items()}
    print(f"page ready (map drawn, {int(median['shown']):,} incidents shown), median of {args.runs}: "
          f"{median['page']:.2f} s (runs {', '.join(f'{v:.2f}' for v in figures['page'])}; goal < 2 s: "
          f"{'met' if median['page'] < 2 else 'NOT met'})")
    print(f"baseline, same page with the incidents layer off: {median['no-incidents']:.2f} s "
          f"(incidents layer costs {median['page'] - median['no-incidents']:+.2f} s)")
    print(f"baseline, GET /api/v1/incidents alone (fetch + JSON parse in the page): {median['fetch']:.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
