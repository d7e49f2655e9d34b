"""The identity rules (docs/radiology.md) against the real Orthanc, for upload, STOW-RS and the change feed:
a known StudyInstanceUID never changes patient, images naming another patient become a CONFLICT study of
their own, series are never removed by another upload, every outcome is audited with its patients."""

import asyncio

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from audit.models import Action, AuditEvent
from notifications.consumers import user_group
from radiology.models import Study
from radiology.services import study_sync
from radiology.testing import series_instances
from radiology.tests.conftest import as_upload, upload

pytestmark = pytest.mark.django_db


def _audited(study: Study) -> set[str]:
    events = AuditEvent.objects.filter(resource_type="radiology_study", resource_id=str(study.pk))
    return set(events.values_list("patient_id", flat=True))


def _listen(user_id: int):
    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(user_group(user_id), channel)

    async def next_message():
        return await asyncio.wait_for(layer.receive(channel), 10)

    return lambda: async_to_sync(next_message)()["payload"]


def test_images_naming_another_patient_become_a_conflict_and_leave_the_study_alone(
    rib, pacs, make_patient, django_capture_on_commit_callbacks
):
    first, other = make_patient(), make_patient()
    t1 = series_instances(2, description="AX T1", patient_id=first.mrn)
    uid = t1[0].StudyInstanceUID
    flair = series_instances(1, description="AX FLAIR", patient_id=first.mrn, study_uid=uid, series_number=2)
    pacs.track(uid)
    assert upload(rib, *(as_upload(ds) for ds in t1 + flair)).status_code == 201
    held = Study.objects.get(study_instance_uid=uid)
    before = (held.patient_id, held.orthanc_id, sorted(held.series.values_list("orthanc_id", flat=True)))

    # the same StudyInstanceUID (and the same series UID) with the other patient's record number
    clash = series_instances(1, description="AX T1", patient_id=other.mrn, study_uid=uid)[0]
    clash.SeriesInstanceUID = t1[0].SeriesInstanceUID
    receive = _listen(rib.user.pk)
    with django_capture_on_commit_callbacks(execute=True):
        response = upload(rib, as_upload(clash))

    assert response.status_code == 201, response.content
    [answered] = response.json()["studies"]
    held.refresh_from_db()
    assert (held.patient_id, held.orthanc_id, sorted(held.series.values_list("orthanc_id", flat=True))) == before
    assert (held.status, held.number_of_series, held.number_of_instances) == (Study.Status.LINKED, 2, 3)
    conflict = Study.objects.get(study_instance_uid=uid, conflicting_with=held)
    assert answered == {"id": conflict.pk, "study_instance_uid": uid, "status": "CONFLICT"}
    assert conflict.patient is None and conflict.status == Study.Status.CONFLICT and conflict.holds_uid is None
    assert conflict.dicom_patient_id == other.mrn and conflict.orthanc_id != held.orthanc_id
    assert f"study {held.pk} (PatientID {first.mrn})" in conflict.reconciliation_reason
    assert other.mrn in conflict.reconciliation_reason
    assert conflict.series.get().series_instance_uid == t1[0].SeriesInstanceUID  # a series of its own
    # audited with both patients concerned; RIB users told (no names in the message)
    assert _audited(conflict) == {first.emr_uuid, other.emr_uuid}
    assert receive() == {"kind": "radiology_conflict", "study": conflict.pk, "conflicting_with": held.pk}
    assert pacs.study_id(uid) is not None
    assert _series_shown(rib, held) == 2


def _series_shown(client, study: Study) -> int:
    body = client.get(f"/api/radiology/studies/{study.pk}").json()
    return len(body["series"])


def test_more_images_of_the_same_patient_add_series_and_keep_the_patient(rib, pacs, make_patient):
    patient = make_patient()
    first = series_instances(1, patient_id=patient.mrn)[0]
    uid = first.StudyInstanceUID
    pacs.track(uid)
    upload(rib, as_upload(first))
    patient.mrn = "RENUMBERED"  # the EMR's cache changes: the study's patient does not change with new images
    patient.save()
    second = series_instances(2, description="AX FLAIR", patient_id=first.PatientID, study_uid=uid, series_number=2)
    assert upload(rib, *(as_upload(ds) for ds in second)).status_code == 201
    study = Study.objects.get(study_instance_uid=uid)
    assert (study.patient, study.status, study.number_of_series, study.series.count()) == (
        patient,
        Study.Status.LINKED,
        2,
        2,
    )
    assert Study.objects.filter(study_instance_uid=uid).count() == 1


def test_every_outcome_is_audited_with_its_patient(rib, pacs, make_patient):
    patient = make_patient()
    linked = series_instances(1, patient_id=patient.mrn)[0]
    unknown = series_instances(1, patient_id="NOBODY-KNOWN")[0]
    pacs.track(linked.StudyInstanceUID, unknown.StudyInstanceUID)
    upload(rib, as_upload(linked), as_upload(unknown))
    linked_row = Study.objects.get(study_instance_uid=linked.StudyInstanceUID)
    unknown_row = Study.objects.get(study_instance_uid=unknown.StudyInstanceUID)
    assert _audited(linked_row) == {patient.emr_uuid}
    assert _audited(unknown_row) == {""} and unknown_row.status == Study.Status.RECONCILE
    event = AuditEvent.objects.get(action=Action.CREATE, resource_type="radiology_study", resource_id=unknown_row.pk)
    assert event.detail["status"] == "RECONCILE" and event.detail["dicom_patient_id"] == "NOBODY-KNOWN"


