"""The OpenEMR stand-in against CONTRACTS.md section B: one test per B.9 checklist item (several where an item
has parts that need the emulator's administrator switches), then the seeded data."""

import base64
import json
import re
import time
import uuid

import pytest
import requests

from .support import OEMR_SCOPES, ApiClient

ENVELOPE_KEYS = {"validationErrors", "internalErrors", "data", "links"}
REDIRECT = ["https://cdss.example.org/callback"]


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def register(origin: str, **metadata: object) -> requests.Response:
    body = {"application_type": "private", "redirect_uris": REDIRECT, "client_name": "CDSS test", **metadata}
    return requests.post(f"{origin}/oauth2/default/registration", json=body, timeout=10)


def token_request(origin: str, **form: str) -> requests.Response:
    return requests.post(f"{origin}/oauth2/default/token", data=form, timeout=10)


def admin(origin: str, client_id: str, **change: object) -> dict:
    """What an administrator does in Administration → System → API Clients (emulator control endpoint)."""
    return requests.post(f"{origin}/__control__/clients/{client_id}", json=change, timeout=10).json()


def string_valued(record: dict) -> bool:
    return all(value is None or isinstance(value, str) for value in record.values())


# --- B.9 checklist ------------------------------------------------------------------------------------------------
def test_b9_1_registration_answers_200_and_requires_redirect_uris(openemr_origin):
    scope = "openid offline_access api:oemr user/patient.read"
    registered = register(
        openemr_origin, contacts=["ops@example.org"], token_endpoint_auth_method="client_secret_post", scope=scope
    )
    assert registered.status_code == 200
    client = registered.json()
    assert client["client_id"] and client["client_secret"] and client["registration_access_token"]
    assert client["client_secret_expires_at"] == 0 and isinstance(client["client_id_issued_at"], int)
    assert client["redirect_uris"] == REDIRECT and client["client_name"] == "CDSS test" and client["scope"] == scope

    missing = requests.post(f"{openemr_origin}/oauth2/default/registration", json={"client_name": "x"}, timeout=10)
    assert missing.status_code == 400 and missing.json()["error"] == "invalid_redirect_uri"
    public_with_user_scope = register(openemr_origin, application_type="public", scope="openid user/patient.read")
    assert public_with_user_scope.status_code == 400


def password_form(client: dict, scope: str) -> dict:
    """The password grant of the stand-in's admin user, for a registered client."""
    return {
        "grant_type": "password",
        "client_id": client["client_id"],
        "client_secret": client["client_secret"],
        "user_role": "users",
        "username": "admin",
        "password": "pass",
        "scope": scope,
    }


def test_b9_1_user_scoped_clients_start_disabled_until_an_admin_enables_them(openemr_origin, openemr_control):
    client = register(openemr_origin, scope=OEMR_SCOPES).json()
    form = password_form(client, "openid api:oemr user/patient.read")
    disabled = token_request(openemr_origin, **form)
    assert disabled.status_code == 401 and disabled.json()["error"] == "invalid_client"
    assert admin(openemr_origin, client["client_id"], is_enabled=True)["is_enabled"] is True
    assert token_request(openemr_origin, **form).status_code == 200


def test_b9_1_registered_grant_types_are_enforced_on_newest_master(openemr_origin, openemr_control):
    openemr_control.settings(enforce_grant_types=True)
    client = register(openemr_origin, scope=OEMR_SCOPES, grant_types=["authorization_code", "password"]).json()
    state = admin(openemr_origin, client["client_id"], is_enabled=True)
    assert "password" not in state["grant_types"]  # dynamic registration drops it silently
    form = password_form(client, "openid api:oemr")
    refused = token_request(openemr_origin, **form)
    assert refused.status_code == 400 and refused.json()["error"] == "unauthorized_client"
    assert refused.json()["hint"] == "Grant type password is not registered for this client."
    admin(openemr_origin, client["client_id"], grant_types=[*state["grant_types"], "password"])
    assert token_request(openemr_origin, **form).status_code == 200


