"""CDS Hooks 2.0 service: discovery, patient-view, order-select and order-sign with valid and invalid JWTs,
with and without prefetch (then the HAPI FHIR stand-in answers), and feedback. Inputs are the
specification's example requests (tests/spec/)."""

import json
import threading
import time
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt
import pytest
import requests
from django.core.cache import cache
from django.utils import timezone

from ai.models import AIResult
from audit.models import Action, AuditEvent, Outcome
from cds_hooks import auth
from cds_hooks.models import CardFeedback
from cds_hooks.services import ORDER_SELECT, ORDER_SIGN, PATIENT_VIEW

from .conftest import BASE, ISS, WEB, spec, with_patient

DISCOVERY = "/cds-services"
PV = f"/cds-services/{PATIENT_VIEW}"
OSEL = f"/cds-services/{ORDER_SELECT}"
OSIGN = f"/cds-services/{ORDER_SIGN}"
BRAIN_MR = {
    "resourceType": "ServiceRequest",
    "id": "mr-brain-1",
    "status": "draft",
    "intent": "order",
    "code": {"coding": [{"system": "http://loinc.org", "code": "24587-8", "display": "MR Brain WO and W contrast IV"}]},
    "subject": {"reference": "Patient/1288992"},
}


def _cds_events(**filters):
    return AuditEvent.objects.filter(resource_type="cds_hook", **filters).order_by("-id")


def _assert_card(card: dict) -> None:
    assert len(card["summary"]) < 140
    assert card["indicator"] in ("info", "warning", "critical")
    assert card["source"]["label"]
    assert card["uuid"]
    for link in card.get("links", []):
        assert link["type"] == "absolute" and link["url"].startswith(WEB + "/")
    assert all(value not in (None, "", [], {}) for value in card.values()), "empty optional fields are omitted"


# --- the JWT --------------------------------------------------------------------------------------------------------
@pytest.fixture
def spec_issuer(settings):
    example = spec("jwt.json")
    settings.CDS_HOOKS_ISSUERS = [{"iss": example["iss"], "jwks": example["jwks"], "jku": [example["jku"]]}]
    digest = auth.hashlib.sha256(f"{example['iss']}\nee22b021-e1b7-4611-ba5b-8eec6a33ac1e".encode()).hexdigest()
    cache.delete(f"cds_hooks:jti:{digest}")
    return example


def test_the_specifications_example_jwt_verifies_with_its_key(spec_issuer):
    client = auth.verify(spec_issuer["token"], audience=spec_issuer["aud"], now=spec_issuer["exp"] - 60)
    assert client.issuer.iss == spec_issuer["iss"]
    assert client.tenant == "2ddd6c3a-8e9a-44c6-a305-52111ad302a2"
    with pytest.raises(auth.Refused, match="replayed"):  # the same jti again
        auth.verify(spec_issuer["token"], audience=spec_issuer["aud"], now=spec_issuer["exp"] - 60)


@pytest.mark.parametrize(
    ("audience", "offset", "reason"),
    [
        ("https://cds.example.org/cds-services/other", -60, "Audience"),
        ("https://cds.example.org/cds-services/some-service", +120, "expired"),
        ("https://cds.example.org/cds-services/some-service", -3600, "too far ahead"),  # exp > 5 min ahead
    ],
)
def test_the_example_jwt_is_refused_for_another_audience_or_time(spec_issuer, audience, offset, reason):
    with pytest.raises(auth.Refused, match=reason):
        auth.verify(spec_issuer["token"], audience=audience, now=spec_issuer["exp"] + offset)


def test_the_example_jwt_is_refused_when_its_issuer_or_jku_is_not_allowed(settings, spec_issuer):
    now = spec_issuer["exp"] - 60
    settings.CDS_HOOKS_ISSUERS = [{"iss": spec_issuer["iss"], "jwks": spec_issuer["jwks"]}]  # jku not listed
    with pytest.raises(auth.Refused, match="jku"):
        auth.verify(spec_issuer["token"], audience=spec_issuer["aud"], now=now)
    settings.CDS_HOOKS_ISSUERS = []
    with pytest.raises(auth.Refused, match="allow-list"):
        auth.verify(spec_issuer["token"], audience=spec_issuer["aud"], now=now)


