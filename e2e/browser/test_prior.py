"""The prior study beside the current one, in a real browser (docs/radiology.md "Prior comparison"): the
demo patient MRN100012 has three dated brain MR studies (make run loads them, test_demo_data.py checks
them) with signed AI segmentations. The radiologist opens the newest, compares it with the prior, scrolls
the current study and finds the prior on the slice at the same position, each with its own AI overlay."""

import json
import re

import pytest
from test_demo_data import MANIFEST, WAIT_SECONDS, _finished_jobs, _patient

MRN = "MRN100012"
SLICE = re.compile(r"^\d+ / 95$")


def _demo_studies(http, base_url, headers) -> dict[str, int]:
    """{study date: CDSS study id} of the demo patient's studies, once their analyses have finished."""
    manifest = json.loads(MANIFEST.read_text())
    uids = {item["study_instance_uid"]: item["study_date"] for item in manifest["studies"] if item["mrn"] == MRN}
    patient = _patient(http, base_url, headers, MRN)
    studies = http.get(f"{base_url}/api/radiology/studies", params={"patient": patient["emr_uuid"]}, headers=headers,
                       timeout=10).json()["results"]  # fmt: skip
    _finished_jobs(http, base_url, headers, patient["emr_uuid"])  # the overlays exist
    return {uids[study["study_instance_uid"]]: study["id"] for study in studies if study["study_instance_uid"] in uids}


def _index(pane) -> int:
    """The slice the pane shows (0-based)."""
    return int(pane.get_by_test_id("viewport-pane").get_attribute("data-index"))


@pytest.mark.timeout(WAIT_SECONDS + 180)
def test_the_prior_is_shown_beside_the_current_study_registered_by_position(
    sign_in, base_url, http, token_headers, screenshot
):
    studies = _demo_studies(http, base_url, token_headers("radiologist"))
    assert sorted(studies) == ["2026-06-02", "2026-09-01", "2026-11-24"], studies
    page = sign_in("radiologist")
    page.goto(f"{base_url}/radiology/studies/{studies['2026-11-24']}")
    page.get_by_role("button", name="이전 검사와 비교").click()

    panes = page.get_by_test_id("compare-pane")
    panes.nth(1).wait_for(timeout=60_000)
    assert panes.count() == 2
    current, prior = panes.nth(0), panes.nth(1)
    current.get_by_text("현재 2026-11-24 · T1 AX (synthetic demo)").wait_for()
    prior.get_by_text("이전 2026-09-01 · T1 AX (synthetic demo)").wait_for()  # the most recent earlier study
    for pane in (current, prior):  # both stacks on screen, each with its own study's AI segmentation shown
        pane.get_by_text(SLICE).wait_for(timeout=60_000)
        pane.get_by_text("오버레이 표시 중").wait_for(timeout=60_000)
    page.get_by_test_id("offset").filter(has_text="오프셋 0.0 mm").wait_for()  # one grid: absolute positions
    screenshot(page, "prior-comparison")

    start = _index(current)
    box = current.get_by_test_id("pane-viewport").bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    for _ in range(12):  # Cornerstone's stack scroll: one slice per wheel step
        page.mouse.wheel(0, 120)
        page.wait_for_timeout(50)
    page.wait_for_function(
        "([start]) => { const [a, b] = document.querySelectorAll('[data-testid=compare-pane] [data-slot]');"
        " return !!b && Number(a.dataset.index) !== start && a.dataset.index === b.dataset.index; }",
        arg=[start],
        timeout=30_000,
    )
    # The demo studies share the template's grid: the slice at the same position has the same number.
    assert _index(current) != start and _index(prior) == _index(current)
    screenshot(page, "prior-comparison-scrolled")

    # Another prior from the list: the oldest study, with its date.
    page.get_by_role("combobox", name="이전 검사").click()
    page.get_by_role("option", name=re.compile("^2026-06-02")).click()
    page.get_by_test_id("compare-pane").nth(1).get_by_text(re.compile("^이전 2026-06-02")).wait_for()
    assert page.errors == []
