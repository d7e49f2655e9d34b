"""The viewer's brain-tumour MR layout in a real browser: a four-series exam (T1, T1 post-contrast, T2, FLAIR)
opens four-up in that order, scrolling one pane moves the others to the same position, a window preset
changes every pane's window, every pane loads its whole series in the background (progressive loading), and
the load is marked for the exam-load benchmark (docs/radiology.md "Viewer")."""

import re
import sys
from pathlib import Path

import pytest
from api_session import api_session

ROOT = Path(__file__).resolve().parents[2]

SLICES = 12
# what nginx proxies to Orthanc for the viewer's images: a series retrieved whole, and frames one by one
RETRIEVALS = re.compile(r".*/dicom-web/studies/[0-9.]+/series/[0-9.]+(/instances/[0-9.]+/frames/[0-9]+)?$")
SERIES_RETRIEVAL = re.compile(r".*/series/[0-9.]+$")


@pytest.fixture(scope="module")
def exam_study(base_url, env) -> int:
    """The exam uploaded by a radiologist through the API; its study id."""
    sys.path.insert(0, str(ROOT / "backend"))
    from radiology.testing import exam_instances, to_bytes

    files = [
        ("files", (f"exam-{index:03d}.dcm", to_bytes(dataset), "application/dicom"))
        for index, dataset in enumerate(exam_instances(slices=SLICES, patient_id="MRN100001"))
    ]
    with api_session(base_url, env) as http:
        uploaded = http.post(f"{base_url}/api/radiology/uploads", timeout=300, files=files)
        assert uploaded.status_code in (200, 201), uploaded.text
        [study] = uploaded.json()["studies"]
    return study["id"]


def _panes(page) -> list[dict]:
    return page.eval_on_selector_all(
        "[data-testid=viewport-pane]",
        "panes => panes.map(pane => ({...pane.dataset, text: pane.innerText}))",
    )


def test_brain_exam_opens_four_up_scrolls_together_and_loads_in_the_background(
    sign_in, base_url, screenshot, exam_study
):
    page = sign_in("radiologist")
    retrievals: list[str] = []
    page.on("request", lambda request: RETRIEVALS.match(request.url) and retrievals.append(request.url))
    page.goto(f"{base_url}/radiology/studies/{exam_study}")
    page.get_by_test_id("study-viewer").wait_for(timeout=60_000)
    # four panes, T1 T1C T2 FLAIR, each showing the middle slice of its 12
    page.wait_for_function(
        "n => { const panes = [...document.querySelectorAll('[data-testid=viewport-pane]')];"
        " return panes.length === 4 && panes.every(pane => pane.dataset.total === String(n)); }",
        arg=SLICES,
        timeout=60_000,
    )
    panes = _panes(page)
    assert [pane["sequence"] for pane in panes] == ["T1", "T1C", "T2", "FLAIR"]
    assert len({pane["seriesUid"] for pane in panes}) == 4
    assert page.get_by_test_id("viewport").count() == 0  # the single-pane test id only in the 1x1 layout
    start = panes[0]["index"]
    assert all(pane["index"] == start for pane in panes)

    # the wheel over the T2 pane: the others follow to the same position (the series share their positions)
    page.locator("[data-testid=viewport-pane] [data-testid=pane-viewport]").nth(2).hover()
    for _ in range(3):
        page.mouse.wheel(0, 120)
        page.wait_for_timeout(150)
    page.wait_for_function(
        "start => { const panes = [...document.querySelectorAll('[data-testid=viewport-pane]')];"
        " const index = panes[2].dataset.index;"
        " return index !== start && panes.every(pane => pane.dataset.index === index); }",
        arg=start,
        timeout=30_000,
    )
    panes = _panes(page)
    shown = f"{int(panes[2]['index']) + 1} / {SLICES}"
    assert all(shown in pane["text"] for pane in panes), [pane["text"] for pane in panes]

    # a window preset: every pane's window changes
    before = [pane["window"] for pane in _panes(page)]
    page.get_by_role("combobox", name="윈도우 프리셋").click()
    page.get_by_role("option", name="고대비").click()
    page.wait_for_function(
        "before => [...document.querySelectorAll('[data-testid=viewport-pane]')]"
        ".every((pane, i) => pane.dataset.window && pane.dataset.window !== before[i])",
        arg=before,
        timeout=15_000,
    )

    # progressive loading: every pane ends with all its frames, and the load is marked
    page.wait_for_function(
        "() => [...document.querySelectorAll('[data-testid=viewport-pane]')]"
        ".every(pane => pane.dataset.total !== '0' && pane.dataset.loaded === pane.dataset.total)",
        timeout=60_000,
    )
    page.wait_for_function(
        "() => ['cdss:viewer:first-image', 'cdss:viewer:all-loaded']"
        ".every(name => performance.getEntriesByName(name, 'mark').length === 1)",
        timeout=15_000,
    )
    first, loaded = page.evaluate(
        "() => ['cdss:viewer:first-image', 'cdss:viewer:all-loaded']"
        ".map(name => performance.getEntriesByName(name, 'mark')[0].startTime)"
    )
    assert 0 < first <= loaded
    # each pane's series in one request, its first image by itself, and at most the slices scrolled to before
    # their series had come (3 wheel steps in 4 panes): not a request per frame (48)
    series = [url for url in retrievals if SERIES_RETRIEVAL.match(url)]
    assert len(series) == 4 and len(set(series)) == 4, retrievals
    assert 4 <= len(retrievals) - len(series) <= 4 + 3 * 4, retrievals
    screenshot(page, "study-viewer-four-up")

    # one pane: the single-pane test id again, the active pane's series
    page.get_by_text("1\N{MULTIPLICATION SIGN}1", exact=True).click()
    page.get_by_test_id("viewport").wait_for()
    assert page.locator("[data-testid=viewport-pane]").count() == 1
    page.get_by_text("2\N{MULTIPLICATION SIGN}2", exact=True).click()
    page.wait_for_function("() => document.querySelectorAll('[data-testid=viewport-pane]').length === 4")
    assert page.errors == []


