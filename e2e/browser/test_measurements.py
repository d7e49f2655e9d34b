"""Measurements in the viewer, in a real browser: a length and an ellipse drawn with Cornerstone's tools,
saved as a DICOM SR (built by the ai-server, stored in Orthanc), listed on the study page, and drawn again
when the study is opened again (docs/radiology.md "Measurements")."""

import re

from test_browser import _series


def _upload(page, tmp_path) -> int:
    page.get_by_role("link", name="DICOM 업로드").click()
    page.get_by_test_id("dropzone").wait_for()
    page.get_by_test_id("file-input").set_input_files([str(path) for path in _series(tmp_path, count=3)])
    summary = page.get_by_test_id("upload-summary")
    summary.wait_for(timeout=60_000)
    return int(summary.get_by_role("link").first.get_attribute("href").rsplit("/", 1)[1])


def _open(page, base_url: str, study: int):
    page.goto(f"{base_url}/radiology/studies/{study}")
    viewer = page.get_by_test_id("study-viewer")
    viewer.get_by_text(re.compile(r"^\d+ / 3$")).wait_for(timeout=60_000)  # the series is on screen
    return viewer


def _drag(page, start: tuple[float, float], end: tuple[float, float]) -> None:
    """Press at `start` and release at `end`, in viewport heights from its centre: the square image fills
    the height, so +-0.5 is its edge. The box is read after scrolling it into view (a click on the toolbar
    may have scrolled the page)."""
    viewport = page.get_by_test_id("viewport")
    viewport.scroll_into_view_if_needed()
    box = viewport.bounding_box()
    centre_x, centre_y, height = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2, box["height"]
    page.mouse.move(centre_x + start[0] * height, centre_y + start[1] * height)
    page.mouse.down()
    page.mouse.move(centre_x + end[0] * height, centre_y + end[1] * height, steps=8)
    page.mouse.up()


def test_measurements_are_saved_listed_and_drawn_again(sign_in, base_url, screenshot, tmp_path):
    page = sign_in("radiologist")
    study = _upload(page, tmp_path)
    viewer = _open(page, base_url, study)
    viewer.get_by_text("길이", exact=True).click()
    _drag(page, (-0.3, -0.3), (0.3, -0.2))
    viewer.get_by_text("타원", exact=True).click()
    # away from the line (a press on a drawing moves it), and inside the image whether the press is the
    # ellipse's corner or its centre
    _drag(page, (0.0, 0.15), (0.1, 0.25))
    screenshot(page, "study-viewer-drawn")
    with page.expect_request(lambda request: request.method == "POST" and "/measurements" in request.url) as sent:
        viewer.get_by_role("button", name="계측 저장").click()
    message = viewer.get_by_test_id("measurement-message")
    message.wait_for(timeout=60_000)
    saved = message.inner_text()
    assert saved == "계측 2개를 DICOM SR로 PACS에 저장했습니다.", (saved, sent.value.post_data)

    listed = page.get_by_test_id("study-measurements")
    listed.get_by_text(re.compile(r"mm²")).wait_for(timeout=30_000)
    rows = listed.locator("tbody tr")
    assert rows.count() == 2
    assert re.search(r"\d+\.\d mm$", rows.nth(0).locator("td").nth(3).inner_text())
    screenshot(page, "study-measurements")

    page.reload()  # opened again: drawn from the SR on the slice they were made on
    _open(page, base_url, study)
    svg = page.locator("[data-testid=viewport] svg")
    page.wait_for_function(
        "() => document.querySelector('[data-testid=viewport] svg line')"
        " && document.querySelector('[data-testid=viewport] svg ellipse')",
        timeout=60_000,
    )
    assert svg.locator("ellipse").count() >= 1 and svg.locator("line").count() >= 1
    assert page.get_by_test_id("study-measurements").locator("tbody tr").count() == 2
    screenshot(page, "study-viewer-measurements")
    assert page.errors == []