def test_b9_2_password_grant_and_rotating_refresh_tokens(openemr_origin, openemr_account, password_token):
    issued = password_token()
    assert issued["token_type"] == "Bearer" and issued["expires_in"] == 3600
    assert issued["access_token"] and issued["refresh_token"] and issued["id_token"]

    refresh_form = {
        "grant_type": "refresh_token",
        "client_id": openemr_account["client_id"],
        "client_secret": openemr_account["client_secret"],
    }
    renewed = token_request(openemr_origin, **refresh_form, refresh_token=issued["refresh_token"])
    assert renewed.status_code == 200
    assert renewed.json()["refresh_token"] != issued["refresh_token"]
    api = ApiClient(f"{openemr_origin}/apis/default/api", renewed.json()["access_token"])
    assert api.get("/patient", params={"_limit": 1}).status_code == 200
    reused = token_request(openemr_origin, **refresh_form, refresh_token=issued["refresh_token"])
    assert reused.status_code == 400 and reused.json()["error"] == "invalid_grant"


def test_b9_2_token_errors_in_league_shape(openemr_origin, openemr_account):
    base = {
        "grant_type": "password",
        "client_id": openemr_account["client_id"],
        "client_secret": openemr_account["client_secret"],
        "username": openemr_account["username"],
        "password": openemr_account["password"],
        "scope": "openid api:oemr",
    }
    no_role = token_request(openemr_origin, **base)
    assert no_role.status_code == 400 and no_role.json()["error"] == "invalid_request"
    wrong_password = token_request(openemr_origin, **{**base, "user_role": "users", "password": "wrong"})
    assert wrong_password.status_code == 400 and wrong_password.json()["error"] == "invalid_grant"
    bad_client = token_request(openemr_origin, **{**base, "user_role": "users", "client_secret": "wrong"})
    assert bad_client.status_code == 401 and bad_client.json()["error"] == "invalid_client"
    for error in (no_role, wrong_password, bad_client):
        assert {"error", "error_description", "message"} <= set(error.json())


def test_b9_2_password_grant_is_off_unless_enabled(openemr_origin, openemr_control, openemr_account):
    openemr_control.settings(password_grant=0)
    refused = token_request(
        openemr_origin,
        grant_type="password",
        client_id=openemr_account["client_id"],
        client_secret=openemr_account["client_secret"],
        user_role="users",
        username="admin",
        password="pass",
    )
    assert refused.status_code == 400 and refused.json()["error"] == "unsupported_grant_type"


def test_b9_2_client_credentials_gives_short_fhir_only_tokens(openemr_origin, openemr_control):
    rsa = pytest.importorskip("cryptography.hazmat.primitives.asymmetric.rsa")
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    numbers = key.public_key().public_numbers()
    jwk = {
        "kty": "RSA",
        "kid": "k1",
        "alg": "RS384",
        "n": b64url(numbers.n.to_bytes(256, "big")),
        "e": b64url(numbers.e.to_bytes(3, "big")),
    }
    scope = "openid api:fhir system/Patient.read"
    client = register(
        openemr_origin, token_endpoint_auth_method="private_key_jwt", jwks={"keys": [jwk]}, scope=scope
    ).json()
    admin(openemr_origin, client["client_id"], is_enabled=True)  # system/ scopes need an administrator

    claims = {
        "iss": client["client_id"],
        "sub": client["client_id"],
        "aud": f"{openemr_origin}/oauth2/default/token",
        "exp": int(time.time()) + 240,
        "jti": uuid.uuid4().hex,
    }
    header = {"alg": "RS384", "typ": "JWT", "kid": "k1"}
    signing_input = ".".join(b64url(json.dumps(part).encode()) for part in (header, claims))
    signature = key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA384())
    form = {
        "grant_type": "client_credentials",
        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        "client_assertion": f"{signing_input}.{b64url(signature)}",
        "scope": "api:fhir system/Patient.read",
    }
    issued = token_request(openemr_origin, **form)
    assert issued.status_code == 200
    assert issued.json()["expires_in"] == 300 and "refresh_token" not in issued.json()
    token = issued.json()["access_token"]
    assert ApiClient(f"{openemr_origin}/apis/default/fhir", token).get("/Patient").status_code == 200
    standard = ApiClient(f"{openemr_origin}/apis/default/api", token).get("/patient")
    assert standard.status_code == 403 and "system role" in standard.json()["message"]
    replayed = token_request(openemr_origin, **form)
    assert replayed.status_code == 401 and replayed.json()["error"] == "invalid_client"


