"""HAPIClient over HTTP against the HAPI FHIR stand-in (CONTRACTS.md A and E).

A contract suite: every test uses identifier values of its own, so it also runs against a real, shared HAPI
server (set HAPI_CONTRACT_URL to its FHIR base; the tests that need the stand-in's fault, clock or OAuth
control are skipped then). HTTP statuses are read back from the EXTERNAL_CALL audit events, requests on the
wire are counted with a spy on the client's requests.Session.
"""

import time
from uuid import uuid4

import pytest
import requests
from fhirclient.models.fhirabstractbase import FHIRValidationError
from fhirclient.models.observation import Observation
from fhirclient.models.patient import Patient

from audit.models import Action, AuditEvent
from core.http import ExternalAuthRefused, ExternalNotFound, ExternalSystemError, SystemTimeout, SystemUnavailable
from fhir_sync.clients.hapi_client import (
    FhirAuthRefused,
    FhirError,
    FhirGone,
    FhirInvalid,
    FhirMultipleMatches,
    FhirNotFound,
    FhirUnavailable,
    FhirVersionConflict,
    HAPIClient,
    WriteResult,
    get_hapi_client,
)

pytestmark = pytest.mark.django_db

MRN = "http://example.org/fhir/cdss-contract-test-mrn"  # the identifier system these tests write under


# --- helpers ------------------------------------------------------------------------------------------
def unique() -> str:
    return f"t-{uuid4()}"


def patient(value: str, **fields) -> Patient:
    return Patient({"resourceType": "Patient", "identifier": [{"system": MRN, "value": value}], **fields})


def observation(subject: str) -> Observation:
    return Observation({
        "resourceType": "Observation",
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4", "display": "Heart rate"}]},
        "subject": {"reference": subject},
        "valueQuantity": {"value": 72, "unit": "/min", "system": "http://unitsofmeasure.org", "code": "/min"},
    })  # fmt: skip


def calls(resource_type: str | None = None):
    """EXTERNAL_CALL audit events, newest first."""
    events = AuditEvent.objects.filter(action=Action.EXTERNAL_CALL)
    return events.filter(resource_type=resource_type) if resource_type is not None else events


def last_status() -> int | None:
    return calls().first().status_code


def wire(client: HAPIClient, monkeypatch) -> list[tuple[str, str]]:
    """Every HTTP request the client puts on the wire (retries included), as (method, url)."""
    sent: list[tuple[str, str]] = []
    original = client.http.session.request

    def spy(method, url, **kwargs):
        sent.append((method, url))
        return original(method, url, **kwargs)

    monkeypatch.setattr(client.http.session, "request", spy)
    return sent


def ids(resources) -> list[str]:
    return [resource.id for resource in resources]


@pytest.fixture
def hapi(fhir):
    """The stand-in's process, for tests that steer it through /__control__/."""
    if fhir is None:
        pytest.skip("needs the HAPI stand-in's /__control__/ endpoints")
    return fhir


def faults(process, **values) -> None:
    requests.post(f"{process.origin}/__control__/faults", json=values, timeout=5).raise_for_status()


# --- create and conditional create (A.2, A.4) ---------------------------------------------------------
def test_create_answers_201_with_a_server_id_and_version_1(fhir):
    result = get_hapi_client().create(patient(unique(), gender="female"))
    assert isinstance(result, WriteResult)
    assert last_status() == 201
    assert result.created and result.version == "1" and result.id and result.resource_type == "Patient"
    assert result.resource.id == result.id and result.resource.meta.versionId == "1"


def test_conditional_create_without_a_match_creates(fhir):
    value = unique()
    result = get_hapi_client().conditional_create(patient(value), MRN, value)
    assert last_status() == 201
    assert result.created and result.version == "1"


def test_conditional_create_with_one_match_returns_it_and_writes_nothing(fhir):
    client, value = get_hapi_client(), unique()
    first = client.create(patient(value))
    again = client.conditional_create(patient(value, active=True, gender="male"), MRN, value)
    assert last_status() == 200
    assert not again.created and again.id == first.id and again.version == "1"
    stored = client.read("Patient", first.id)
    assert stored.meta.versionId == "1" and stored.active is None and stored.gender is None, "nothing written"
    assert ids(client.search_by_identifier("Patient", MRN, value)) == [first.id]


def test_conditional_create_with_several_matches_fails_and_is_not_retried(fhir, monkeypatch):
    client, value = get_hapi_client(), unique()
    client.create(patient(value))
    client.create(patient(value))
    sent = wire(client, monkeypatch)
    with pytest.raises(FhirMultipleMatches) as raised:
        client.conditional_create(patient(value), MRN, value)
    assert raised.value.status_code == 412 and raised.value.api_status == 409
    assert any("matched" in text for text in raised.value.diagnostics)
    assert len(sent) == 1, "a data problem: never retried"
    assert len(list(client.search_by_identifier("Patient", MRN, value))) == 2


