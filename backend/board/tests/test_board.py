"""The tumour-board summary, its PDF and its share to the FHIR server, with known data: a patient of the
OpenEMR stand-in, studies at three dates with approved volumes, a newer study whose segmentation waits
for sign-off, and an omics risk."""

import base64
import hashlib
import io
from datetime import date

import pytest
import requests
from django.conf import settings

from ai.tests.factories import put_artifact
from audit.models import Action, AuditEvent
from board import pdf
from board.models import BoardReport
from core.messaging.names import FHIR_SYNC_TASK
from core.models import OutboxMessage

from .conftest import finished, omics
from .pdftext import pdf_text

pytestmark = pytest.mark.django_db
KOREAN = {"HTTP_ACCEPT_LANGUAGE": "ko"}
VOLUMES = [(date(2026, 3, 2), 14.2), (date(2026, 6, 1), 9.8), (date(2026, 9, 7), 11.5)]


@pytest.fixture
def chart(emr_patient, make_user):
    """The patient's imaging and AI results; returns what the summary must show."""
    from ai.tests.factories import make_study
    from radiology.models import Study

    rib = make_user("RIB")
    trend = []
    for when, volume in VOLUMES:
        study = make_study(emr_patient)
        Study.objects.filter(pk=study.pk).update(study_date=when)
        result = finished(rib, study, status="FINAL", metrics={"volume_ml": {"lesion": volume}})
        trend.append({"date": when.isoformat(), "study_id": study.pk, "result_id": result.pk,
                      "volumes_ml": {"lesion": volume}})  # fmt: skip
    latest = make_study(emr_patient)
    Study.objects.filter(pk=latest.pk).update(study_date=date(2026, 11, 30))
    pending = finished(
        rib, latest, status="PRELIMINARY", metrics={"volume_ml": {"lesion": 12.0}},
        artifacts=("overlay-010", "overlay-011", "overlay-012"),
    )  # fmt: skip
    risk = omics(rib, emr_patient, status="FINAL", group="high", score=1.234, percentile=91.5)
    return {"patient": emr_patient, "trend": trend, "latest": latest, "pending": pending, "omics": risk}


def test_the_summary_shows_each_source_and_is_audited_once(doctor, chart):
    from emr.clients.openemr_client import get_openemr_client

    patient = chart["patient"]
    reads = AuditEvent.objects.filter(action=Action.READ, patient_id=patient.emr_uuid)
    before = reads.count()

    answer = doctor.get(f"/api/patients/{patient.emr_uuid}/board")

    assert answer.status_code == 200, answer.content[:300]
    body = answer.json()
    assert body["patient"]["emr_uuid"] == patient.emr_uuid and body["patient"]["mrn"] == patient.mrn
    imaging = body["imaging"]
    latest = chart["latest"]
    assert imaging["study"]["id"] == latest.pk and imaging["study"]["study_date"] == "2026-11-30"
    series = latest.series.get()
    assert imaging["thumbnail_url"] == f"/api/radiology/studies/{latest.pk}/series/{series.pk}/thumbnail"
    pending = chart["pending"]
    assert imaging["overlay"]["result_id"] == pending.pk and imaging["overlay"]["status"] == "PRELIMINARY"
    assert imaging["overlay"]["url"] == f"/api/ai/jobs/{pending.job_id}/artifacts/overlay-011"
    assert body["volume_trend"] == chart["trend"], "only FINAL results, oldest first"
    assert body["omics"]["risk_group"] == "high" and body["omics"]["risk_score"] == 1.234
    assert body["omics"]["result_id"] == chart["omics"].pk
    assert [row["result_id"] for row in body["pending_signoffs"]] == [pending.pk]

    emr = get_openemr_client()
    assert {row["title"] for row in body["problems"]} == {
        row["title"] for row in emr.medical_problems(patient.emr_uuid)
    }
    medications = emr.medications(patient.emr_pid, patient.emr_uuid)
    assert {row["title"] for row in body["medications"]} == {row["title"] for row in medications}
    assert body["problems"] and body["medications"] and body["emr_error"] is None

    assert reads.count() == before + 1, "one READ event for the whole summary"
    event = reads.latest("id")
    assert event.resource_type == "patient_board" and event.actor_username == doctor.user.username
    assert set(event.detail["results"]) >= {pending.pk, chart["omics"].pk}


def test_the_summary_still_answers_when_the_emr_is_down(doctor, chart, emr):
    patient = chart["patient"]
    requests.post(f"{emr.origin}/__control__/faults", json={"outage": True}, timeout=5).raise_for_status()

    body = doctor.get(f"/api/patients/{patient.emr_uuid}/board").json()

    assert body["emr_error"] and body["problems"] == [] and body["medications"] == []
    assert body["volume_trend"] == chart["trend"]


def test_an_unknown_patient_is_404(doctor, emr):
    assert doctor.get("/api/patients/no-such-patient/board").status_code == 404


