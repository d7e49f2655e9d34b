"""The HAPI FHIR stand-in against CONTRACTS.md section A: one test per A.17 checklist item, then A.10-A.16
details. Each test makes its own resources under a fresh identifier system, so tests do not see each other.
"""

import re
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from .support import FHIR_JSON, ApiClient


def new_system() -> str:
    return f"urn:cdss:test:{uuid.uuid4().hex}"


def patient(system: str, value: str, **extra: object) -> dict:
    return {"resourceType": "Patient", "identifier": [{"system": system, "value": value}], **extra}


def observation(subject: str) -> dict:
    return {
        "resourceType": "Observation",
        "status": "final",
        "code": {"text": "tumour volume"},
        "subject": {"reference": subject},
    }


def diagnostics(response: requests.Response) -> str:
    return response.json()["issue"][0]["diagnostics"]


def storage_code(outcome: dict) -> str:
    return outcome["issue"][0]["details"]["coding"][0]["code"]


def create(fhir: ApiClient, resource: dict, **headers: str) -> requests.Response:
    return fhir.post(f"/{resource['resourceType']}", json=resource, headers={**FHIR_JSON, **headers})


# --- A.17 checklist ---------------------------------------------------------------------------------------------
def test_a17_1_numeric_ids_meta_etag_location_on_post_only(fhir):
    created = create(fhir, {**patient(new_system(), "1"), "id": "ignored-on-create"})
    assert created.status_code == 201
    body = created.json()
    assert body["id"].isdigit()
    assert body["meta"]["versionId"] == "1" and body["meta"]["lastUpdated"]
    assert created.headers["ETag"] == 'W/"1"'
    assert created.headers["Location"].endswith(f"/Patient/{body['id']}/_history/1")
    assert created.headers["Content-Location"] == created.headers["Location"]
    assert created.headers["Last-Modified"].endswith("GMT")
    assert created.headers["Content-Type"].startswith("application/fhir+json")

    updated = fhir.put(f"/Patient/{body['id']}", json={**body, "active": True}, headers=FHIR_JSON)
    assert updated.status_code == 200
    assert "Location" not in updated.headers
    assert updated.headers["Content-Location"].endswith(f"/Patient/{body['id']}/_history/2")
    assert updated.headers["ETag"] == 'W/"2"'
    assert fhir.get(f"/Patient/{body['id']}").headers["ETag"] == 'W/"2"'


def test_a17_2_prefer_representation_minimal_operation_outcome(fhir):
    system = new_system()
    default = create(fhir, patient(system, "default"))
    assert default.json()["resourceType"] == "Patient"

    minimal = create(fhir, patient(system, "minimal"), Prefer="return=minimal")
    assert minimal.status_code == 201 and minimal.content == b""
    assert minimal.headers["Location"] and minimal.headers["ETag"] == 'W/"1"'

    outcome = create(fhir, patient(system, "outcome"), Prefer="return=OperationOutcome")
    assert outcome.status_code == 201
    issue = outcome.json()["issue"][0]
    assert issue["severity"] == "information" and storage_code(outcome.json()) == "SUCCESSFUL_CREATE"
    assert issue["diagnostics"].startswith('Successfully created resource "Patient/')


def test_a17_3_if_none_exist_creates_once_then_matches_then_412(fhir):
    system = new_system()
    condition = f"identifier={system}|MRN-1"
    first = create(fhir, patient(system, "MRN-1"), **{"If-None-Exist": condition})
    assert first.status_code == 201
    rid = first.json()["id"]
    fhir.put(f"/Patient/{rid}", json={**first.json(), "active": True}, headers=FHIR_JSON)

    again = create(fhir, patient(system, "MRN-1"), **{"If-None-Exist": f"Patient?identifier={system}%7CMRN-1"})
    assert again.status_code == 200
    assert again.json()["id"] == rid and again.json()["active"] is True
    assert again.headers["Location"].endswith(f"/Patient/{rid}/_history/2")  # the current version
    assert again.headers["ETag"] == 'W/"2"'
    assert fhir.get("/Patient", params={"identifier": f"{system}|MRN-1"}).json()["total"] == 1

    create(fhir, patient(system, "MRN-1"))  # a duplicate written without the condition
    duplicate = create(fhir, patient(system, "MRN-1"), **{"If-None-Exist": condition})
    assert duplicate.status_code == 412
    assert diagnostics(duplicate).startswith("HAPI-0958: ")


