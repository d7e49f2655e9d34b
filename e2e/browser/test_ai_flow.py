"""AI analyses in the browser: a DOCTOR requests one, sees its progress and result without reloading (the
websocket), the result carries the disclaimer; the radiologist opens it from the sign-off worklist and
approves it with the viewer beside the controls; a radiographer gets no sign-off. Needs the /api/ai endpoints, the
ai-server and its consumer, and a registered model of the task (make run registers the shipped ones)."""

import re
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def registered_tasks(base_url, env) -> set[str]:
    with requests.Session() as http:
        http.verify = False
        http.trust_env = False
        token = http.post(
            f"{base_url}/api/auth/token", json={"username": "doctor", "password": env["DEMO_PASSWORD"]}, timeout=10
        )
        assert token.status_code == 201, f"cannot sign in as doctor: {token.status_code}"
        http.headers["Authorization"] = f"Token {token.json()['token']}"
        answer = http.get(f"{base_url}/api/ai/models", timeout=30)
        http.delete(f"{base_url}/api/auth/token", timeout=10)
    assert answer.status_code == 200, f"/api/ai/models answered {answer.status_code}: {answer.text[:300]}"
    return {model.get("task", "") for model in answer.json().get("models", [])}


def _worklist_job_ids(page, base_url: str) -> set[str]:
    """Every job on the sign-off worklist, all pages, read with the signed-in page's session."""
    ids: set[str] = set()
    for number in range(1, 1000):
        answer = page.request.get(f"{base_url}/api/ai/worklist?page={number}")
        assert answer.ok, f"worklist page {number}: {answer.status}"
        body = answer.json()
        ids |= {str(item["job_id"]) for item in body["results"]}
        if not body.get("next"):
            break
    return ids


def review_as_rib(browser, log_in, base_url, job_path: str, screenshot, name: str) -> None:
    context = browser.new_context(ignore_https_errors=True, viewport={"width": 1440, "height": 900}, locale="ko-KR")
    try:
        rib = log_in(context.new_page(), "radiologist")
        rib.goto(f"{base_url}/worklist")  # the result waits on the radiologists' worklist
        rib.get_by_test_id("sign-off-worklist").wait_for()
        screenshot(rib, f"{name}-worklist")
        # The worklist shows the longest-waiting first, so on a stack that other runs left results on, a new one
        # may be on a later page: it must be listed (any page, as the radiologist reads it), then it is opened.
        assert job_path.rsplit("/", 1)[1] in _worklist_job_ids(rib, base_url), f"{job_path} is not on the worklist"
        rib.goto(f"{base_url}/{job_path}")
        rib.wait_for_url(re.compile(re.escape(job_path) + "$"))
        review = rib.get_by_test_id("review")
        review.wait_for()
        review.get_by_label("의견").fill("Reviewed in the browser end-to-end test.")
        review.get_by_role("button", name="승인").click()
        review.get_by_text("최종").wait_for()
        rib.get_by_test_id("ai-disclaimer").wait_for()
        screenshot(rib, name)
    finally:
        context.close()


@pytest.mark.timeout(420)
def test_doctor_requests_omics_risk_and_rib_approves(registered_tasks, sign_in, log_in, base_url, screenshot, browser):
    assert "omics-risk" in registered_tasks
    profile = next(ROOT.glob("ai-server/models/*/*/example-profile.csv"))
    page = sign_in("doctor")
    page.locator("table a[href^='/patients/']").first.click()
    page.get_by_role("link", name="이 환자의 오믹스 분석").click()
    page.wait_for_url(re.compile(r"/ai/expression\?patient="))
    page.locator("input[type=file]").set_input_files(str(profile))
    page.get_by_text("업로드됨").wait_for()
    page.get_by_role("button", name="분석 요청").click()
    page.wait_for_url(re.compile(r"/ai/jobs/[0-9a-f-]+$"))
    job_path = page.url.split("://", 1)[1].split("/", 1)[1]
    page.get_by_test_id("job-progress").wait_for()
    page.get_by_test_id("risk-score").wait_for(timeout=300_000)  # arrives over the websocket, no reload
    assert page.get_by_test_id("km-chart").locator("path").count() >= 2
    assert "임상에 사용할 수 없습니다" in page.get_by_test_id("ai-disclaimer").inner_text()
    screenshot(page, "ai-omics-result")
    review_as_rib(browser, log_in, base_url, job_path, screenshot, "ai-omics-approved")


@pytest.mark.timeout(420)
def test_doctor_requests_segmentation_and_rib_approves(
    lesion_study, registered_tasks, sign_in, log_in, base_url, screenshot, browser
):  # lesion_study first: its upload (a minute on a busy machine) happens before the page opens
    assert "segmentation" in registered_tasks
    page = sign_in("doctor")
    page.goto(f"{base_url}/radiology/studies/{lesion_study['id']}")
    page.get_by_role("button", name="분석 요청").click()
    page.wait_for_url(re.compile(r"/ai/jobs/[0-9a-f-]+$"))
    job_path = page.url.split("://", 1)[1].split("/", 1)[1]
    page.get_by_test_id("job-progress").wait_for()
    screenshot(page, "ai-segmentation-running")
    page.get_by_test_id("volumes").wait_for(timeout=300_000)
    assert "임상에 사용할 수 없습니다" in page.get_by_test_id("ai-disclaimer").inner_text()
    page.get_by_test_id("study-viewer").wait_for(timeout=60_000)
    screenshot(page, "ai-segmentation-result")
    review_as_rib(browser, log_in, base_url, job_path, screenshot, "ai-segmentation-approved")
    # signed, it joins the patient's tumour course: volume against study date, labelled an aid, not RANO
    page.goto(f"{base_url}/patients/{lesion_study['patient']['emr_uuid']}")
    course = page.get_by_test_id("tumour-course")
    course.get_by_test_id("dated-line-chart").wait_for(timeout=30_000)
    assert course.get_by_test_id("series-lesion").locator("circle").count() >= 1
    assert "RANO 평가가 아닙니다" in course.get_by_test_id("course-aid").inner_text()
    course.scroll_into_view_if_needed()
    screenshot(page, "tumour-course")


def test_a_radiographer_has_no_sign_off_worklist(sign_in, base_url):
    page = sign_in("radiographer")
    assert page.locator("nav a[href='/worklist']").count() == 0
    page.goto(f"{base_url}/worklist")
    page.get_by_test_id("no-access").wait_for()