def test_b9_3_bearer_checks_401_and_scope_403(openemr_origin, password_token):
    api = f"{openemr_origin}/apis/default/api"
    for headers in ({}, {"Authorization": "Bearer not-a-token"}):
        refused = requests.get(f"{api}/patient", headers=headers, timeout=10)
        assert refused.status_code == 401
        assert refused.json()["message"] == "Authorization failed for the request."
    assert requests.get(f"{openemr_origin}/apis/default/fhir/metadata", timeout=10).status_code == 200
    assert requests.get(f"{openemr_origin}/apis/default/fhir/Patient", timeout=10).status_code == 401

    patients_only = ApiClient(api, password_token(scope="openid api:oemr user/patient.read")["access_token"])
    some = patients_only.get("/patient", params={"_limit": 1}).json()["data"][0]
    denied = patients_only.get(f"/patient/{some['pid']}/encounter/1/vital")
    assert denied.status_code == 403 and "user/vital.read" in denied.json()["message"]


def test_b9_3_expired_token_and_patient_role(openemr_origin, openemr_control, openemr_account, oemr):
    someone = oemr.get("/patient", params={"_limit": 1}).json()["data"][0]
    patient_login = token_request(
        openemr_origin,
        grant_type="password",
        client_id=openemr_account["client_id"],
        client_secret=openemr_account["client_secret"],
        user_role="patient",
        username=someone["email"],
        email=someone["email"],
        password="pass",
        scope="openid api:oemr user/patient.read",
    )
    assert patient_login.status_code == 200
    as_patient = ApiClient(oemr.base, patient_login.json()["access_token"]).get("/patient")
    assert as_patient.status_code == 403 and "patient or system role" in as_patient.json()["message"]

    openemr_control.advance_clock(3601)
    assert oemr.get("/patient").status_code == 401


def test_b9_4_envelope_400_validation_404_unknown_201_create(oemr):
    invalid = oemr.post("/patient", json={"lname": "박", "DOB": "1980-02-03", "sex": "Female"})
    assert invalid.status_code == 400 and set(invalid.json()) == ENVELOPE_KEYS
    assert invalid.json()["validationErrors"] == {
        "fname": {"Required::NON_EXISTENT_KEY": "fname must be provided, but does not exist"}
    }

    created = oemr.post("/patient", json={"fname": "지민", "lname": "박", "DOB": "1980-02-03", "sex": "Female"})
    assert created.status_code == 201
    new = created.json()["data"]
    assert set(new) == {"pid", "uuid"}
    read = oemr.get(f"/patient/{new['uuid']}")
    assert read.status_code == 200 and set(read.json()) == ENVELOPE_KEYS
    assert read.json()["data"]["fname"] == "지민" and string_valued(read.json()["data"])
    updated = oemr.put(f"/patient/{new['uuid']}", json={"city": "Seoul"})
    assert updated.status_code == 200 and updated.json()["data"]["city"] == "Seoul"

    unknown = oemr.get(f"/patient/{uuid.uuid4()}")
    assert unknown.status_code == 404 and unknown.json()["data"] == [] and set(unknown.json()) == ENVELOPE_KEYS