def test_identifier_values_with_url_special_characters_match_exactly(fhir):
    client = get_hapi_client()
    value = f"a+b&identifier=c %7C {uuid4()}"  # raw in a query, `+` would be a space and `&` a new parameter
    first = client.conditional_create(patient(value), MRN, value)
    again = client.conditional_create(patient(value), MRN, value)
    assert first.created and not again.created and again.id == first.id
    assert ids(client.search_by_identifier("Patient", MRN, value)) == [first.id]


# --- read (A.5) ---------------------------------------------------------------------------------------
def test_read_returns_the_stored_resource_as_a_model(fhir):
    client = get_hapi_client()
    written = client.create(patient(unique(), gender="female", birthDate="1974-12-25"))
    stored = client.read("Patient", written.id)
    assert isinstance(stored, Patient)
    assert stored.id == written.id and stored.gender == "female" and stored.birthDate.isostring == "1974-12-25"
    assert stored.identifier[0].system == MRN and client.version_of("Patient", written.id) == "1"


def test_read_of_an_unknown_id_is_not_found(fhir):
    with pytest.raises(FhirNotFound) as raised:
        get_hapi_client().read("Patient", f"unknown-{uuid4()}")
    assert raised.value.status_code == 404 and raised.value.api_status == 404
    assert isinstance(raised.value, ExternalNotFound) and not isinstance(raised.value, FhirGone)
    assert any("is not known" in text for text in raised.value.diagnostics)


def test_read_of_a_deleted_resource_is_gone(fhir):
    client = get_hapi_client()
    written = client.create(patient(unique()))
    client.delete("Patient", written.id)
    with pytest.raises(FhirGone) as raised:
        client.read("Patient", written.id)
    assert raised.value.status_code == 410 and isinstance(raised.value, ExternalNotFound)
    assert any(text.startswith("Resource was deleted at") for text in raised.value.diagnostics)


# --- update and conditional update (A.6-A.8) ----------------------------------------------------------
def test_update_with_the_current_version_answers_version_2(fhir):
    client = get_hapi_client()
    written = client.create(patient(unique()))
    resource = written.resource
    resource.active = True
    updated = client.update(resource, if_match_version="1")
    assert last_status() == 200
    assert updated.id == written.id and updated.version == "2" and not updated.created
    assert client.read("Patient", written.id).active is True


def test_update_with_a_stale_version_is_a_version_conflict(fhir, monkeypatch):
    client = get_hapi_client()
    written = client.create(patient(unique()))
    resource = written.resource
    resource.active = True
    client.update(resource, if_match_version="1")
    resource.active = False
    sent = wire(client, monkeypatch)
    with pytest.raises(FhirVersionConflict) as raised:
        client.update(resource, if_match_version="1")
    assert raised.value.status_code in (409, 412), "HAPI answers 409 where the spec says 412"
    assert raised.value.api_status == 409 and len(sent) == 1
    assert any("not the current version" in text for text in raised.value.diagnostics)
    assert client.read("Patient", written.id).active is True, "the stale write changed nothing"


def test_conditional_update_without_a_match_creates_with_a_server_id(fhir):
    value = unique()
    resource = patient(value, id="client-chosen-id")
    result = get_hapi_client().conditional_update(resource, MRN, value)
    assert last_status() == 201
    assert result.created and result.version == "1" and result.id and result.id != "client-chosen-id"


def test_conditional_update_with_one_match_updates_it(fhir):
    client, value = get_hapi_client(), unique()
    first = client.create(patient(value))
    result = client.conditional_update(patient(value, active=True), MRN, value)
    assert last_status() == 200
    assert result.id == first.id and result.version == "2" and not result.created
    assert client.read("Patient", first.id).active is True


# --- search and paging (A.10) -------------------------------------------------------------------------
def test_search_by_identifier_follows_next_links_and_returns_every_match_once(fhir, monkeypatch):
    client, value = get_hapi_client(), unique()
    written = {client.create(patient(value)).id for _ in range(25)}
    client.create(patient(unique()))  # another identifier: not a match
    sent = wire(client, monkeypatch)
    found = ids(client.search_by_identifier("Patient", MRN, value, page_size=10))
    assert len(found) == 25 and set(found) == written
    assert len(sent) >= 3 and all(method == "GET" for method, _ in sent), "three pages of at most 10"
    assert not any("_getpagesoffset" in url for _, url in sent[:1]) and "_getpages" in sent[1][1]


def test_search_without_a_match_is_empty(fhir):
    assert list(get_hapi_client().search_by_identifier("Patient", MRN, unique())) == []


# --- references and transactions (A.11, A.12) ---------------------------------------------------------
def test_a_reference_to_a_missing_patient_is_invalid_with_the_diagnostics_kept(fhir):
    missing = f"missing-{uuid4()}"
    with pytest.raises(FhirInvalid) as raised:
        get_hapi_client().create(observation(f"Patient/{missing}"))
    assert raised.value.status_code == 400 and raised.value.api_status == 422
    assert any(text.startswith("HAPI-1094") and missing in text for text in raised.value.diagnostics)
    assert "Observation.subject" in raised.value.detail