def test_a17_4_put_update_as_create_numeric_id_and_id_checks(fhir):
    client_id = f"cdss-{uuid.uuid4().hex[:12]}"
    resource = {**patient(new_system(), "P"), "id": client_id}
    created = fhir.put(f"/Patient/{client_id}", json=resource, headers=FHIR_JSON)
    assert created.status_code == 201
    assert created.json()["meta"]["versionId"] == "1" and "Location" not in created.headers

    changed = fhir.put(f"/Patient/{client_id}", json={**resource, "active": False}, headers=FHIR_JSON)
    assert changed.status_code == 200 and changed.json()["meta"]["versionId"] == "2"
    unchanged = fhir.put(f"/Patient/{client_id}", json={**resource, "active": False}, headers=FHIR_JSON)
    assert unchanged.status_code == 200 and unchanged.json()["meta"]["versionId"] == "2"  # no-op

    numeric = fhir.put("/Patient/987654321", json={**resource, "id": "987654321"}, headers=FHIR_JSON)
    assert numeric.status_code == 400 and diagnostics(numeric).startswith("HAPI-0960: ")
    server_id = create(fhir, patient(new_system(), "S")).json()["id"]
    existing_numeric = fhir.put(f"/Patient/{server_id}", json={**resource, "id": server_id}, headers=FHIR_JSON)
    assert existing_numeric.status_code == 200  # an all-digit id is fine once the resource exists

    no_body_id = fhir.put(f"/Patient/{client_id}", json=patient(new_system(), "X"), headers=FHIR_JSON)
    assert no_body_id.status_code == 400 and diagnostics(no_body_id).startswith("HAPI-0419: ")
    mismatch = fhir.put(f"/Patient/{client_id}", json={**resource, "id": "other"}, headers=FHIR_JSON)
    assert mismatch.status_code == 400 and diagnostics(mismatch).startswith("HAPI-0420: ")
    no_url_id = fhir.put("/Patient", json=resource, headers=FHIR_JSON)
    assert no_url_id.status_code == 400 and diagnostics(no_url_id).startswith("HAPI-0418: ")


def test_a17_5_if_match_mismatch_is_409_not_412(fhir):
    body = create(fhir, patient(new_system(), "V")).json()
    path = f"/Patient/{body['id']}"
    first = fhir.put(path, json={**body, "active": True}, headers={**FHIR_JSON, "If-Match": 'W/"1"'})
    assert first.status_code == 200 and first.headers["ETag"] == 'W/"2"'

    stale = fhir.put(path, json={**body, "active": False}, headers={**FHIR_JSON, "If-Match": 'W/"1"'})
    assert stale.status_code == 409
    assert (
        diagnostics(stale)
        == f"HAPI-0989: Trying to update Patient/{body['id']}/_history/1 but this is not the current version"
    )
    stale_delete = fhir.delete(path, headers={"If-Match": 'W/"1"'})
    assert stale_delete.status_code == 409 and diagnostics(stale_delete).startswith("HAPI-0961: ")


