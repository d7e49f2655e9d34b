"""Submitting, listing, reading and cancelling AI jobs through the API; expression-profile uploads."""

import uuid

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile

from ai.models import AIJob, ExpressionUpload
from audit.models import Action, AuditEvent
from core.errors import InvalidTransition
from core.models import OutboxMessage
from core.storage import storage_client

from .factories import DISCLAIMERS, complete, make_job, make_patient, make_study

pytestmark = pytest.mark.django_db
JOBS = "/api/ai/jobs"


def test_submit_queues_the_job_and_its_message_in_one_go(doctor):
    study = make_study()
    series_uid = study.series.get().series_instance_uid
    response = doctor.post(
        JOBS, {"model": "mri-lesion-demo", "study": study.pk, "series_instance_uids": [series_uid]}, format="json"
    )
    assert response.status_code == 202, response.content
    body = response.json()
    job = AIJob.objects.get(pk=body["id"])
    assert (job.status, job.attempts, job.task, job.patient_id) == ("QUEUED", 1, "segmentation", study.patient_id)
    assert body["status"] == "QUEUED" and body["patient"] == study.patient.emr_uuid and body["result"] is None
    assert body["requested_by"] == doctor.user.username and body["model_version"] == ""

    [message] = OutboxMessage.objects.filter(target="ai.job.create", payload__job_id=str(job.pk))
    assert message.kind == "topic"
    assert message.payload == {
        "job_id": str(job.pk),
        "attempt": 1,
        "model": "mri-lesion-demo",
        "model_version": None,
        "input": {
            "kind": "dicom-study",
            "study_instance_uid": study.study_instance_uid,
            "patient_id": study.dicom_patient_id,  # the ai-server reads this patient's images only
            "series_instance_uids": [series_uid],
        },
        "deadline": job.deadline.isoformat(),
        "requested_at": job.created_at.isoformat(),
    }
    delta = (job.deadline - job.created_at).total_seconds()
    assert abs(delta - settings.AI_JOB_DEADLINE_SECONDS) < 5
    created = AuditEvent.objects.get(action=Action.CREATE, resource_type="ai_job", resource_id=str(job.pk))
    assert created.actor_id == doctor.user.pk and created.patient_id == study.patient.emr_uuid


def test_radiology_staff_may_submit_with_a_version(rib):
    response = rib.post(JOBS, {"model": "mri-lesion-demo", "model_version": "1.0.0", "study": make_study().pk})
    assert response.status_code == 202, response.content
    message = OutboxMessage.objects.get(payload__job_id=response.json()["id"])
    assert message.payload["model_version"] == "1.0.0" and message.payload["input"]["series_instance_uids"] == []


@pytest.mark.parametrize("role", ["NURSE", "OPS", "ADMIN"])
def test_other_roles_may_not_submit(token_client, role):
    study = make_study()
    response = token_client(role).post(JOBS, {"model": "mri-lesion-demo", "study": study.pk}, format="json")
    assert response.status_code == 403
    assert not AIJob.objects.exists() and not OutboxMessage.objects.filter(target="ai.job.create").exists()


def test_bad_input_is_refused_with_a_clear_4xx(doctor):
    study = make_study()

    def post(body):
        response = doctor.post(JOBS, body, format="json")
        assert response.status_code == 400, (body, response.content)
        return response.json()["fields"]

    assert "study" in post({"model": "mri-lesion-demo", "study": 999999999})  # unknown study
    assert "study" in post({"model": "mri-lesion-demo", "study": "abc"})  # wrong type
    assert "model" in post({"study": study.pk})
    assert "model" in post({"model": "../etc/passwd", "study": study.pk})
    assert "model" in post({"model": ["x"], "study": study.pk})
    assert "model_version" in post({"model": "m", "model_version": "1 0", "study": study.pk})
    assert "non_field_errors" in post({"model": "m"})  # no input
    upload = _upload(study.patient)
    assert "non_field_errors" in post({"model": "m", "study": study.pk, "expression_upload": str(upload.pk)})
    assert "expression_upload" in post({"model": "m", "expression_upload": "not-a-uuid"})
    assert "expression_upload" in post({"model": "m", "expression_upload": str(uuid.uuid4())})
    assert "series_instance_uids" in post({"model": "m", "study": study.pk, "series_instance_uids": ["1.2.3"]})
    assert "series_instance_uids" in post({"model": "m", "study": study.pk, "series_instance_uids": "1.2"})
    response = doctor.post(JOBS, "not json", content_type="application/json")
    assert response.status_code == 400
    assert not AIJob.objects.exists()


def test_a_study_not_matched_to_a_patient_is_refused(doctor):
    study = make_study(linked=False)
    response = doctor.post(JOBS, {"model": "mri-lesion-demo", "study": study.pk}, format="json")
    assert response.status_code == 400
    [reason] = response.json()["fields"]["study"]
    assert "not matched to an EMR patient" in reason and study.reconciliation_reason in reason
    assert not AIJob.objects.exists()