def test_transaction_rewrites_urn_uuid_references_to_the_real_ids(fhir):
    client, value, urn = get_hapi_client(), unique(), f"urn:uuid:{uuid4()}"
    answer = client.transaction([
        {"fullUrl": urn, "resource": patient(value).as_json(),
         "request": {"method": "POST", "url": "Patient", "ifNoneExist": f"identifier={MRN}|{value}"}},
        {"resource": observation(urn).as_json(), "request": {"method": "POST", "url": "Observation"}},
    ])  # fmt: skip
    assert answer["type"] == "transaction-response" and len(answer["entry"]) == 2
    locations = [entry["response"]["location"] for entry in answer["entry"]]
    assert all(entry["response"]["status"].startswith("201") for entry in answer["entry"])
    patient_id = locations[0].split("/")[1]
    stored = client.read("Observation", locations[1].split("/")[1])
    assert stored.subject.reference == f"Patient/{patient_id}"
    assert ids(client.search_by_identifier("Patient", MRN, value)) == [patient_id]


def test_an_invalid_resource_is_rejected_before_anything_is_sent(fhir, monkeypatch):
    client = get_hapi_client()
    sent = wire(client, monkeypatch)
    before = calls().count()
    no_status = observation("Patient/anything")
    no_status.status = None  # Observation.status is 1..1
    with pytest.raises(FHIRValidationError):
        client.create(no_status)
    wrong_type = patient(unique())
    wrong_type.gender = 42
    with pytest.raises(FHIRValidationError):
        client.conditional_update(wrong_type, MRN, "x")
    with pytest.raises(FHIRValidationError):
        client.transaction([{"resource": {"resourceType": "Patient", "gender": 42}, "request": {"url": "Patient"}}])
    assert sent == [] and calls().count() == before


def test_capability_statement(fhir):
    statement = get_hapi_client().capability_statement()
    assert statement["resourceType"] == "CapabilityStatement" and statement["fhirVersion"] == "4.0.1"


# --- OAuth2 in front of HAPI (A.15) -------------------------------------------------------------------
def test_one_token_serves_several_calls(fhir_auth):
    client, value = get_hapi_client(), unique()
    written = client.create(patient(value))
    client.read("Patient", written.id)
    assert ids(client.search_by_identifier("Patient", MRN, value)) == [written.id]
    assert calls("oauth_token").count() == 1
    assert not calls().filter(status_code=401).exists()


def test_an_expired_token_is_refreshed_once(fhir_auth):
    client = get_hapi_client()
    written = client.create(patient(unique()))
    requests.post(f"{fhir_auth.origin}/__control__/clock", json={"advance_s": 3600}, timeout=5).raise_for_status()
    assert client.read("Patient", written.id).id == written.id
    assert calls("oauth_token").count() == 2, "the first token and exactly one refresh"
    assert calls("Patient").filter(status_code=401).count() == 1
    assert calls().first().status_code == 200


def test_a_wrong_client_secret_is_a_configuration_error(fhir_auth):
    client = HAPIClient(client_secret="not-the-secret")
    with pytest.raises(ExternalAuthRefused) as raised:
        client.read("Patient", "anything")
    assert isinstance(raised.value, FhirAuthRefused) and raised.value.api_status == 502
    assert raised.value.status_code == 401
    assert calls("oauth_token").count() == 1 and calls().count() == 1, "no FHIR call without a token"


# --- faults -------------------------------------------------------------------------------------------
def test_an_outage_is_unavailable(hapi, monkeypatch):
    client = get_hapi_client()
    sent = wire(client, monkeypatch)
    faults(hapi, outage=True)
    with pytest.raises(FhirUnavailable) as read_error:
        client.read("Patient", "anything")
    assert len(sent) == 3, "an idempotent read is retried twice"
    with pytest.raises(SystemUnavailable) as create_error:
        client.create(patient(unique()))
    assert len(sent) == 4, "a create is never retried"
    assert read_error.value.api_status == create_error.value.api_status == 503
    assert read_error.value.status_code == 503


def test_latency_beyond_the_timeout_is_a_timeout(hapi, settings):
    settings.FHIR_TIMEOUT_SECONDS = 1
    client = get_hapi_client()
    faults(hapi, latency_ms=2000)
    started = time.monotonic()
    with pytest.raises(SystemTimeout) as raised:
        client.read("Patient", "anything")
    assert time.monotonic() - started < 1.5, "a read timeout is not retried"
    assert raised.value.api_status == 504


def test_a_garbage_answer_is_an_external_error_not_a_crash(hapi):
    client = get_hapi_client()
    written = client.create(patient(unique()))
    faults(hapi, garbage=True)
    entry = {"resource": patient(unique()).as_json(), "request": {"method": "POST", "url": "Patient"}}
    attempts = [
        lambda: client.read("Patient", written.id),
        lambda: client.create(patient(unique())),
        lambda: list(client.search_by_identifier("Patient", MRN, unique())),
        lambda: client.transaction([entry]),
        client.capability_statement,
    ]
    for attempt in attempts:
        with pytest.raises(ExternalSystemError) as raised:
            attempt()
        assert isinstance(raised.value, FhirError) and raised.value.api_status == 502
