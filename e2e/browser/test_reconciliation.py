"""Reconciliation in the browser (issue 14): a RIB links a study whose PatientID the EMR does not know to a
patient and rejects the images of a study that reused another patient's StudyInstanceUID; a DOCTOR then
requests an AI analysis on the linked study. The studies are uploaded through the API (the upload screen
has its own test); every resolution is made in the web UI."""

import re
import sys
import uuid
from pathlib import Path

import pytest
from api_session import api_session

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "backend"))  # real DICOM with fresh UIDs, as the backend tests make it

from radiology.testing import series_instances, to_bytes  # noqa: E402


@pytest.fixture(scope="module")
def rib_api(base_url, env):
    """A RIB's API session, to set the scene and to check what the browser did."""
    with api_session(base_url, env) as http:
        yield http


@pytest.fixture(scope="module")
def two_patients(rib_api, base_url) -> list[dict]:
    patients = rib_api.get(f"{base_url}/api/patients", timeout=30).json()["results"]
    assert len(patients) >= 2, "the demo EMR has fewer than two patients"
    return patients[:2]


def upload(http, base_url, patient_id: str, count: int, study_uid: str | None = None) -> dict:
    """Uploads a new series (of a new study unless study_uid is given); returns the CDSS study it went to."""
    datasets = series_instances(
        count, description="AX T1 reconciliation e2e", patient_id=patient_id, study_uid=study_uid
    )
    files = [
        ("files", (f"im{index}.dcm", to_bytes(dataset), "application/dicom")) for index, dataset in enumerate(datasets)
    ]
    answer = http.post(f"{base_url}/api/radiology/uploads", files=files, timeout=300)
    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert body["counts"] == {"stored": count, "already_stored": 0, "rejected": 0}, body
    [study] = body["studies"]
    return {**study, "study_instance_uid": datasets[0].StudyInstanceUID}


def open_from_worklist(page, base_url, study_id: int, status_label: str) -> None:
    """The RIB's way in: the worklist's tab with its count, filtered by status, then the study's row."""
    page.goto(f"{base_url}/radiology")
    tab = page.get_by_role("tab", name=re.compile("환자 확인 필요"))
    assert int(tab.get_by_test_id("reconcile-count").inner_text()) >= 1
    tab.click()
    page.get_by_test_id("status-filter").get_by_text(status_label, exact=True).click()
    page.locator(f"a[href='/radiology/reconciliation/{study_id}']").click()
    page.get_by_test_id("dicom-identity").wait_for()


@pytest.mark.timeout(300)
def test_rib_links_an_unknown_patients_study_then_a_doctor_requests_ai(
    rib_api, two_patients, base_url, sign_in, log_in, browser, screenshot
):
    target = two_patients[1]
    unknown_id = f"E2E-{uuid.uuid4().hex[:10].upper()}"  # a PatientID the EMR does not know
    study = upload(rib_api, base_url, unknown_id, count=8)
    assert study["status"] == "RECONCILE", study

    page = sign_in("radiologist")
    open_from_worklist(page, base_url, study["id"], "확인 필요")
    identity = page.get_by_test_id("dicom-identity")
    assert unknown_id in identity.inner_text()
    thumbnail = page.get_by_test_id("reconcile-thumbnail")
    thumbnail.wait_for()
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=thumbnail.element_handle())
    page.get_by_role("textbox", name="다른 환자 검색").fill(target["mrn"])
    results = page.get_by_test_id("patient-results")
    results.get_by_role("row").filter(has_text=target["mrn"]).get_by_role("button", name="선택").click()
    assert target["mrn"] in page.get_by_test_id("chosen-patient").inner_text()
    link = page.get_by_role("button", name="환자에 연결")
    assert link.is_disabled()  # no comment yet
    page.get_by_role("textbox", name=re.compile("사유 기록")).fill(
        "Registered late in the EMR; confirmed with the ward (e2e)."
    )
    screenshot(page, "reconcile-link")
    link.click()
    page.wait_for_url(re.compile(rf"/radiology/studies/{study['id']}$"))
    page.get_by_text("연결됨").first.wait_for()

    linked = rib_api.get(f"{base_url}/api/radiology/studies/{study['id']}", timeout=30).json()
    assert (linked["status"], linked["patient"]) == ("LINKED", target["emr_uuid"])

    context = browser.new_context(ignore_https_errors=True, viewport={"width": 1440, "height": 900}, locale="ko-KR")
    try:
        doctor = log_in(context.new_page(), "doctor")
        doctor.goto(f"{base_url}/radiology/studies/{study['id']}")
        request = doctor.get_by_role("button", name="분석 요청")
        request.wait_for()
        assert request.is_enabled()
        request.click()
        doctor.wait_for_url(re.compile(r"/ai/jobs/[0-9a-f-]+$"))
        doctor.get_by_test_id("job-progress").wait_for()
        screenshot(doctor, "reconcile-ai-requested")
    finally:
        context.close()