def test_list_and_detail_for_clinical_staff_audited(doctor, nurse, ops, make_user):
    mine = make_job(doctor.user)
    other = make_job(make_user("DOCTOR"))
    listed = nurse.get(JOBS).json()
    assert {row["id"] for row in listed["results"]} == {str(mine.pk), str(other.pk)}
    assert [row["id"] for row in doctor.get(JOBS, {"mine": "true"}).json()["results"]] == [str(mine.pk)]
    by_patient = nurse.get(JOBS, {"patient": mine.patient.emr_uuid}).json()["results"]
    assert [row["id"] for row in by_patient] == [str(mine.pk)]
    assert nurse.get(JOBS, {"status": "COMPLETED"}).json()["results"] == []
    assert nurse.get(JOBS, {"status": "NOPE"}).status_code == 400
    assert ops.get(JOBS).status_code == 403

    detail = nurse.get(f"{JOBS}/{mine.pk}")
    assert detail.status_code == 200 and detail.json()["progress"] == {"stage": None, "fraction": None}
    read = AuditEvent.objects.filter(action=Action.READ, resource_type="ai_job", resource_id=str(mine.pk))
    assert read.get().patient_id == mine.patient.emr_uuid
    assert nurse.get(f"{JOBS}/{uuid.uuid4()}").status_code == 404
    assert nurse.get(f"{JOBS}/not-a-uuid").status_code == 404


def test_the_list_costs_the_same_queries_for_more_jobs(doctor, rib, django_assert_max_num_queries):
    complete(make_job(rib.user))
    doctor.get(JOBS)  # the first request of a process loads what it caches
    with django_assert_max_num_queries(12) as few:
        assert len(doctor.get(JOBS).json()["results"]) == 1
    for _ in range(4):
        complete(make_job(rib.user))
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert len(doctor.get(JOBS).json()["results"]) == 5


def test_detail_shows_the_result_with_artifact_links(doctor):
    job = complete(make_job(doctor.user))
    result = doctor.get(f"{JOBS}/{job.pk}").json()["result"]
    assert result["status"] == "PRELIMINARY" and result["metrics"]["lesion_count"] == 2
    assert result["artifacts"][0] == {
        "name": "seg",
        "content_type": "application/dicom",
        "size": 4,
        "url": f"/api/ai/jobs/{job.pk}/artifacts/seg",
    }
    assert "key" not in result["artifacts"][0] and "bucket" not in result["artifacts"][0]


def test_the_result_disclaimer_is_the_model_cards_in_the_users_language(doctor):
    job = complete(make_job(doctor.user))
    url = f"{JOBS}/{job.pk}"
    assert doctor.get(url).json()["result"]["disclaimer"] == DISCLAIMERS["en"]
    assert doctor.get(url, HTTP_ACCEPT_LANGUAGE="ko").json()["result"]["disclaimer"] == DISCLAIMERS["ko"]
    assert doctor.get(url, HTTP_ACCEPT_LANGUAGE="ko-KR").json()["result"]["disclaimer"] == DISCLAIMERS["ko"]
    # a result from a model whose card gives English only, or stored before cards held translations
    english_only = complete(make_job(doctor.user), disclaimers=None)
    answered = doctor.get(f"{JOBS}/{english_only.pk}", HTTP_ACCEPT_LANGUAGE="ko").json()["result"]["disclaimer"]
    assert answered == DISCLAIMERS["en"]
    # a blank translation is none; the English one stands in
    blank = complete(make_job(doctor.user), disclaimers={"en": DISCLAIMERS["en"], "ko": "  "})
    assert blank.result.disclaimers == {"en": DISCLAIMERS["en"]}


def test_cancel_by_requester_or_radiology_staff_only(doctor, rib, token_client):
    job = make_job(doctor.user)
    other_doctor = token_client("DOCTOR")
    assert other_doctor.post(f"{JOBS}/{job.pk}/cancel").status_code == 403
    response = doctor.post(f"{JOBS}/{job.pk}/cancel")
    assert response.status_code == 200 and response.json()["status"] == "CANCELLED"
    job.refresh_from_db()
    assert job.status == "CANCELLED" and job.finished_at is not None
    change = AuditEvent.objects.get(action=Action.UPDATE, resource_type="ai_job", resource_id=str(job.pk))
    assert change.detail["from"] == "QUEUED" and change.detail["to"] == "CANCELLED"
    again = doctor.post(f"{JOBS}/{job.pk}/cancel")
    assert again.status_code == 409 and "CANCELLED and cannot become CANCELLED" in again.json()["detail"]

    running = make_job(doctor.user)
    AIJob.objects.filter(pk=running.pk).update(status="RUNNING")
    assert rib.post(f"{JOBS}/{running.pk}/cancel").status_code == 200
    assert rib.post(f"{JOBS}/{uuid.uuid4()}/cancel").status_code == 404
    done = complete(make_job(doctor.user))
    assert doctor.post(f"{JOBS}/{done.pk}/cancel").status_code == 409