def test_b9_5_routes_use_puuid_pid_and_eid_with_string_fields(oemr):
    patient = oemr.get("/patient", params={"_limit": 1}).json()["data"][0]
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", patient["DOB"]) and patient["sex"] in {"Male", "Female"}
    assert string_valued(patient) and patient["pid"].isdigit()

    created = oemr.post(
        f"/patient/{patient['uuid']}/encounter",
        json={
            "date": "2026-01-10",
            "reason": "MRI brain review",
            "pc_catid": "5",
            "class_code": "AMB",
            "facility_id": "3",
        },
    )
    assert created.status_code == 201
    encounter_number = created.json()["data"]["encounter"]
    encounters = oemr.get(f"/patient/{patient['uuid']}/encounter").json()["data"]
    assert any(e["uuid"] == created.json()["data"]["uuid"] for e in encounters)
    assert oemr.get(f"/patient/{patient['uuid']}/encounter/{created.json()['data']['uuid']}").status_code == 200
    assert oemr.post(f"/patient/{patient['uuid']}/encounter", json={"reason": "x"}).status_code == 400

    vital_path = f"/patient/{patient['pid']}/encounter/{encounter_number}/vital"  # :pid and :eid, not uuids
    vital = {"bps": "130", "bpd": "80", "weight": "154.3", "height": "66.1", "temperature": "98.6", "pulse": "64"}
    assert oemr.post(vital_path, json=vital).status_code == 201
    vitals = oemr.get(vital_path).json()["data"]
    assert vitals[-1]["bps"] == "130" and string_valued(vitals[-1])
    assert oemr.get(f"{vital_path}/{vitals[-1]['id']}").json()["data"]["uuid"] == vitals[-1]["uuid"]

    problem = {"title": "Glioblastoma", "begdate": "2025-12-01", "enddate": None, "diagnosis": "ICD10:C71.1"}
    assert oemr.post(f"/patient/{patient['uuid']}/medical_problem", json=problem).status_code == 201
    problems = oemr.get(f"/patient/{patient['uuid']}/medical_problem").json()["data"]
    assert any(p["diagnosis"] == "ICD10:C71.1" for p in problems)
    assert oemr.get(f"/patient/{patient['pid']}/medication").status_code == 200
    assert oemr.get(f"/patient/{patient['uuid']}/allergy").status_code == 200
    assert oemr.get(f"/patient/{patient['pid']}/encounter").status_code == 400  # a pid where a uuid belongs


def test_b9_5_prescriptions_are_listed_globally_and_read_by_uuid(oemr, openemr_process):
    prescriptions = oemr.get("/prescription").json()["data"]
    if not prescriptions and openemr_process is None:
        # The Standard API cannot write prescriptions; a real server's come from its UI (contract runs).
        pytest.skip("the real server holds no prescription")
    assert oemr.get(f"/prescription/{prescriptions[0]['uuid']}").json()["data"]["drug"] == prescriptions[0]["drug"]


def test_b9_6_limit_offset_paging_and_the_count_link_quirk(oemr):
    everyone = oemr.get("/patient").json()["data"]  # no _limit: all rows
    assert len(everyone) > 20
    first = oemr.get("/patient", params={"_limit": 10}).json()
    assert [p["pid"] for p in first["data"]] == [p["pid"] for p in everyone[:10]]
    assert first["links"]["first"].endswith("_offset=0&_count=10") and "previous" not in first["links"]
    assert first["links"]["next"].endswith("_offset=10&_count=10")
    followed = oemr.session.get(first["links"]["next"], timeout=10).json()["data"]
    assert len(followed) == len(everyone) - 10  # `_count` is ignored: the rest comes back at once

    second = oemr.get("/patient", params={"_limit": 10, "_offset": 10}).json()
    assert [p["pid"] for p in second["data"]] == [p["pid"] for p in everyone[10:20]]
    assert "previous" in second["links"]
    clamped = oemr.get("/patient", params={"_limit": 500}).json()
    assert clamped["links"]["first"].endswith("_count=200") and len(clamped["data"]) == min(len(everyone), 200)

    encounters = oemr.get(f"/patient/{everyone[0]['uuid']}/encounter").json()
    assert encounters["links"] == []  # sub-lists are not paginated