def test_the_viewer_says_the_pacs_is_not_answering_and_goes_on_once_it_does(sign_in, base_url, exam_study):
    """Images (series and frames) answered 503 as nginx answers them while Orthanc is down (the browser's
    requests are held here, not the shared PACS stopped: the other suites use it meanwhile): the viewer says
    the PACS is not answering and the panes wait; once images come again the notice goes and every pane
    loads."""
    page = sign_in("radiologist")
    down = '{"status": 503, "error": "external_system", "system": "orthanc", "dependency": "orthanc"}'

    def pacs_down(route):
        route.fulfill(status=503, content_type="application/json", body=down, headers={"Retry-After": "5"})

    served: list[int] = []
    page.on("response", lambda response: RETRIEVALS.match(response.url) and served.append(response.status))
    page.route(RETRIEVALS, pacs_down)
    page.goto(f"{base_url}/radiology/studies/{exam_study}")
    notice = page.get_by_test_id("server-unanswering")
    notice.wait_for(timeout=60_000)
    assert notice.get_attribute("data-server") == "pacs" and "PACS" in notice.inner_text()
    assert page.evaluate("performance.getEntriesByName('cdss:viewer:all-loaded').length") == 0
    page.unroute(RETRIEVALS, pacs_down)
    page.wait_for_function("performance.getEntriesByName('cdss:viewer:all-loaded').length > 0", timeout=60_000)
    notice.wait_for(state="detached", timeout=10_000)
    loaded = page.eval_on_selector_all(
        "[data-testid=viewport-pane]", "panes => panes.map(pane => [pane.dataset.loaded, pane.dataset.total])"
    )
    assert loaded == [[str(SLICES), str(SLICES)]] * 4
    assert served.count(503) >= 1 and served.count(200) >= 4  # loaded, not given up


def test_the_viewer_says_the_cdss_is_not_answering_when_nginx_names_it(sign_in, base_url, exam_study):
    """nginx's 503 while Django is down names the application, not the PACS: the notice says so."""
    page = sign_in("radiologist")
    down = '{"status": 503, "error": "external_system", "system": "cdss-api", "dependency": "cdss-api"}'

    def cdss_down(route):
        route.fulfill(status=503, content_type="application/json", body=down, headers={"Retry-After": "5"})

    page.route(RETRIEVALS, cdss_down)
    page.goto(f"{base_url}/radiology/studies/{exam_study}")
    notice = page.get_by_test_id("server-unanswering")
    notice.wait_for(timeout=60_000)
    assert notice.get_attribute("data-server") == "cdss"
    assert "CDSS" in notice.inner_text() and "PACS" not in notice.inner_text()