def test_a17_6_conditional_put_creates_updates_or_412(fhir):
    system = new_system()
    query = {"identifier": f"{system}|C-1"}
    created = fhir.put("/Patient", params=query, json={**patient(system, "C-1"), "id": "client-id"}, headers=FHIR_JSON)
    assert created.status_code == 201
    rid = created.json()["id"]
    assert rid.isdigit()  # the body's id is discarded; the server assigns one

    updated = fhir.put("/Patient", params=query, json={**patient(system, "C-1"), "active": True}, headers=FHIR_JSON)
    assert updated.status_code == 200
    assert updated.json()["id"] == rid and updated.json()["meta"]["versionId"] == "2"

    create(fhir, patient(system, "C-1"))
    ambiguous = fhir.put("/Patient", params=query, json=patient(system, "C-1"), headers=FHIR_JSON)
    assert ambiguous.status_code == 412 and diagnostics(ambiguous).startswith("HAPI-0988: ")


def test_a17_7_unknown_404_deleted_410_expired_paging_410(fhir):
    unknown = fhir.get("/Patient/no-such-patient-xyz")
    assert unknown.status_code == 404
    assert diagnostics(unknown) == "HAPI-2001: Resource Patient/no-such-patient-xyz is not known"

    rid = create(fhir, patient(new_system(), "D")).json()["id"]
    deleted = fhir.delete(f"/Patient/{rid}")
    assert deleted.status_code == 200 and storage_code(deleted.json()) == "SUCCESSFUL_DELETE"
    gone = fhir.get(f"/Patient/{rid}")
    assert gone.status_code == 410 and diagnostics(gone).startswith("Resource was deleted at ")
    assert fhir.get(f"/Patient/{rid}/_history/1").status_code == 200  # vread still works
    assert fhir.get(f"/Patient/{rid}/_history/2").status_code == 410  # the deletion version
    assert storage_code(fhir.delete(f"/Patient/{rid}").json()) == "SUCCESSFUL_DELETE_ALREADY_DELETED"
    assert storage_code(fhir.delete("/Patient/never-existed-xyz").json()) == "SUCCESSFUL_DELETE_NOT_FOUND"

    revived = fhir.put(f"/Patient/{rid}", json={**patient(new_system(), "D"), "id": rid}, headers=FHIR_JSON)
    assert revived.status_code == 201 and revived.json()["meta"]["versionId"] == "3"

    expired = fhir.get("", params={"_getpages": "no-such-search", "_getpagesoffset": 20, "_count": 20})
    assert expired.status_code == 410
    assert diagnostics(expired) == 'HAPI-0417: Search ID "no-such-search" does not exist and may have expired'


def test_a17_8_searchset_total_links_and_search_mode(fhir, fhir_base):
    system = new_system()
    ids = [create(fhir, patient(system, f"S-{n}")).json()["id"] for n in range(5)]
    first = fhir.get("/Patient", params={"identifier": f"{system}|", "_count": 2})
    bundle = first.json()
    assert bundle["type"] == "searchset" and bundle["total"] == 5
    assert all(e["search"] == {"mode": "match"} for e in bundle["entry"])
    assert bundle["entry"][0]["fullUrl"] == f"{fhir_base}/Patient/{ids[0]}"
    links = {link["relation"]: link["url"] for link in bundle["link"]}
    assert "self" in links
    form = rf"^{re.escape(fhir_base)}\?_getpages=[^&]+&_getpagesoffset=2&_count=2&_pretty=true&_bundletype=searchset$"
    assert re.match(form, links["next"])

    seen, page = [], bundle
    while True:
        seen += [entry["resource"]["id"] for entry in page.get("entry", [])]
        next_url = next((link["url"] for link in page["link"] if link["relation"] == "next"), None)
        if next_url is None:
            break
        page = requests.get(next_url, timeout=10).json()  # followed verbatim
        assert any(link["relation"] == "previous" for link in page["link"])
    assert seen == ids

    empty = fhir.get("/Patient", params={"identifier": f"{system}|nobody"}).json()
    assert empty["total"] == 0 and "entry" not in empty

    by_offset = fhir.get("/Patient", params={"identifier": f"{system}|", "_count": 2, "_offset": 2}).json()
    assert [e["resource"]["id"] for e in by_offset["entry"]] == ids[2:4]
    offset_next = next(link["url"] for link in by_offset["link"] if link["relation"] == "next")
    assert "_offset=4" in offset_next and "_getpages" not in offset_next