def test_tampered_hmac_none_and_incomplete_tokens_are_refused(ehr):
    path = "/cds-services"
    header, _payload, signature = ehr.token(path).split(".")
    forged = jwt.utils.base64url_encode(json.dumps({"iss": ISS, "aud": BASE + path, "exp": 9999999999}).encode())
    with pytest.raises(auth.Refused):
        auth.verify(f"{header}.{forged.decode()}.{signature}", audience=BASE + path)
    hmac = jwt.encode({"iss": ISS, "aud": BASE + path}, "secret", algorithm="HS384", headers={"kid": "ehr-ec-1"})
    with pytest.raises(auth.Refused, match="algorithm"):
        auth.verify(hmac, audience=BASE + path)
    unsigned = jwt.encode({"iss": ISS, "aud": BASE + path}, None, algorithm="none", headers={"kid": "ehr-ec-1"})
    with pytest.raises(auth.Refused, match="algorithm"):
        auth.verify(unsigned, audience=BASE + path)
    with pytest.raises(auth.Refused, match="jti"):
        auth.verify(ehr.token(path, jti=None), audience=BASE + path)
    with pytest.raises(auth.Refused, match="kid"):
        auth.verify(ehr.token(path, headers={"kid": "rotated-away"}), audience=BASE + path)
    assert auth.verify(ehr.token(path, alg="RS384"), audience=BASE + path).issuer.iss == ISS


class _Jwks(BaseHTTPRequestHandler):
    body = b"{}"
    hits = 0

    def do_GET(self):
        type(self).hits += 1
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(type(self).body)

    def log_message(self, *args):
        pass


@pytest.mark.django_db
def test_keys_from_the_issuers_jwk_set_url_are_fetched_once_and_cached(settings, ehr):
    handler = type("Handler", (_Jwks,), {"body": json.dumps(ehr.jwks()).encode(), "hits": 0})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/jwks-{time.time_ns()}"
        settings.CDS_HOOKS_ISSUERS = [{"iss": ISS, "jwks_url": url}]
        for _ in range(3):
            auth.verify(ehr.token("/cds-services"), audience=BASE + "/cds-services")
        assert handler.hits == 1
        with pytest.raises(auth.Refused, match="kid"):  # an unknown kid: fetched again once, still unknown
            auth.verify(ehr.token("/cds-services", headers={"kid": "new"}), audience=BASE + "/cds-services")
        assert handler.hits == 2
        with pytest.raises(auth.Refused, match="jku"):
            auth.verify(
                ehr.token("/cds-services", headers={"jku": "https://evil.example/jwks"}),
                audience=BASE + "/cds-services",
            )
    finally:
        server.shutdown()


# --- discovery --------------------------------------------------------------------------------------------------
@pytest.mark.django_db
def test_discovery_lists_the_three_services_with_their_prefetch(cds):
    response = cds("get", DISCOVERY)
    assert response.status_code == 200
    services = {service["id"]: service for service in response.json()["services"]}
    assert {s["hook"] for s in services.values()} == {"patient-view", "order-select", "order-sign"}
    for service in services.values():
        assert service["description"] and service["title"]
        assert service["prefetch"]["patient"] == "Patient/{{context.patientId}}"
    assert services[ORDER_SIGN]["prefetch"]["imagingStudies"].startswith("ImagingStudy?patient={{context.patientId}}")


def _valid_body(path: str):
    return {
        DISCOVERY: None,
        PV: spec("patient-view.json"),
        OSEL: _order_select(with_mr=False),
        OSIGN: _order_sign(with_mr=False),
        f"{PV}/feedback": spec("feedback-overridden.json"),
    }[path]