@pytest.mark.timeout(300)
def test_rib_rejects_images_that_reused_another_patients_study_uid(
    rib_api, two_patients, base_url, sign_in, screenshot
):
    first, second = two_patients
    original = upload(rib_api, base_url, first["mrn"], count=4)
    assert original["status"] == "LINKED", original
    before = rib_api.get(f"{base_url}/api/radiology/studies/{original['id']}", timeout=30).json()
    conflict = upload(rib_api, base_url, second["mrn"], count=3, study_uid=original["study_instance_uid"])
    assert conflict["status"] == "CONFLICT" and conflict["id"] != original["id"], conflict

    page = sign_in("radiologist")
    open_from_worklist(page, base_url, conflict["id"], "충돌")
    existing = page.get_by_test_id("existing-study")
    assert first["mrn"] in existing.inner_text()
    assert (
        existing.get_by_role("link", name="검사 열기").get_attribute("href") == f"/radiology/studies/{original['id']}"
    )
    assert second["mrn"] in page.get_by_test_id("dicom-identity").inner_text()
    candidate = page.get_by_test_id("candidate").filter(has_text=second["mrn"])
    assert candidate.get_by_test_id("match-patient_id").inner_text() == second["mrn"]
    page.get_by_role("textbox", name=re.compile("사유 기록")).fill(
        "Sent with the wrong study UID by the modality (e2e)."
    )
    page.get_by_role("button", name="영상 거부").click()
    page.get_by_text("PACS에서 삭제됩니다").wait_for()
    screenshot(page, "reconcile-conflict")
    page.get_by_role("button", name="영상 삭제").click()
    page.wait_for_url(re.compile(r"/radiology\?tab=reconciliation$"))
    page.get_by_role("tab", name=re.compile("환자 확인 필요"), selected=True).wait_for()
    page.get_by_test_id("reconcile-row").or_(page.get_by_text("환자 확인을 기다리는 검사가 없습니다.")).first.wait_for()
    assert page.locator(f"a[href='/radiology/reconciliation/{conflict['id']}']").count() == 0

    gone = rib_api.get(f"{base_url}/api/radiology/reconciliation/{conflict['id']}", timeout=30)
    assert gone.status_code == 404, gone.text
    after = rib_api.get(f"{base_url}/api/radiology/studies/{original['id']}", timeout=30).json()
    keep = ("patient", "status", "number_of_series", "number_of_instances")
    assert {key: after[key] for key in keep} == {key: before[key] for key in keep}
    assert [series["series_instance_uid"] for series in after["series"]] == [
        series["series_instance_uid"] for series in before["series"]
    ]


def test_admin_sees_the_list_and_a_study_read_only(rib_api, base_url, sign_in):
    study = upload(rib_api, base_url, f"E2E-{uuid.uuid4().hex[:10].upper()}", count=1)
    assert study["status"] == "RECONCILE", study

    page = sign_in("admin")
    page.get_by_role("navigation").get_by_role("link", name="환자 확인 필요").click()
    page.locator(f"a[href='/radiology/reconciliation/{study['id']}']").click()
    page.get_by_test_id("dicom-identity").wait_for()
    page.get_by_text("읽기 전용").wait_for()
    for name in ("환자에 연결", "영상 거부"):
        assert page.get_by_role("button", name=name).count() == 0
    assert page.get_by_role("radio").count() == 0
    assert page.get_by_role("img").count() == 0  # the image is for clinical staff; no broken picture
    assert page.errors == []
