"""/api/patients against the OpenEMR stand-in: the cache, the live record, the timeline, audit of every
read, and an EMR that goes down, is slow, and comes back by itself."""

import time

import pytest
import requests
from django.conf import settings as django_settings

from audit.models import Action, AuditEvent
from core import http
from emr.models import Patient
from emr.services import patient_cache_refresh_all
from emr.tasks import refresh_patient_cache

pytestmark = pytest.mark.django_db


@pytest.fixture
def cached(emr):
    refresh_patient_cache()  # the beat task, called directly
    return Patient.objects.order_by("id")


@pytest.fixture
def doctor(token_client):
    return token_client("DOCTOR")


def test_cache_is_filled_by_the_periodic_task_and_searchable(cached, doctor):
    assert cached.count() >= 50
    patient = cached.first()
    found = doctor.get("/api/patients", {"q": patient.family_name}).json()
    assert patient.emr_uuid in {row["emr_uuid"] for row in found["results"]}
    by_birth_date = doctor.get("/api/patients", {"q": patient.birth_date.isoformat()}).json()
    assert patient.emr_uuid in {row["emr_uuid"] for row in by_birth_date["results"]}
    assert patient_cache_refresh_all() == cached.count()  # refreshing again adds nobody twice


def test_live_emr_search_refreshes_the_cache(emr, doctor):
    response = doctor.get("/api/patients", {"source": "emr", "family_name": "Kim"})
    assert response.status_code == 200
    for row in response.json()["results"]:
        assert Patient.objects.filter(emr_uuid=row["emr_uuid"]).exists()


def test_every_patient_read_is_audited_with_the_patient(cached, doctor):
    puuid = cached.first().emr_uuid
    assert doctor.get(f"/api/patients/{puuid}").status_code == 200
    for section in ("encounters", "problems", "medications", "prescriptions", "allergies", "vitals"):
        response = doctor.get(f"/api/patients/{puuid}/{section}")
        assert response.status_code == 200, (section, response.content[:300])
    reads = AuditEvent.objects.filter(action=Action.READ, patient_id=puuid, actor_id=doctor.user.pk)
    assert set(reads.values_list("resource_type", flat=True)) >= {
        "patient", "patient_encounters", "patient_problems", "patient_medications", "patient_prescriptions",
        "patient_allergies", "patient_vitals"}  # fmt: skip


def test_timeline_collects_encounters(cached, doctor):
    patient = next(p for p in cached if doctor.get(f"/api/patients/{p.emr_uuid}/encounters").json()["results"])
    timeline = doctor.get(f"/api/patients/{patient.emr_uuid}/timeline").json()
    assert timeline["count"] >= 1 and timeline["results"][0]["kind"] == "encounter"
    doctor.get(f"/api/patients/{patient.emr_uuid}/encounters")
    assert doctor.get(f"/api/patients/{patient.emr_uuid}/timeline").json()["count"] == timeline["count"]


def test_unknown_patient_is_404(emr, doctor):
    response = doctor.get("/api/patients/00000000-0000-4000-8000-000000000000")
    assert response.status_code == 404 and response.json()["status"] == 404


def test_bad_query_is_400(emr, doctor):
    response = doctor.get("/api/patients", {"source": "somewhere"})
    assert response.status_code == 400 and "source" in response.json()["fields"]


def test_emr_down_is_503_within_the_timeout_and_recovers_by_itself(cached, doctor, settings):
    settings.CIRCUIT_BREAKER_FAILURES, settings.CIRCUIT_BREAKER_RESET_SECONDS = 3, 1.0
    http._breakers.clear()  # take the settings above
    puuid = cached.first().emr_uuid
    requests.post(f"{django_settings.EMR_BASE_URL}/__control__/faults", json={"outage": True}, timeout=5)
    statuses = []
    for _ in range(4):
        started = time.monotonic()
        response = doctor.get(f"/api/patients/{puuid}/encounters")
        statuses.append(response.status_code)
        assert time.monotonic() - started < 3.0
        assert response.json()["system"] == "emr" and "Traceback" not in response.content.decode()
    assert statuses == [503] * 4
    assert "circuit open" in response.json()["detail"], "after repeated failures calls fail fast"

    requests.delete(f"{django_settings.EMR_BASE_URL}/__control__/faults", timeout=5)
    time.sleep(1.1)  # the breaker lets one probe through after its reset time
    assert doctor.get(f"/api/patients/{puuid}/encounters").status_code == 200