@pytest.mark.django_db
@pytest.mark.parametrize("path", [DISCOVERY, PV, OSEL, OSIGN, f"{PV}/feedback"])
def test_every_endpoint_refuses_a_missing_or_invalid_jwt_with_401_and_no_detail(cds, ehr, fhir, path):
    body = _valid_body(path)
    method = "get" if path == DISCOVERY else "post"
    denied = AuditEvent.objects.filter(action=Action.LOGIN_FAILED, resource_type="cds_hook")
    before = denied.count()
    now = int(time.time())
    bad = [
        "",  # none
        "not-a-jwt",
        ehr.token("/cds-services/other"),  # another audience
        ehr.token(path, exp=now - 120, iat=now - 200),  # expired
        ehr.token(path, exp=now + 3600),  # beyond 5 minutes
        ehr.token(path, iss="https://unknown.example/"),
        ehr.token(path, alg="RS384", headers={"kid": "ehr-ec-1"}),  # signed by another key than the kid's
    ]
    for token in bad:
        response = cds(method, path, body, token=token)
        assert response.status_code == 401, token
        assert response.content == b""
        assert response["WWW-Authenticate"] == "Bearer"
    assert denied.count() == before + len(bad)
    valid = ehr.token(path)
    assert cds(method, path, body, token=valid).status_code == 200
    assert cds(method, path, body, token=valid).status_code == 401  # the same jti again: a replay


@pytest.mark.django_db
def test_cors_is_answered_for_allowed_origins_only(cds):
    allowed = {"HTTP_ORIGIN": "https://ehr-web.example.org", "HTTP_ACCESS_CONTROL_REQUEST_METHOD": "POST"}
    preflight = cds("options", PV, token="", **allowed)
    assert preflight.status_code == 204
    assert preflight["Access-Control-Allow-Origin"] == "https://ehr-web.example.org"
    assert "Authorization" in preflight["Access-Control-Allow-Headers"]
    assert cds("get", DISCOVERY, **allowed)["Access-Control-Allow-Origin"] == "https://ehr-web.example.org"
    other = cds("options", PV, token="", HTTP_ORIGIN="https://evil.example")
    assert "Access-Control-Allow-Origin" not in other


# --- patient-view -------------------------------------------------------------------------------------------------
def _course_and_results(user, patient):
    """Two signed studies, the lesion up 50 % from its nadir; one result awaiting sign-off; a high omics risk."""
    from ai.tests.factories import complete, make_job, make_study
    from board.tests.conftest import omics

    today = timezone.localdate()
    for days_ago, volume in ((60, 10.0), (10, 15.0)):
        study = make_study(patient)
        study.study_date = today - timedelta(days=days_ago)
        study.save(update_fields=["study_date"])
        job = complete(make_job(user, study), metrics={"volume_ml": {"lesion": volume}, "lesion_count": 1})
        AIResult.objects.filter(pk=job.result.pk).update(status=AIResult.Status.FINAL, reviewed_at=timezone.now())
    complete(make_job(user, make_study(patient)))  # preliminary: awaiting sign-off
    omics(user, patient, status=AIResult.Status.FINAL, group="high", score=1.2, percentile=91.0)


def _summaries(response) -> list[str]:
    assert response.status_code == 200, response.content
    cards = response.json()["cards"]
    for card in cards:
        _assert_card(card)
    return [card["summary"] for card in cards]


@pytest.mark.django_db
def test_patient_view_spec_example_without_our_prefetch_asks_the_fhir_server(cds, fhir):
    """The example's prefetch key is another service's: the service reads Patient/1288992 itself; the stand-in
    has no such patient, so there is no advice."""
    response = cds("post", PV, spec("patient-view.json"))
    assert response.status_code == 200
    assert response.json() == {"cards": []}
    event = _cds_events(resource_id="d1577c69-dfbe-44ad-ba6d-3e05e953b2ea").first()
    assert event.detail["prefetch"] == {"patient": "fhir"} and event.patient_id == ""
    assert "some-opaque-fhir-access-token" not in json.dumps(event.detail)