def test_a17_9_transaction_urn_rewriting_relative_location_bare_etag_atomic(fhir):
    system = new_system()

    def bundle(observation_subject: str, mrn: str) -> dict:
        patient_urn = f"urn:uuid:{uuid.uuid4()}"
        subject = patient_urn if observation_subject == "urn" else observation_subject
        return {
            "resourceType": "Bundle",
            "type": "transaction",
            "entry": [
                {
                    "fullUrl": patient_urn,
                    "resource": patient(system, mrn),
                    "request": {"method": "POST", "url": "Patient", "ifNoneExist": f"identifier={system}|{mrn}"},
                },
                {
                    "fullUrl": f"urn:uuid:{uuid.uuid4()}",
                    "resource": observation(subject),
                    "request": {"method": "POST", "url": "Observation"},
                },
            ],
        }

    answer = fhir.post("", json=bundle("urn", "T-1"), headers=FHIR_JSON)
    assert answer.status_code == 200
    result = answer.json()
    assert result["type"] == "transaction-response" and len(result["entry"]) == 2
    patient_response, observation_response = (entry["response"] for entry in result["entry"])
    assert patient_response["status"] == "201 Created" and patient_response["etag"] == "1"
    assert re.fullmatch(r"Patient/\d+/_history/1", patient_response["location"])
    patient_ref = patient_response["location"].split("/_history")[0]
    stored = fhir.get("/" + observation_response["location"].split("/_history")[0]).json()
    assert stored["subject"]["reference"] == patient_ref

    repeated = fhir.post("", json=bundle("urn", "T-1"), headers=FHIR_JSON).json()
    assert repeated["entry"][0]["response"]["status"] == "200 OK"  # the conditional create matched
    second_observation = repeated["entry"][1]["response"]["location"].split("/_history")[0]
    assert fhir.get(f"/{second_observation}").json()["subject"]["reference"] == patient_ref

    failing = fhir.post("", json=bundle("Patient/no-such-patient-xyz", "T-2"), headers=FHIR_JSON)
    assert failing.status_code == 400
    assert "HAPI-0550: " in diagnostics(failing) and "HAPI-1094: " in diagnostics(failing)
    assert fhir.get("/Patient", params={"identifier": f"{system}|T-2"}).json()["total"] == 0  # rolled back


def test_a17_10_referential_integrity_on_write_and_delete(fhir):
    dangling = create(fhir, observation("Patient/no-such-patient-xyz"))
    assert dangling.status_code == 400
    assert diagnostics(dangling) == (
        "HAPI-1094: Resource Patient/no-such-patient-xyz not found, specified in path: Observation.subject"
    )
    rid = create(fhir, patient(new_system(), "R")).json()["id"]
    observation_id = create(fhir, observation(f"Patient/{rid}")).json()["id"]
    blocked = fhir.delete(f"/Patient/{rid}")
    assert blocked.status_code == 409 and f"Observation/{observation_id}" in diagnostics(blocked)

    assert fhir.delete(f"/Observation/{observation_id}").status_code == 200
    assert fhir.delete(f"/Patient/{rid}").status_code == 200
    to_deleted = create(fhir, observation(f"Patient/{rid}"))
    assert to_deleted.status_code == 400 and diagnostics(to_deleted).startswith("HAPI-1096: ")


def test_a17_10_referential_integrity_can_be_switched_off(fhir, hapi_control):
    hapi_control.settings(referential_integrity=False)
    assert create(fhir, observation("Patient/no-such-patient-xyz")).status_code == 201


