"""Browsing studies (filters, detail with instances), rendered frames and thumbnails cached in the
thumbnails bucket, every read audited with the patient."""

import datetime

import pytest
from django.conf import settings

from audit.models import Action, AuditEvent
from core.storage import storage_client
from radiology.models import Study
from radiology.testing import series_instances
from radiology.tests.conftest import as_upload, upload

pytestmark = pytest.mark.django_db
PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def uploaded(rib, pacs, make_patient):
    patient = make_patient()
    datasets = series_instances(3, description="SAG T2", patient_id=patient.mrn)
    for dataset in datasets:
        dataset.StudyDate = "20260102"
    pacs.track(datasets[0].StudyInstanceUID)
    assert upload(rib, *(as_upload(ds) for ds in datasets)).status_code == 201
    return Study.objects.get(study_instance_uid=datasets[0].StudyInstanceUID), patient


def test_list_filters_and_detail(nurse, uploaded):
    study, patient = uploaded
    base = "/api/radiology/studies"

    def ids(**query):
        response = nurse.get(base, query)
        assert response.status_code == 200, response.content
        return [row["id"] for row in response.json()["results"]]

    assert ids(patient=patient.emr_uuid) == [study.pk]
    assert ids(patient=patient.emr_uuid, modality="CT") == []
    assert ids(patient=patient.emr_uuid, date_from="2026-01-01", date_to="2026-01-31") == [study.pk]
    assert ids(patient=patient.emr_uuid, date_from="2026-02-01") == []
    assert ids(patient=patient.emr_uuid, status="RECONCILE") == []
    assert nurse.get(base, {"date_from": "not-a-date"}).status_code == 400
    assert study.study_date == datetime.date(2026, 1, 2)

    detail = nurse.get(f"{base}/{study.pk}").json()
    assert detail["patient"] == patient.emr_uuid
    [series] = detail["series"]
    assert series["sequence_type"] == "T2" and series["number_of_instances"] == 3 and len(series["instances"]) == 3
    reads = AuditEvent.objects.filter(action=Action.READ, resource_type="radiology_study", patient_id=patient.emr_uuid)
    assert reads.filter(resource_id=str(study.pk), actor_id=nurse.user.pk).exists()
    assert nurse.get(f"{base}/999999999").status_code == 404


def test_thumbnail_and_rendered_frame_are_cached_in_object_storage(doctor, uploaded):
    study, _ = uploaded
    series = study.series.get()
    instance = doctor.get(f"/api/radiology/studies/{study.pk}").json()["series"][0]["instances"][0]
    thumb_url = f"/api/radiology/studies/{study.pk}/series/{series.pk}/thumbnail"
    frame_url = f"/api/radiology/studies/{study.pk}/series/{series.pk}/instances/{instance}/frames/0/rendered"
    bucket = settings.S3_BUCKETS["thumbnails"]
    s3 = storage_client(admin=True)  # the clean-up deletes, which the application's account may not
    try:
        for url in (thumb_url, frame_url):
            first = doctor.get(url)
            assert first.status_code == 200 and first["Content-Type"] == "image/png"
            data = b"".join(first) if first.streaming else first.content
            assert data.startswith(PNG)
            calls = AuditEvent.objects.filter(action=Action.EXTERNAL_CALL, system="orthanc").count()
            again = doctor.get(url)
            assert again.content == data
            assert AuditEvent.objects.filter(action=Action.EXTERNAL_CALL, system="orthanc").count() == calls
        keys = {
            obj.object_name for obj in s3.list_objects(bucket, prefix=f"series/{series.orthanc_id}/", recursive=True)
        }
        assert len(keys) == 2
        other = "00000000-00000000-00000000-00000000-00000000"
        assert doctor.get(frame_url.replace(instance, other)).status_code == 404
        assert doctor.get(frame_url.replace(instance, "..%2F..")).status_code == 404
    finally:
        for obj in s3.list_objects(bucket, prefix=f"series/{series.orthanc_id}/", recursive=True):
            s3.remove_object(bucket, obj.object_name)


def test_detail_of_a_study_orthanc_no_longer_holds_answers_from_the_record(nurse, uploaded, pacs):
    """A database shared with another checkout (or a PACS whose storage was emptied) keeps rows whose images
    this Orthanc lacks: the detail still answers every documented field from the row, without instances."""
    study, patient = uploaded
    present = nurse.get(f"/api/radiology/studies/{study.pk}")
    assert present.status_code == 200 and present.json()["in_pacs"] is True
    pacs.client.delete_study(study.orthanc_id)

    response = nurse.get(f"/api/radiology/studies/{study.pk}")
    assert response.status_code == 200, response.content
    detail = response.json()
    assert set(detail) == set(present.json())
    assert detail["in_pacs"] is False
    assert detail["study_date"] == "2026-01-02" and detail["patient"] == patient.emr_uuid
    assert detail["number_of_instances"] == 3 and detail["dicom_patient_id"] == patient.mrn
    [series] = detail["series"]
    assert series["number_of_instances"] == 3 and series["instances"] == []