@pytest.mark.django_db
def test_patient_view_without_prefetch_gives_the_three_cards_from_the_fhir_servers_patient(
    cds, fhir_patient, doctor_user
):
    patient, fhir_id = fhir_patient
    _course_and_results(doctor_user, patient)
    call = with_patient(spec("patient-view.json"), fhir_id)
    summaries = _summaries(cds("post", PV, call))
    assert summaries == [
        "1 AI result(s) awaiting radiology sign-off",
        f"Lesion volume (lesion) up 50.0% from its nadir on {timezone.localdate() - timedelta(days=10)}",
        "Omics risk group: high",
    ]
    cards = cds("post", PV, call).json()["cards"]
    assert cards[1]["indicator"] == "warning" and "RANO-style aid" in cards[1]["detail"]
    assert cards[2]["links"][0]["url"].startswith(f"{WEB}/ai/jobs/")
    assert any(link["url"] == f"{WEB}/worklist" for link in cards[0]["links"])
    event = _cds_events(patient_id=patient.emr_uuid).first()
    assert event.actor_type == "service" and event.actor_username == f"cds-client:{ISS}"
    assert event.detail["prefetch"] == {"patient": "fhir"} and event.detail["cards"] == 3


@pytest.mark.django_db
def test_patient_view_with_prefetch_needs_no_fhir_server(settings, cds, doctor_user):
    from ai.tests.factories import make_patient
    from fhir_sync.transforms import patient as patient_resource

    settings.FHIR_BASE_URL = ""  # nothing to fall back on: the prefetch must be enough
    patient = make_patient()
    _course_and_results(doctor_user, patient)
    call = spec("patient-view.json")
    call["prefetch"] = {"patient": {**patient_resource(patient).as_json(), "id": "1288992"}}
    assert len(_summaries(cds("post", PV, call))) == 3
    assert _cds_events(patient_id=patient.emr_uuid).first().detail["prefetch"] == {"patient": "prefetch"}

    # the EHR's own fetch failed (an OperationOutcome) and no FHIR server can be asked: 412
    call["prefetch"] = {"patient": {"resourceType": "OperationOutcome", "issue": []}}
    call["hookInstance"] = "9f0a0a9e-1111-4a6b-9a43-4b1f7c1e0d01"
    assert cds("post", PV, call).status_code == 412
    assert _cds_events(resource_id=call["hookInstance"]).first().outcome == Outcome.FAILURE


@pytest.mark.django_db
def test_patient_view_answers_412_when_the_fhir_server_is_down_and_nothing_was_prefetched(cds, fhir):
    requests.post(f"{fhir.origin}/__control__/faults", json={"outage": True}, timeout=5).raise_for_status()
    call = spec("patient-view.json")
    call["hookInstance"] = "5e0c2a1d-2222-4a6b-9a43-4b1f7c1e0d02"
    response = cds("post", PV, call)
    assert response.status_code == 412


@pytest.mark.django_db
def test_a_patient_known_by_fhir_syncs_mapping_is_found_when_the_prefetched_patient_has_no_cdss_identifier(
    cds, doctor_user, settings
):
    from ai.tests.factories import make_patient
    from fhir_sync.models import FhirMapping

    settings.FHIR_BASE_URL = ""
    patient = make_patient()
    _course_and_results(doctor_user, patient)
    FhirMapping.objects.create(
        entity_type="emr.patient", entity_id=str(patient.pk), resource_type="Patient", fhir_id="1288992",
        fhir_version="1", content_hash="0" * 64, synced_at=timezone.now(),
    )  # fmt: skip
    call = spec("patient-view.json")
    call["prefetch"] = {"patient": call["prefetch"]["patientToGreet"]}  # the spec's Patient: no CDSS identifier
    assert len(_summaries(cds("post", PV, call))) == 3