def test_a17_11_fault_injection_errors_timeouts_and_409_races(fhir, hapi_control):
    hapi_control.faults(error_rate=1.0, error_status=500)
    failed = fhir.get("/metadata")
    assert failed.status_code == 500 and failed.json()["resourceType"] == "OperationOutcome"
    hapi_control.faults(error_rate=0.0, outage=True)
    assert fhir.get("/metadata").status_code == 503
    hapi_control.faults(outage=False, latency_ms=500)
    with pytest.raises(requests.Timeout):
        fhir.get("/metadata", timeout=0.1)
    hapi_control.restore()

    body = create(fhir, patient(new_system(), "race")).json()

    def racing_update(n: int) -> int:
        changed = {**body, "active": n % 2 == 0, "gender": "unknown", "birthDate": f"19{n:02d}"}
        headers = {**FHIR_JSON, "If-Match": 'W/"1"'}
        return requests.put(f"{fhir.base}/Patient/{body['id']}", json=changed, headers=headers, timeout=10).status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = sorted(pool.map(racing_update, range(8)))
    assert statuses == [200] + [409] * 7


# --- details of A.10-A.16 ---------------------------------------------------------------------------------------
def test_a10_identical_search_within_60s_is_answered_from_cache(fhir):
    system = new_system()
    create(fhir, patient(system, "1"))
    query = {"identifier": f"{system}|"}
    assert fhir.get("/Patient", params=query).json()["total"] == 1
    create(fhir, patient(system, "2"))
    assert fhir.get("/Patient", params=query).json()["total"] == 1  # the cached result
    assert fhir.get("/Patient", params=query, headers={"Cache-Control": "no-cache"}).json()["total"] == 2


def test_a10_paging_links_expire(fhir, hapi_control):
    system = new_system()
    for n in range(3):
        create(fhir, patient(system, str(n)))
    bundle = fhir.get("/Patient", params={"identifier": f"{system}|", "_count": 1}).json()
    next_url = next(link["url"] for link in bundle["link"] if link["relation"] == "next")
    hapi_control.advance_clock(3601)
    expired = requests.get(next_url, timeout=10)
    assert expired.status_code == 410 and diagnostics(expired).startswith("HAPI-0417: ")


def test_a10_unknown_search_parameter_is_400(fhir):
    unknown = fhir.get("/Patient", params={"foo": "bar"})
    assert unknown.status_code == 400 and 'Unknown search parameter "foo"' in diagnostics(unknown)


def test_a11_conditional_reference_without_match_is_404(fhir):
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "resource": observation(f"Patient?identifier={new_system()}|nobody"),
                "request": {"method": "POST", "url": "Observation"},
            }
        ],
    }
    answer = fhir.post("", json=bundle, headers=FHIR_JSON)
    assert answer.status_code == 404 and "HAPI-1091: " in diagnostics(answer)


def test_a11_transaction_posted_to_bundle_endpoint_is_refused(fhir):
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": []}
    refused = fhir.post("/Bundle", json=bundle, headers=FHIR_JSON)
    assert refused.status_code == 400 and "POST the Bundle resource to the Base URL" in diagnostics(refused)


def _upsert(system: str, value: str, **extra: object) -> dict:
    """A conditional update entry (A.8): upsert by business identifier, no id of ours."""
    return {
        "resource": patient(system, value, **extra),
        "request": {"method": "PUT", "url": f"Patient?identifier={system}|{value}"},
    }


def test_a11_transaction_with_conditional_updates_and_return_minimal(fhir):
    system = new_system()
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [_upsert(system, "M-1"), _upsert(system, "M-2")],
    }
    minimal = {**FHIR_JSON, "Prefer": "return=minimal"}
    first = fhir.post("", json=bundle, headers=minimal)
    assert first.status_code == 200
    answers = [entry["response"] for entry in first.json()["entry"]]
    assert all("resource" not in entry for entry in first.json()["entry"])
    assert [a["status"] for a in answers] == ["201 Created", "201 Created"]  # no match: created, server ids
    assert all(re.fullmatch(r"Patient/\d+/_history/1", a["location"]) and a["etag"] == "1" for a in answers)

    bundle["entry"][1] = _upsert(system, "M-2", active=True)
    again = [entry["response"] for entry in fhir.post("", json=bundle, headers=minimal).json()["entry"]]
    assert [a["status"] for a in again] == ["200 OK", "200 OK"]  # one match each: updated (or unchanged)
    assert again[0]["location"] == answers[0]["location"]  # unchanged content: no new version
    assert again[1]["location"] == answers[1]["location"].replace("_history/1", "_history/2")
    assert fhir.get("/Patient", params={"identifier": f"{system}|"}).json()["total"] == 2