def test_same_patient_id_from_another_issuer_is_refused_before_the_pacs(rib, pacs, make_patient):
    patient = make_patient()
    first = series_instances(1, patient_id=patient.mrn)[0]
    first.IssuerOfPatientID = "HOSPITAL-A"
    uid = first.StudyInstanceUID
    pacs.track(uid)
    upload(rib, as_upload(first))
    held = Study.objects.get(study_instance_uid=uid)
    assert held.dicom_issuer_of_patient_id == "HOSPITAL-A"

    other = series_instances(1, patient_id=patient.mrn, study_uid=uid)[0]
    other.IssuerOfPatientID = "HOSPITAL-B"  # Orthanc would merge it into the held study (same PatientID)
    response = upload(rib, as_upload(other))
    assert response.status_code == 400
    [result] = response.json()["results"]
    assert result["code"] == "identity_conflict" and "HOSPITAL-B" in result["reason"]
    held.refresh_from_db()
    assert held.number_of_instances == 1
    assert len(pacs.client.get_study(held.orthanc_id)["Series"]) == 1


def test_the_change_feed_and_stow_follow_the_same_rules(rib, pacs, make_patient):
    """C-STORE (stored straight into Orthanc, then the sync the feed runs) and STOW-RS through the gateway."""
    from radiology.testing import to_bytes
    from radiology.tests.test_dicomweb import GATEWAY, _multipart

    first, second, third = make_patient(), make_patient(), make_patient()
    original = series_instances(1, patient_id=first.mrn)[0]
    uid = original.StudyInstanceUID
    pacs.track(uid)
    upload(rib, as_upload(original))
    held = Study.objects.get(study_instance_uid=uid)

    via_pacs = series_instances(1, patient_id=second.mrn, study_uid=uid)[0]
    stored = pacs.client.upload_instance(to_bytes(via_pacs))
    fed, created = study_sync(orthanc_study_id=stored.study_id, source=Study.Source.PACS)
    assert created and fed.status == Study.Status.CONFLICT and fed.conflicting_with == held

    via_stow = series_instances(1, patient_id=third.mrn, study_uid=uid)[0]
    body, content_type = _multipart(via_stow)
    answer = rib.generic("POST", f"{GATEWAY}/studies", body, content_type=content_type,
                         HTTP_ACCEPT="application/dicom+json")  # fmt: skip
    assert answer.status_code == 200, answer.content[:300]
    stowed = Study.objects.get(study_instance_uid=uid, dicom_patient_id=third.mrn)
    assert stowed.status == Study.Status.CONFLICT and stowed.conflicting_with == held
    held.refresh_from_db()
    assert held.patient == first and held.number_of_instances == 1
    assert Study.objects.filter(study_instance_uid=uid).count() == 3


def test_stow_of_a_study_the_cdss_cannot_record_is_removed_again(rib, pacs):
    from radiology.tests.test_dicomweb import GATEWAY, _multipart

    dataset = series_instances(1)[0]
    dataset.StudyInstanceUID = "1.2." + "4" * 62  # 66 characters: Orthanc takes it, the CDSS cannot
    pacs.track(dataset.StudyInstanceUID)
    body, content_type = _multipart(dataset)
    answer = rib.generic("POST", f"{GATEWAY}/studies", body, content_type=content_type,
                         HTTP_ACCEPT="application/dicom+json")  # fmt: skip
    assert answer.status_code == 400, answer.content[:300]
    [refused] = answer.json()["refused"]
    assert refused["study_instance_uid"] == dataset.StudyInstanceUID and "64" in refused["reason"]
    assert pacs.study_id(dataset.StudyInstanceUID) is None
    assert not Study.objects.exists()


def test_the_gateway_never_lists_another_patients_series_under_a_shared_uid(rib, doctor, pacs, make_patient):
    from radiology.tests.test_dicomweb import GATEWAY

    first = make_patient()
    original = series_instances(1, patient_id=first.mrn)[0]
    uid = original.StudyInstanceUID
    pacs.track(uid)
    upload(rib, as_upload(original))
    clash = series_instances(1, patient_id="SOMEONE-ELSE", study_uid=uid)[0]
    upload(rib, as_upload(clash))

    def series_listed(query: str = "") -> set[str]:
        answer = doctor.get(f"{GATEWAY}/studies/{uid}/series{query}", HTTP_ACCEPT="application/dicom+json")
        assert answer.status_code == 200, answer.content[:300]
        return {row["0020000E"]["Value"][0] for row in answer.json()}

    assert series_listed() == {original.SeriesInstanceUID}  # Orthanc alone would list both patients' series
    assert series_listed("?PatientID=SOMEONE-ELSE") == {clash.SeriesInstanceUID}