@pytest.mark.django_db
def test_bad_calls_are_400_and_unknown_services_404(cds):
    call = spec("patient-view.json")
    del call["context"]["patientId"]
    assert cds("post", PV, call).status_code == 400
    assert cds("post", OSIGN, spec("patient-view.json")).status_code == 400  # the wrong hook for the service
    assert cds("post", "/cds-services/nothing-here", spec("patient-view.json")).status_code == 404
    refused = AuditEvent.objects.filter(resource_type="cds_hook", outcome=Outcome.FAILURE).order_by("-id")[:3]
    assert [event.status_code for event in refused] == [404, 400, 400], "refused calls are audited too"


@pytest.mark.django_db
def test_cards_speak_the_callers_language_korean_by_default(cds, doctor_user, settings):
    from ai.tests.factories import make_patient
    from fhir_sync.transforms import patient as patient_resource

    settings.FHIR_BASE_URL = ""
    patient = make_patient()
    _course_and_results(doctor_user, patient)
    call = spec("patient-view.json")
    call["prefetch"] = {"patient": {**patient_resource(patient).as_json(), "id": "1288992"}}
    summaries = _summaries(cds("post", PV, call, HTTP_ACCEPT_LANGUAGE="ko"))
    assert summaries[0] == "영상의학과 승인을 기다리는 AI 결과 1건"
    assert summaries[2] == "오믹스 위험군: high"


# --- order-select / order-sign --------------------------------------------------------------------------------------
def _order_select(patient_id: str = "1288992", *, with_mr: bool) -> dict:
    call = {
        "hook": "order-select",
        "hookInstance": "a8b9c0d1-3333-4a6b-9a43-4b1f7c1e0d03",
        **spec("order-select-context.json"),
    }
    if with_mr:
        call["context"]["draftOrders"]["entry"].append({"resource": BRAIN_MR})
        call["context"]["selections"].append("ServiceRequest/mr-brain-1")
    return with_patient(call, patient_id)


def _order_sign(patient_id: str = "1288992", *, with_mr: bool) -> dict:
    call = spec("order-sign.json")
    if with_mr:
        call["context"]["draftOrders"]["entry"].append({"resource": BRAIN_MR})
    return with_patient(call, patient_id)


def _recent_cdss_mr(patient, days_ago: int = 20):
    from ai.tests.factories import make_study

    study = make_study(patient)
    study.study_date = timezone.localdate() - timedelta(days=days_ago)
    study.save(update_fields=["study_date"])
    return study


@pytest.mark.django_db
@pytest.mark.parametrize(("path", "make"), [(OSEL, _order_select), (OSIGN, _order_sign)])
def test_order_hooks_spec_examples_without_imaging_orders_give_no_cards(cds, fhir, path, make):
    assert cds("post", path, make(with_mr=False)).json() == {"cards": []}


@pytest.mark.django_db
@pytest.mark.parametrize(("path", "make"), [(OSEL, _order_select), (OSIGN, _order_sign)])
def test_order_hooks_without_prefetch_suggest_reusing_a_recent_brain_mr_of_the_cdss(cds, fhir_patient, path, make):
    patient, fhir_id = fhir_patient
    study = _recent_cdss_mr(patient)
    response = cds("post", path, make(fhir_id, with_mr=True))
    assert response.status_code == 200, response.content
    [card] = response.json()["cards"]
    _assert_card(card)
    assert card["indicator"] == "warning" and card["selectionBehavior"] == "at-most-one"
    assert card["summary"].startswith("A brain MR was done 20 days ago")
    [action] = card["suggestions"][0]["actions"]
    assert action == {"type": "delete", "description": action["description"], "resourceId": "ServiceRequest/mr-brain-1"}
    assert {reason["display"] for reason in card["overrideReasons"]}
    assert card["links"][0]["url"] == f"{WEB}/radiology/studies/{study.pk}"
    event = _cds_events(patient_id=patient.emr_uuid).first()
    assert event.detail["prefetch"] == {"patient": "fhir", "imagingStudies": "fhir"}