def test_a11_a_failing_entry_rolls_the_whole_transaction_back(fhir):
    """A stale If-Match on the last entry: 409 for the whole Bundle (an OperationOutcome, HAPI-0550), and
    neither the create before it nor the update of the same Bundle happened."""
    system = new_system()
    existing = create(fhir, patient(system, "X-0")).json()
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            _upsert(system, "X-1"),
            {
                "resource": {**existing, "active": True},
                "request": {"method": "PUT", "url": f"Patient/{existing['id']}", "ifMatch": 'W/"7"'},
            },
        ],
    }
    failed = fhir.post("", json=bundle, headers={**FHIR_JSON, "Prefer": "return=minimal"})
    assert failed.status_code == 409
    assert failed.json()["resourceType"] == "OperationOutcome"
    assert diagnostics(failed).startswith("HAPI-0550: ") and "HAPI-0989: " in diagnostics(failed)
    assert fhir.get("/Patient", params={"identifier": f"{system}|X-1"}).json()["total"] == 0
    assert fhir.get(f"/Patient/{existing['id']}").json()["meta"]["versionId"] == "1"


def test_a11_batch_answers_each_entry_and_keeps_the_others(fhir):
    system = new_system()
    bundle = {
        "resourceType": "Bundle",
        "type": "batch",
        "entry": [
            _upsert(system, "B-1"),
            {
                "resource": observation("Patient/no-such-patient-xyz"),
                "request": {"method": "POST", "url": "Observation"},
            },
        ],
    }
    answer = fhir.post("", json=bundle, headers=FHIR_JSON)
    assert answer.status_code == 200 and answer.json()["type"] == "batch-response"
    ok, refused = (entry["response"] for entry in answer.json()["entry"])
    assert ok["status"] == "201 Created" and refused["status"] == "400"
    assert refused["outcome"]["issue"][0]["diagnostics"].startswith("HAPI-1094: ")
    assert fhir.get("/Patient", params={"identifier": f"{system}|B-1"}).json()["total"] == 1


def test_a11_bundle_size_unlimited_by_default_413_past_a_configured_maximum(fhir, hapi_control):
    system = new_system()

    def bundle(count: int) -> dict:
        return {
            "resourceType": "Bundle",
            "type": "transaction",
            "entry": [_upsert(system, f"S-{i}") for i in range(count)],
        }

    assert fhir.post("", json=bundle(1000), headers=FHIR_JSON).status_code == 200  # stock HAPI: no maximum
    hapi_control.settings(max_bundle_size=50)
    assert fhir.post("", json=bundle(50), headers=FHIR_JSON).status_code == 200
    too_large = fhir.post("", json=bundle(51), headers=FHIR_JSON)
    assert too_large.status_code == 413
    assert diagnostics(too_large) == (
        "HAPI-0528: Transaction Bundle Too large.  Transaction bundle contains 51 which exceedes the maximum "
        "permitted transaction bundle size of 50"
    )


def test_a13_error_operation_outcome_shapes(fhir):
    errors = [
        (fhir.get("/Foo/1"), 404, "HAPI-0302: "),
        (fhir.post("/Patient", data=b"{not json", headers=FHIR_JSON), 400, "HAPI-1861: "),
        (fhir.post("/Patient", json={"name": []}, headers=FHIR_JSON), 400, "HAPI-1838: "),
        (create(fhir, {"resourceType": "Patient", "gender": "banana"}), 400, "HAPI-0450: "),
        (fhir.post("/Patient", data=b"{}"), 400, "No Content-Type header was provided"),
    ]
    for response, status, start in errors:
        assert response.status_code == status
        assert response.headers["Content-Type"].startswith("application/fhir+json")
        issue = response.json()["issue"][0]
        assert response.json()["resourceType"] == "OperationOutcome"
        assert issue["severity"] == "error" and issue["code"] == "processing"
        assert issue["diagnostics"].startswith(start)


