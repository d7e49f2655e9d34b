"""nginx's authorisation of a DICOMweb retrieval it serves straight from Orthanc (radiology.dicomweb.
authorise_read): allowed for clinical staff and a study the CDSS holds, refused otherwise (kept briefly),
the grant's lifetime cut short by an expiring token, one audit event per user and study per window."""

from datetime import timedelta

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from acct.services import token_issue, user_set_roles
from audit.models import Action, AuditEvent
from radiology.testing import series_instances
from radiology.tests.conftest import as_upload, upload

pytestmark = pytest.mark.django_db
AUTH = "/api/radiology/dicom-web-auth"
GATEWAY = "/api/radiology/dicom-web"


@pytest.fixture
def study_uid(rib, pacs, make_patient):
    datasets = series_instances(1, description="AX T1", patient_id=make_patient().mrn)
    pacs.track(datasets[0].StudyInstanceUID)
    assert upload(rib, *(as_upload(ds) for ds in datasets)).status_code == 201
    first = datasets[0]
    return first.StudyInstanceUID, f"series/{first.SeriesInstanceUID}/instances/{first.SOPInstanceUID}"


def _frame(study_uid) -> str:
    uid, rest = study_uid
    return f"{GATEWAY}/studies/{uid}/{rest}/frames/1"


def _ask(client, uri: str):
    return client.get(AUTH, {"uri": uri})


def _reads(user, uid: str):
    return AuditEvent.objects.filter(action=Action.READ, resource_type="dicom_study", resource_id=uid, actor_id=user.pk)


def test_allowed_for_clinical_staff_with_the_grant_window_and_one_audit(doctor, study_uid, settings):
    cache.delete(f"dicomweb-read:{doctor.user.pk}:{study_uid[0]}")
    for _ in range(3):
        response = _ask(doctor, _frame(study_uid))
        assert response.status_code == 200
        assert response["X-Accel-Expires"] == str(settings.RADIOLOGY_DICOMWEB_GRANT_SECONDS)
    assert _reads(doctor.user, study_uid[0]).count() == 1  # audited once, not per frame
    assert _reads(doctor.user, study_uid[0]).first().endpoint == f"GET {_frame(study_uid)}"


def test_audited_again_after_the_audit_window(nurse, study_uid):
    key = f"dicomweb-read:{nurse.user.pk}:{study_uid[0]}"
    cache.delete(key)
    assert _ask(nurse, _frame(study_uid)).status_code == 200
    cache.delete(key)  # the window ended
    assert _ask(nurse, _frame(study_uid)).status_code == 200
    assert _reads(nurse.user, study_uid[0]).count() == 2


def test_another_study_refused(doctor, study_uid, settings):
    """A study the CDSS does not hold (only in the PACS, or made up) is never authorised."""
    rest = study_uid[1]
    response = _ask(doctor, f"{GATEWAY}/studies/1.2.3.4.5.6.999/{rest}/frames/1")
    assert response.status_code == 403
    assert response["X-Accel-Expires"] == str(settings.RADIOLOGY_DICOMWEB_REFUSAL_SECONDS)
    assert _ask(doctor, _frame(study_uid)).status_code == 200


def test_searches_and_other_paths_refused(doctor, study_uid):
    uid, _ = study_uid
    for uri in (f"{GATEWAY}/studies/{uid}/series", f"{GATEWAY}/studies?StudyInstanceUID={uid}", "/instances",
                f"{GATEWAY}/tools/find", f"/api/radiology/studies/{uid}/metadata", ""):  # fmt: skip
        assert _ask(doctor, uri).status_code == 403, uri


def test_unauthenticated_refused(study_uid, settings):
    response = _ask(APIClient(), _frame(study_uid))
    assert response.status_code == 401
    assert response["X-Accel-Expires"] == str(settings.RADIOLOGY_DICOMWEB_REFUSAL_SECONDS)


def test_expired_token_refused_and_grant_cut_to_the_token(make_user, study_uid):
    user = make_user("DOCTOR")
    _, short = token_issue(actor=user, user=user, ttl=timedelta(seconds=10))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {short}")
    response = _ask(client, _frame(study_uid))
    assert response.status_code == 200
    assert 0 <= int(response["X-Accel-Expires"]) <= 10  # never beyond the token's own end
    _, expired = token_issue(actor=user, user=user, ttl=timedelta(seconds=-1))
    client.credentials(HTTP_AUTHORIZATION=f"Token {expired}")
    assert _ask(client, _frame(study_uid)).status_code == 401


def test_ended_session_refused(make_user, study_uid):
    user = make_user("NURSE")
    client = APIClient()
    client.force_login(user)
    assert _ask(client, _frame(study_uid)).status_code == 200
    client.logout()
    assert _ask(client, _frame(study_uid)).status_code == 401


def test_role_removed_refused(doctor, study_uid, settings):
    assert _ask(doctor, _frame(study_uid)).status_code == 200
    user_set_roles(actor=None, user=doctor.user, roles=set())
    response = _ask(doctor, _frame(study_uid))
    assert response.status_code == 403
    assert response["X-Accel-Expires"] == str(settings.RADIOLOGY_DICOMWEB_REFUSAL_SECONDS)


def test_roles_without_patient_data_refused(ops, study_uid):
    assert _ask(ops, _frame(study_uid)).status_code == 403