@pytest.mark.django_db
@pytest.mark.parametrize(("path", "make"), [(OSEL, _order_select), (OSIGN, _order_sign)])
def test_order_hooks_with_prefetch_use_the_ehrs_imaging_studies(settings, cds, path, make):
    settings.FHIR_BASE_URL = ""
    call = make(with_mr=True)
    started = (timezone.localdate() - timedelta(days=5)).isoformat()
    old = (timezone.localdate() - timedelta(days=400)).isoformat()
    study = {
        "resourceType": "ImagingStudy", "id": "img-1", "status": "available", "started": started,
        "subject": {"reference": "Patient/1288992"},
        "modality": [{"system": "http://dicom.nema.org/resources/ontology/DCM", "code": "MR"}],
        "procedureCode": [{"coding": [{"system": "http://loinc.org", "code": "24590-2"}]}], "description": "MR brain",
    }  # fmt: skip
    call["prefetch"] = {
        "patient": None,  # the EHR has no such Patient resource
        "imagingStudies": {
            "resourceType": "Bundle", "type": "searchset",
            "entry": [{"resource": study}, {"resource": {**study, "id": "img-old", "started": old}}],
        },
    }  # fmt: skip
    [card] = _cards = cds("post", path, call).json()["cards"]
    assert card["summary"].startswith("A brain MR was done 5 days ago")
    assert "ImagingStudy/img-1" in card["detail"] and "img-old" not in card["detail"]
    # a CT, or an MR of the knee, is no reason to warn
    study["modality"] = [{"code": "CT"}]
    call["prefetch"]["imagingStudies"]["entry"] = [{"resource": study}]
    call["hookInstance"] = "b1c2d3e4-4444-4a6b-9a43-4b1f7c1e0d04"
    assert cds("post", path, call).json() == {"cards": []}


@pytest.mark.django_db
def test_order_select_warns_only_about_the_selected_orders(cds, fhir_patient):
    patient, fhir_id = fhir_patient
    _recent_cdss_mr(patient)
    call = _order_select(fhir_id, with_mr=True)
    call["context"]["selections"].remove("ServiceRequest/mr-brain-1")  # drafted earlier, not selected now
    assert cds("post", OSEL, call).json() == {"cards": []}


# --- feedback -----------------------------------------------------------------------------------------------------
@pytest.mark.django_db
@pytest.mark.parametrize("example", ["feedback-overridden.json", "feedback-override-reason.json"])
def test_feedback_examples_are_kept_once(cds, example):
    body = spec(example)
    path = f"{PV}/feedback"
    CardFeedback.objects.filter(card_uuid=body["feedback"][0]["card"]).delete()
    assert cds("post", path, body).status_code == 200
    assert cds("post", path, body).status_code == 200  # the EHR retried
    [kept] = CardFeedback.objects.filter(card_uuid=body["feedback"][0]["card"])
    assert kept.outcome == "overridden" and kept.issuer == ISS
    assert kept.override_reason == body["feedback"][0].get("overrideReason", {})
    events = AuditEvent.objects.filter(resource_type="cds_feedback", resource_id=kept.card_uuid).order_by("id")
    assert [event.detail["repeat"] for event in events][-2:] == [False, True]


@pytest.mark.django_db
def test_feedback_on_a_card_names_its_patient_and_accepted_needs_suggestions(cds, fhir_patient):
    patient, fhir_id = fhir_patient
    _recent_cdss_mr(patient)
    [card] = cds("post", OSIGN, _order_sign(fhir_id, with_mr=True)).json()["cards"]
    path = f"{OSIGN}/feedback"
    accepted = {"card": card["uuid"], "outcome": "accepted", "outcomeTimestamp": "2026-12-04T10:00:00Z"}
    assert cds("post", path, {"feedback": [accepted]}).status_code == 400  # acceptedSuggestions missing
    accepted["acceptedSuggestions"] = [{"id": card["suggestions"][0]["uuid"]}]
    assert cds("post", path, {"feedback": [accepted]}).status_code == 200
    event = AuditEvent.objects.filter(resource_type="cds_feedback", resource_id=card["uuid"]).first()
    assert event.patient_id == patient.emr_uuid and event.action == Action.CREATE