def test_a14_capability_statement(fhir, fhir_base):
    statement = fhir.get("/metadata").json()
    assert statement["resourceType"] == "CapabilityStatement" and statement["fhirVersion"] == "4.0.1"
    assert statement["software"]["name"] == "HAPI FHIR Server"
    assert statement["implementation"]["url"] == fhir_base
    rest = statement["rest"][0]
    assert rest["mode"] == "server"
    patient_entry = next(r for r in rest["resource"] if r["type"] == "Patient")
    assert patient_entry["conditionalCreate"] is True and patient_entry["conditionalUpdate"] is True
    codes = {i["code"] for i in patient_entry["interaction"]}
    assert {"read", "vread", "update", "delete", "create", "search-type"} <= codes
    assert {"transaction", "batch"} <= {i["code"] for i in rest["interaction"]}


def test_a15_oauth2_bearer_tokens_expire_and_scopes_limit(fhir, hapi_control):
    hapi_control.settings(auth=True, token_ttl_s=60)
    assert fhir.get("/metadata").status_code == 200  # stays anonymous
    anonymous = fhir.get("/Patient")
    assert anonymous.status_code == 401 and anonymous.headers["WWW-Authenticate"].startswith("Bearer")
    assert diagnostics(anonymous).startswith("HAPI-0644: ")

    token_url = f"{hapi_control.origin}/oauth/token"
    settings = requests.get(f"{hapi_control.origin}/__control__/settings", timeout=10).json()
    form = {"grant_type": "client_credentials", "client_id": settings["client_id"], "scope": "system/Patient.read"}
    assert requests.post(token_url, data={**form, "client_secret": "wrong"}, timeout=10).status_code == 401
    granted = requests.post(token_url, data={**form, "client_secret": settings["client_secret"]}, timeout=10)
    assert granted.status_code == 200
    token = granted.json()
    assert token["token_type"] == "Bearer" and token["expires_in"] == 60

    reader = ApiClient(fhir.base, token["access_token"])
    assert reader.get("/Patient").status_code == 200
    denied = reader.post("/Patient", json=patient(new_system(), "x"), headers=FHIR_JSON)
    assert denied.status_code == 403 and diagnostics(denied) == "Access denied by default policy (no applicable rules)"
    assert ApiClient(fhir.base, "not-a-token").get("/Patient").status_code == 401
    hapi_control.advance_clock(61)
    assert reader.get("/Patient").status_code == 401


def test_a16_required_elements_are_checked_only_with_validation_on(fhir, hapi_control):
    no_status = {"resourceType": "Observation", "code": {"text": "tumour volume"}}
    assert create(fhir, no_status).status_code == 201  # stock HAPI validates nothing

    hapi_control.settings(validate=True)
    refused = create(fhir, no_status)
    assert refused.status_code == 422
    issue = refused.json()["issue"][0]
    assert issue["code"] == "required"
    assert issue["diagnostics"] == "Observation.status: minimum required = 1, but only found 0"
    audit = {
        "resourceType": "AuditEvent",
        "type": {"code": "rest"},
        "recorded": "2026-01-01T10:00:00Z",
        "agent": [{"who": {"identifier": {"value": "dr-x"}}}],
        "source": {"observer": {"display": "cds-backend"}},
    }
    missing_requestor = create(fhir, audit)
    assert missing_requestor.status_code == 422
    assert missing_requestor.json()["issue"][0]["expression"] == ["AuditEvent.agent[0].requestor"]
    audit["agent"][0]["requestor"] = True
    assert create(fhir, audit).status_code == 201
