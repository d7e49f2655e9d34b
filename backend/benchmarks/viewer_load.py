"""The study viewer opening a brain-tumour MR exam, in a real browser, on the stack `make run` started.

    make run && cd backend && .venv/bin/python benchmarks/viewer_load.py [--slices 150] [--size 256] [--runs 3]

An exam of four series (T1, T1 post GD, T2, FLAIR) x `--slices` slices of `--size`^2 16-bit pixels is made
(radiology.testing.exam_instances) and uploaded once through the API (or named with --study, a study id).
Then, `--runs` times in a new browser context (Debian's Chromium by Playwright, software WebGL, nothing
cached), the radiologist opens the study page: the viewer lays the four series out side by side and
fetches them through the CDSS DICOMweb gateway (each pane's first slice by itself, then its series in one
request). Measured from the navigation's start (the page's
performance clock) to the viewer's marks: `cdss:viewer:first-image` (the first image on screen) and
`cdss:viewer:all-loaded` (every frame of every pane loaded, the last one drawn). Goal (issue #21): all
loaded under 5 s on the 2-core machine.
Baseline, measured in the same run: the same frames fetched by a plain client through the same gateway,
6 requests in flight over open connections (benchmarks/dicomweb_gateway.py): no decoding, no drawing. The
ratio is that transfer time over the viewer's; what is left is the browser's decoding, drawing and its
own scheduling.
"""

import argparse
import statistics
import sys
import time
from pathlib import Path

import urllib3

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "backend"))
sys.path.insert(0, str(ROOT / "e2e"))
sys.path.insert(0, str(Path(__file__).parent))
from dicomweb_gateway import _session, fetch_all, frame_paths_by_series, opened  # noqa: E402
from stack_env import stack_env  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
MARKS = ("cdss:viewer:first-image", "cdss:viewer:all-loaded")
GATEWAY = "/api/radiology/dicom-web"


def upload_exam(http, base_url: str, headers: dict[str, str], *, slices: int, size: int) -> dict:
    from radiology.testing import exam_instances, to_bytes

    patient = http.get(f"{base_url}/api/patients", headers=headers, timeout=30).json()["results"][0]
    datasets = exam_instances(slices=slices, size=size, patient_id=patient["mrn"])
    files = [("files", (f"{index:04d}.dcm", to_bytes(ds), "application/dicom")) for index, ds in enumerate(datasets)]
    started = time.monotonic()
    answer = http.post(f"{base_url}/api/radiology/uploads", headers=headers, files=files, timeout=1800)
    answer.raise_for_status()
    [study] = answer.json()["studies"]
    print(f"uploaded {len(files)} instances in {time.monotonic() - started:.0f} s: study {study['id']}")
    return study


def open_in_browser(browser, base_url: str, password: str, study_id: int) -> dict[str, float]:
    """One opening of the study page in a fresh context: milliseconds from navigation start to each mark."""
    context = browser.new_context(ignore_https_errors=True, viewport={"width": 1600, "height": 1000}, locale="ko-KR")
    try:
        page = context.new_page()
        page.goto(f"{base_url}/login")
        page.get_by_label("사용자 이름").fill("radiologist")
        page.get_by_label("비밀번호").fill(password)
        page.get_by_role("button", name="로그인").click()
        page.wait_for_url(lambda url: "/login" not in url)
        page.goto(f"{base_url}/radiology/studies/{study_id}")
        page.wait_for_function(f"performance.getEntriesByName({MARKS[-1]!r}).length > 0", timeout=180_000, polling=50)
        marks = page.evaluate(f"{list(MARKS)!r}.map((name) => performance.getEntriesByName(name)[0].startTime)")
        panes = page.evaluate(
            "[...document.querySelectorAll('[data-total]')].map((pane) => [pane.dataset.loaded, pane.dataset.total])"
        )
        return {"first_image_ms": marks[0], "all_loaded_ms": marks[1], "panes": panes}
    finally:
        context.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slices", type=int, default=150)
    parser.add_argument("--size", type=int, default=256, help="pixels per side")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--study", type=int, default=0, help="an exam uploaded before (its study id)")
    args = parser.parse_args()
    urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)  # the local run's certificate
    from playwright.sync_api import sync_playwright

    env = stack_env()
    base_url = f"https://127.0.0.1:{env['HTTPS_PORT']}"
    password = env["DEMO_PASSWORD"]
    with _session() as http:
        token = http.post(
            f"{base_url}/api/auth/token", json={"username": "radiologist", "password": password}, timeout=10
        )
        token.raise_for_status()
        headers = {"Authorization": f"Token {token.json()['token']}"}
        try:
            if args.study:
                study = http.get(f"{base_url}/api/radiology/studies/{args.study}", headers=headers, timeout=30).json()
            else:
                study = upload_exam(http, base_url, headers, slices=args.slices, size=args.size)
            with _session(headers) as cdss:
                by_series = frame_paths_by_series(cdss, f"{base_url}{GATEWAY}", study["study_instance_uid"])
            paths = [path for series in by_series.values() for path in series]
            connections = opened(lambda: _session(headers), f"{base_url}{GATEWAY}", paths, 6)
            transfer = [fetch_all(connections, f"{base_url}{GATEWAY}", paths) for _ in range(args.runs)]
        finally:
            http.delete(f"{base_url}/api/auth/token", headers=headers, timeout=10)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=["--no-sandbox", "--use-angle=swiftshader", "--enable-unsafe-swiftshader", "--ignore-gpu-blocklist"],
        )
        runs = [open_in_browser(browser, base_url, password, study["id"]) for _ in range(args.runs)]
        browser.close()
    first = statistics.median(run["first_image_ms"] for run in runs) / 1000
    loaded = statistics.median(run["all_loaded_ms"] for run in runs) / 1000
    plain = statistics.median(transfer)
    print(f"study {study['id']}: {len(paths)} frames in {len(runs[0]['panes'])} panes {runs[0]['panes']}")
    each = ", ".join(f"{run['all_loaded_ms'] / 1000:.2f}" for run in runs)
    print(f"viewer (median of {args.runs}): first image {first:.2f} s, every frame loaded {loaded:.2f} s ({each})")
    print(f"baseline: the same frames by a plain client, 6 in flight: {plain:.2f} s; ratio {plain / loaded:.2f}")
    print(f"goal: every frame loaded under 5 s: {'met' if loaded < 5 else 'NOT met'}")


if __name__ == "__main__":
    main()
