"""OpenEMRClient over HTTP against the OpenEMR stand-in (set EMR_BASE_URL & co to run it against a
real OpenEMR): the token life cycle, the envelope, paging, the patient record, and failures."""

import pytest
import requests

from core.http import ExternalAuthRefused, ExternalNotFound, ExternalSystemError
from emr.clients.openemr_client import OpenEMRClient, get_openemr_client

pytestmark = pytest.mark.django_db


def faults(emr, **values):
    requests.post(f"{emr.origin}/__control__/faults", json=values, timeout=5).raise_for_status()


def test_pages_through_every_patient_with_its_own_limit_and_offset(emr):
    client = get_openemr_client()
    first, more = client.search_patients(limit=20, offset=0)
    assert len(first) == 20 and more
    everyone = list(client.iter_patients())
    assert len(everyone) >= 50 and len({patient["uuid"] for patient in everyone}) == len(everyone)
    assert all(isinstance(patient["pid"], str) for patient in everyone), "OpenEMR sends every value as a string"
    assert {patient["uuid"] for patient in first} <= {patient["uuid"] for patient in everyone}


def test_search_by_field_and_read_by_uuid(emr):
    client = get_openemr_client()
    someone = next(client.iter_patients())
    matches, _ = client.search_patients(lname=someone["lname"])
    assert someone["uuid"] in {patient["uuid"] for patient in matches}
    assert client.get_patient(someone["uuid"])["DOB"] == someone["DOB"]


def test_unknown_uuid_is_not_found(emr):
    with pytest.raises(ExternalNotFound):
        get_openemr_client().get_patient("00000000-0000-4000-8000-000000000000")


def test_the_record_around_a_patient(emr):
    client = get_openemr_client()
    diagnoses, patients_with_vitals = set(), 0
    for patient in list(client.iter_patients())[:25]:
        puuid, pid = patient["uuid"], patient["pid"]
        diagnoses |= {problem.get("diagnosis", "") for problem in client.medical_problems(puuid)}
        encounters = client.encounters(puuid)
        if encounters:
            eid = str(encounters[0]["encounter"])
            patients_with_vitals += bool(client.vitals(pid, eid, puuid))
        client.medications(pid, puuid)
        assert all(str(row["patient_id"]) == pid for row in client.prescriptions(pid, puuid))
    assert any("C71" in diagnosis for diagnosis in diagnoses), "the seed holds brain-tumour diagnoses"
    assert patients_with_vitals > 0


def test_expired_access_token_is_refreshed_once_with_rotation(emr):
    client = get_openemr_client()
    client.search_patients(limit=1)
    old_refresh = client._token.refresh
    client._token.access = "expired-or-revoked"  # the server will answer 401
    client.search_patients(limit=1)  # one 401, one refresh, one retry
    assert client._token.refresh and client._token.refresh != old_refresh, "refresh tokens rotate"
    reuse = requests.post(f"{emr.origin}/oauth2/default/token", timeout=5, data={
        "grant_type": "refresh_token", "refresh_token": old_refresh, "client_id": client.client_id,
        "client_secret": client.client_secret})  # fmt: skip
    assert reuse.status_code in (400, 401), "a rotated-out refresh token must not work again"


def test_wrong_credentials_are_a_configuration_error(emr):
    client = OpenEMRClient(password="not-the-password")
    with pytest.raises(ExternalAuthRefused) as raised:
        client.search_patients(limit=1)
    assert raised.value.api_status == 502 and "refused" in raised.value.detail


def test_garbage_answer_is_a_clear_error(emr):
    client = get_openemr_client()
    client.search_patients(limit=1)  # token first
    faults(emr, garbage=True)
    with pytest.raises(ExternalSystemError, match=r"envelope|not JSON|HTTP"):
        client.search_patients(limit=1)