def test_slow_emr_is_504_within_the_configured_timeout(cached, doctor):
    puuid = cached.first().emr_uuid
    requests.post(f"{django_settings.EMR_BASE_URL}/__control__/faults", json={"latency_ms": 2500}, timeout=5)
    started = time.monotonic()
    response = doctor.get(f"/api/patients/{puuid}/problems")
    elapsed = time.monotonic() - started
    assert response.status_code == 504 and response.json()["system"] == "emr"
    assert elapsed < 2.0, f"answered after {elapsed:.1f} s; the timeout is 1 s"


def test_emr_validation_errors_reach_the_caller_field_by_field(emr, doctor):
    # A patient the cache knows but the EMR does not: OpenEMR answers 400 with validationErrors for the uuid.
    from django.utils import timezone

    ghost = Patient.objects.create(emr_uuid="ghost-uuid", emr_pid="999999", fetched_at=timezone.now())
    response = doctor.get(f"/api/patients/{ghost.emr_uuid}/encounters")
    assert response.status_code == 400, response.content[:300]
    body = response.json()
    assert body["system"] == "emr" and "uuid" in body["fields"]


def test_garbage_from_the_emr_is_502_not_500(cached, doctor):
    puuid = cached.first().emr_uuid
    requests.post(f"{django_settings.EMR_BASE_URL}/__control__/faults", json={"garbage": True}, timeout=5)
    response = doctor.get(f"/api/patients/{puuid}/allergies")
    assert response.status_code == 502 and response.json()["system"] == "emr"


def test_new_or_changed_patients_are_queued_for_fhir_sync_unchanged_ones_not(emr):
    from core.models import OutboxMessage
    from emr.services import patient_upsert_from_emr

    record = {"uuid": "sync-me", "pid": "77", "pubpid": "MRN-77", "lname": "Lee", "fname": "Ana", "DOB": "1970-01-01"}
    patient = patient_upsert_from_emr(record)
    patient_upsert_from_emr(dict(record))  # the same content again
    patient_upsert_from_emr({**record, "lname": "Lee-Park"})
    queued = OutboxMessage.objects.filter(target="fhir_sync.sync_entity")
    assert queued.count() == 2
    assert all(message.payload["args"] == ["emr.patient", patient.pk] for message in queued)


def test_selectors_write_nothing_but_the_audit_trail(cached, doctor):
    # A stale cache row and an encounters read: the refresh and the timeline are services' (the view calls them).
    from datetime import timedelta

    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from emr import selectors

    patient = cached.first()
    Patient.objects.filter(pk=patient.pk).update(fetched_at=timezone.now() - timedelta(days=30))
    with CaptureQueriesContext(connection) as queries:
        selectors.patient_list(user=doctor.user, query=patient.family_name)
        read = selectors.patient_get(user=doctor.user, puuid=patient.emr_uuid)
        for section in ("encounters", "vitals"):
            selectors.patient_record_section(user=doctor.user, patient=read, section=section)
        list(selectors.patient_timeline(user=doctor.user, patient=read))
    writes = [
        q["sql"]
        for q in queries.captured_queries
        if q["sql"].lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE"))
    ]
    assert [sql for sql in writes if "audit_" not in sql] == []
    assert Patient.objects.get(pk=patient.pk).fetched_at < timezone.now() - timedelta(days=29)
    assert doctor.get(f"/api/patients/{patient.emr_uuid}").status_code == 200  # the view refreshes it first
    assert Patient.objects.get(pk=patient.pk).fetched_at > timezone.now() - timedelta(minutes=5)


def test_no_emr_configured_is_503_and_fresh_cached_patients_still_read(cached, doctor, settings):
    puuid = cached.first().emr_uuid
    settings.EMR_BASE_URL = ""
    assert doctor.get(f"/api/patients/{puuid}").status_code == 200  # fresh in the cache: no EMR call
    for path in (f"/api/patients/{puuid}/encounters", "/api/patients?source=emr&family_name=Kim"):
        response = doctor.get(path)
        assert response.status_code == 503 and response.json()["system"] == "emr", path
        assert "EMR_BASE_URL" in response.json()["detail"]