def test_b9_7_fhir_search_bundle_is_collection(openemr_origin, password_token):
    fhir = ApiClient(f"{openemr_origin}/apis/default/fhir", password_token()["access_token"])
    bundle = fhir.get("/Patient", params={"_count": 5}).json()
    assert bundle["resourceType"] == "Bundle" and bundle["type"] == "collection"
    assert len(bundle["entry"]) == 5 and bundle["total"] >= 5
    patient_id = bundle["entry"][0]["resource"]["id"]
    assert fhir.get(f"/Patient/{patient_id}").json()["resourceType"] == "Patient"
    unknown = fhir.get(f"/Patient/{uuid.uuid4()}")
    assert unknown.status_code == 404 and unknown.json() == []
    metadata = requests.get(f"{openemr_origin}/apis/default/fhir/metadata", timeout=10).json()
    oauth_uris = metadata["rest"][0]["security"]["extension"][0]["extension"]
    assert any(uri["url"] == "token" for uri in oauth_uris)


# --- the synthetic data ------------------------------------------------------------------------------------------
def test_seeded_patients_are_korean_and_english_with_brain_tumours(oemr, openemr_control):
    patients = oemr.get("/patient").json()["data"]
    assert len(patients) >= 60
    names = [p["fname"] + p["lname"] for p in patients]
    assert any(re.search("[가-힣]", name) for name in names) and any(name.isascii() for name in names)
    diagnoses = {p["diagnosis"] for p in oemr.get("/medical_problem").json()["data"]}
    for family in ("ICD10:C71.", "ICD10:D33.", "ICD10:D43.", "ICD10:I10"):
        assert any(d.startswith(family) for d in diagnoses), family
    prescriptions = oemr.get("/prescription").json()["data"]
    assert any(p["drug"].startswith("Temozolomide") for p in prescriptions)
    vitals = oemr.get(f"/patient/{patients[0]['pid']}/encounter/1/vital").json()["data"]
    assert vitals and float(vitals[0]["temperature"]) > 90  # °F, as OpenEMR stores it


def test_fhir_patient_search_by_last_updated_pages_and_keeps_the_filter(
    openemr_origin, openemr_control, password_token
):
    added = requests.post(
        f"{openemr_origin}/__control__/patients", json={"count": 3, "date": "2020-01-01 00:00:00"}, timeout=10
    )
    assert added.status_code == 200 and added.json()["added"] == 3
    openemr_control._call("POST", "clock", {"advance_s": 400 * 86400})  # later than every earlier write
    oemr = ApiClient(f"{openemr_origin}/apis/default/api", password_token()["access_token"])
    everyone = oemr.get("/patient", params={"_limit": 0}).json()["data"]
    assert sum(p["date"] == "2020-01-01 00:00:00" for p in everyone) >= 3
    edited = [p["uuid"] for p in everyone[-3:]]  # the bulk-added ones
    for puuid in edited:
        assert oemr.put(f"/patient/{puuid}", json={"city": "Busan"}).status_code == 200
    stamp = oemr.get(f"/patient/{edited[0]}").json()["data"]["date"]
    since = stamp.replace(" ", "T") + "+00:00"

    fhir = ApiClient(f"{openemr_origin}/apis/default/fhir", password_token()["access_token"])
    first = fhir.get("/Patient", params={"_lastUpdated": f"ge{since}", "_count": 2}).json()
    assert first["total"] == 3 and len(first["entry"]) == 2
    assert first["entry"][0]["resource"]["meta"]["lastUpdated"].startswith(stamp.replace(" ", "T"))
    next_url = next(link["url"] for link in first["link"] if link["relation"] == "next")
    assert "_lastUpdated=ge" in next_url, "the next link keeps the search parameters"
    rest = fhir.session.get(next_url, timeout=10).json()
    assert {e["resource"]["id"] for e in first["entry"] + rest["entry"]} == set(edited)
    older = fhir.get("/Patient", params={"_lastUpdated": f"lt{since}", "_count": 0}).json()
    assert older["total"] == len(everyone) - 3
    assert fhir.get("/Patient", params={"_lastUpdated": "genot-a-date"}).status_code == 400