def test_the_pdf_in_korean_names_the_patient_and_embeds_a_subset_of_noto(token_client, chart, board_font):
    patient = chart["patient"]
    patient.family_name, patient.given_name = "김", "민준"
    patient.save()
    job = chart["pending"].job_id
    put_artifact(f"jobs/{job}/overlay-011.png", _png(), "image/png")  # the overlay the summary shows
    nurse = token_client("NURSE")

    answer = nurse.get(f"/api/patients/{patient.emr_uuid}/board.pdf", **KOREAN)

    assert answer.status_code == 200, answer.content[:300]
    assert answer["Content-Type"] == "application/pdf"
    assert answer["Content-Disposition"].startswith('attachment; filename="tumour-board-')
    data = answer.content
    assert data.startswith(b"%PDF-")
    pages, text = pdf_text(data)
    assert "김 민준" in text and "종양 다학제 회의 요약" in text, text[:300]
    assert "high" in text  # the model's risk group, as it reported it
    assert "11.5" in text and "14.2" in text  # the trend's volumes
    assert 1 <= pages <= 3, f"{pages} pages"
    assert b"NotoSansCJKkr-Regular" in data and b"/FontFile2" in data
    assert b"/Subtype /Image" in data, "the AI overlay is in the PDF"
    assert len(data) < 400_000, "the font is embedded as a subset, not whole (2 MB)"
    export = AuditEvent.objects.filter(action=Action.EXPORT, resource_type="patient_board_pdf").latest("id")
    assert export.patient_id == patient.emr_uuid and export.detail["language"] == "ko"


def test_the_pdf_in_english_when_asked_by_the_link(doctor, chart, board_font):
    answer = doctor.get(f"/api/patients/{chart['patient'].emr_uuid}/board.pdf?lang=en", **KOREAN)
    _, text = pdf_text(answer.content)
    assert "Tumour board summary" in text and "Pending sign-offs" in text
    assert b"/Subtype /Image" not in answer.content, "the overlay is not in storage: left out, not a failure"


def _png() -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 30, 30)).save(buffer, format="PNG")
    return buffer.getvalue()


def test_a_missing_font_is_a_clear_503(doctor, chart, settings, tmp_path):
    settings.BOARD_PDF_FONT = str(tmp_path / "none.ttf")
    answer = doctor.get(f"/api/patients/{chart['patient'].emr_uuid}/board.pdf")
    assert answer.status_code == 503
    assert "board_font.py" in answer.json()["detail"] and "none.ttf" in answer.json()["detail"]


def test_the_packaged_noto_font_is_refused_with_the_reason_not_replaced(settings):
    """fonts-noto-cjk ships PostScript (CFF) outlines, which reportlab cannot embed: never a silent fallback."""
    source = "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"
    settings.BOARD_PDF_FONT = source
    with pytest.raises(pdf.FontUnavailable, match=r"board_font\.py"):
        pdf.font_name()


def test_sharing_sends_a_diagnostic_report_with_the_pdf_to_the_fhir_server(rib, chart, board_font, fhir):
    from fhir_sync import services as fhir_services
    from fhir_sync.identifiers import SYSTEMS
    from fhir_sync.tests.r4 import valid_r4

    patient = chart["patient"]
    answer = rib.post(f"/api/patients/{patient.emr_uuid}/board/share", **KOREAN)

    assert answer.status_code == 202, answer.content[:300]
    report = BoardReport.objects.get(pk=answer.json()["id"])
    assert report.language == "ko" and report.pending_signoffs == 1 and bytes(report.pdf).startswith(b"%PDF-")
    queued = OutboxMessage.objects.filter(target=FHIR_SYNC_TASK).latest("created_at")
    assert queued.payload["args"] == ["board.report", str(report.pk)]
    shared = AuditEvent.objects.filter(action=Action.EXPORT, resource_type="board_report").latest("id")
    assert shared.resource_id == str(report.pk) and shared.patient_id == patient.emr_uuid

    result = fhir_services.sync_entity_now(*queued.payload["args"])  # what the fhir worker runs for that message

    assert result.outcome == "created" and result.reference.startswith("DiagnosticReport/")
    stored = requests.get(
        f"{settings.FHIR_BASE_URL}/{result.reference}", headers={"Accept": "application/fhir+json"}, timeout=10
    ).json()
    assert stored["identifier"] == [{"system": SYSTEMS["DiagnosticReport"], "value": f"board-{report.pk}"}]
    assert stored["status"] == "partial", "a result still waits for sign-off"
    valid_r4(stored)  # the R4 structure definitions, as the FHIR server holds it
    assert stored["code"]["coding"] == [
        {"system": "http://loinc.org", "code": "85232-7", "display": "Tumor board Consult note"}
    ]
    assert stored["subject"]["reference"].startswith("Patient/")
    (form,) = stored["presentedForm"]
    assert form["contentType"] == "application/pdf" and form["language"] == "ko"
    assert form["title"] == "종양 다학제 회의 요약"
    pdf_bytes = base64.b64decode(form["data"])
    assert pdf_bytes == bytes(report.pdf)
    assert form["hash"] == base64.b64encode(hashlib.sha1(pdf_bytes).digest()).decode()  # noqa: S324
    assert fhir_services.sync_entity_now("board.report", report.pk).outcome == "unchanged"


def test_nurses_cannot_share(nurse, chart, board_font):
    answer = nurse.post(f"/api/patients/{chart['patient'].emr_uuid}/board/share")
    assert answer.status_code == 403
    assert not BoardReport.objects.exists()