def test_only_allowed_transitions():
    job = AIJob(status=AIJob.Status.COMPLETED)
    with pytest.raises(InvalidTransition, match="COMPLETED and cannot become RUNNING"):
        job.check_transition(AIJob.Status.RUNNING)
    AIJob(status=AIJob.Status.RUNNING).check_transition(AIJob.Status.QUEUED)  # the poll re-queues


# --- expression profiles -------------------------------------------------------------------------------------
UPLOADS = "/api/ai/expression-uploads"
CSV = b"gene,value\nTP53,1.5\nEGFR,NA\nIDH1,-0.5\n"


def _upload(patient, data: bytes = CSV, name: str = "profile.csv") -> ExpressionUpload:
    from acct.models import User
    from ai import services

    uploader, _ = User.objects.get_or_create(username="ai-uploader")
    return services.expression_upload_create(actor=uploader, patient=patient, file=SimpleUploadedFile(name, data))


def test_expression_upload_is_stored_and_can_feed_a_job(doctor):
    patient = make_patient()
    response = doctor.post(
        UPLOADS, {"patient": patient.emr_uuid, "file": SimpleUploadedFile("profile.csv", CSV)}, format="multipart"
    )
    assert response.status_code == 201, response.content
    body = response.json()
    upload = ExpressionUpload.objects.get(pk=body["id"])
    assert (upload.rows, upload.columns, upload.content_type) == (3, 2, "text/csv")
    assert upload.key == f"inputs/{upload.pk}.csv" and upload.bucket == settings.S3_BUCKETS["artifacts"]
    stored = storage_client().get_object(upload.bucket, upload.key)
    try:
        assert stored.read() == CSV
    finally:
        stored.close()
        stored.release_conn()
    assert AuditEvent.objects.filter(
        action=Action.CREATE,
        resource_type="ai_expression_upload",
        resource_id=str(upload.pk),
        patient_id=patient.emr_uuid,
    ).exists()

    job = doctor.post(JOBS, {"model": "omics-risk-demo", "expression_upload": body["id"]}, format="json")
    assert job.status_code == 202, job.content
    assert job.json()["task"] == "omics-risk" and job.json()["patient"] == patient.emr_uuid
    message = OutboxMessage.objects.get(payload__job_id=job.json()["id"])
    assert message.payload["input"] == {"kind": "expression", "bucket": upload.bucket, "key": upload.key}


def test_tsv_is_accepted(rib):
    patient = make_patient()
    data = b"sample\tTP53\tEGFR\r\nS1\t1\t2\r\n"
    response = rib.post(UPLOADS, {"patient": patient.emr_uuid, "file": SimpleUploadedFile("p.tsv", data)})
    assert response.status_code == 201, response.content
    assert response.json()["content_type"] == "text/tab-separated-values"


@pytest.mark.parametrize(
    ("name", "data", "fragment"),
    [
        ("scan.png", b"\x89PNG\r\n\x1a\n", "not a .csv or .tsv"),
        ("profile.csv", b"\x89PNG\r\n\x1a\n\x00\x00", "binary"),
        ("profile.csv", b"\xff\xfe\xfa,1\n", "not UTF-8"),
        ("profile.csv", b"gene,s1\n", "at least one data row"),
        ("profile.csv", b"gene\ts1\nTP53\t1\n", "one column"),
        ("profile.csv", b"gene,s1,s2\nTP53,1\n", "Row 2 has 2 columns"),
        ("profile.csv", b"sample,TP53,EGFR\nS1,1,2\nS2,3,4\n", "holds 2 samples"),
        ("profile.csv", b"gene,s1\nTP53,high\n", "not a number"),
        ("profile", CSV, "not a .csv or .tsv"),
    ],
)
def test_bad_expression_files_are_refused(doctor, name, data, fragment):
    patient = make_patient()
    response = doctor.post(UPLOADS, {"patient": patient.emr_uuid, "file": SimpleUploadedFile(name, data)})
    assert response.status_code == 400, response.content
    assert fragment in str(response.json()["fields"]["file"])
    assert not ExpressionUpload.objects.exists()


def test_expression_upload_limits_and_missing_parts(doctor, nurse, settings):
    patient = make_patient()
    settings.AI_EXPRESSION_MAX_BYTES = 20
    big = doctor.post(UPLOADS, {"patient": patient.emr_uuid, "file": SimpleUploadedFile("p.csv", CSV)})
    assert big.status_code == 413 and "limit is 20" in big.json()["detail"]
    settings.AI_EXPRESSION_MAX_BYTES = 5 * 1024 * 1024
    assert doctor.post(UPLOADS, {"patient": patient.emr_uuid}).status_code == 400
    assert doctor.post(UPLOADS, {"patient": "nobody", "file": SimpleUploadedFile("p.csv", CSV)}).status_code == 400
    assert doctor.post(UPLOADS, {"patient": patient.emr_uuid}, format="json").status_code == 415
    assert (
        nurse.post(UPLOADS, {"patient": patient.emr_uuid, "file": SimpleUploadedFile("p.csv", CSV)}).status_code == 403
    )
    assert not ExpressionUpload.objects.exists()
