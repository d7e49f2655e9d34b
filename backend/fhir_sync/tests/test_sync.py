"""The sync service in this process against the HAPI stand-in: idempotent writes, the mapping and its
content hash, references written first, dead letters, replay and discard through the API."""

import pytest

from core.models import OutboxMessage
from fhir_sync import services
from fhir_sync.clients.hapi_client import FhirAuthRefused, FhirInvalid, FhirUnavailable, FhirVersionConflict
from fhir_sync.models import DeadLetter, FhirMapping
from fhir_sync.tasks import backoff_seconds

from .conftest import fhir_faults, resources_for

pytestmark = pytest.mark.django_db


def test_create_then_unchanged_then_update_with_if_match(fhir, make_patients):
    (patient,) = make_patients(1)
    first = services.sync_entity_now("emr.patient", patient.pk)
    assert first.outcome == "created" and first.version == "1"
    mapping = FhirMapping.objects.get(entity_type="emr.patient", entity_id=str(patient.pk))
    assert mapping.reference == first.reference and len(mapping.content_hash) == 64

    assert services.sync_entity_now("emr.patient", patient.pk).outcome == "unchanged"

    patient.family_name = "Renamed"
    patient.save()
    again = services.sync_entity_now("emr.patient", patient.pk)
    assert (again.outcome, again.reference, again.version) == ("updated", first.reference, "2")
    assert resources_for(patient.emr_uuid) == 1


def test_a_lost_mapping_finds_the_existing_resource_instead_of_creating_another(fhir, make_patients):
    (patient,) = make_patients(1)
    created = services.sync_entity_now("emr.patient", patient.pk)
    FhirMapping.objects.all().delete()
    matched = services.sync_entity_now("emr.patient", patient.pk)
    assert matched.outcome == "matched" and matched.reference == created.reference
    assert resources_for(patient.emr_uuid) == 1


def test_version_conflict_rereads_and_updates(fhir, make_patients):
    (patient,) = make_patients(1)
    services.sync_entity_now("emr.patient", patient.pk)
    FhirMapping.objects.update(fhir_version="99", content_hash="stale")
    assert services.sync_entity_now("emr.patient", patient.pk).outcome == "updated"


def test_an_audit_event_is_written_under_its_client_id_once(fhir):
    from audit.client import AuditClient

    event = AuditClient.log_event("READ", resource_type="patient", resource_id="x", patient_id="p-1")
    first = services.sync_entity_now("audit.event", event.pk)
    assert first.reference == f"AuditEvent/cdss-audit-{event.pk}"
    FhirMapping.objects.all().delete()  # even without the mapping, a second write is the same resource
    assert services.sync_entity_now("audit.event", event.pk).reference == first.reference


def test_a_referenced_patient_is_written_before_the_order(fhir, make_patients, make_user):
    from radiology.models import Order

    (patient,) = make_patients(1)
    order = Order.objects.create(
        patient=patient, ordered_by=make_user("DOCTOR"), modality="MR", body_part="brain", reason="headache"
    )
    result = services.sync_entity_now("radiology.order", order.pk)
    assert result.reference.startswith("ServiceRequest/")
    patient_ref = FhirMapping.objects.get(entity_type="emr.patient", entity_id=str(patient.pk)).reference
    assert patient_ref.startswith("Patient/")


def test_a_mapping_whose_resource_is_gone_is_forgotten_and_the_reference_written_again(fhir, make_patients, make_user):
    """The FHIR server lost the patient our mapping names (restored from an older backup, say): the order's
    write is refused with HAPI-1094, the stale mapping dropped, the patient found or written again, and
    the order written, in the same call."""
    from radiology.models import Order

    (patient,) = make_patients(1)
    services.sync_entity_now("emr.patient", patient.pk)
    FhirMapping.objects.filter(entity_type="emr.patient", entity_id=str(patient.pk)).update(fhir_id="gone-404")
    order = Order.objects.create(
        patient=patient, ordered_by=make_user("DOCTOR"), modality="MR", body_part="brain", reason="headache"
    )

    result = services.sync_entity_now("radiology.order", order.pk)

    assert result.reference.startswith("ServiceRequest/")
    remapped = FhirMapping.objects.get(entity_type="emr.patient", entity_id=str(patient.pk))
    assert remapped.fhir_id != "gone-404"


def test_failures_are_classified():
    assert services.is_retryable(FhirUnavailable("down", status_code=503))
    assert services.is_retryable(FhirVersionConflict("raced", status_code=409))
    assert not services.is_retryable(FhirInvalid("bad", status_code=400))
    assert not services.is_retryable(FhirInvalid("bad", status_code=422))
    assert not services.is_retryable(services.Permanent("no"))
    assert not services.is_retryable(FhirAuthRefused("refused after one refresh", status_code=401))


def test_backoff_grows_with_jitter(settings):
    settings.FHIR_SYNC_RETRY_BACKOFF_SECONDS = 10
    for retries, low, high in ((0, 5, 10), (1, 10, 20), (2, 20, 40)):
        delays = {backoff_seconds(retries) for _ in range(20)}
        assert all(low <= d <= high for d in delays) and len(delays) > 1


def test_a_refusal_is_kept_with_its_operation_outcome(fhir, make_patients, broker_channel):
    (patient,) = make_patients(1)
    fhir_faults(fhir, error_rate=1.0, error_status=422)
    with pytest.raises(FhirInvalid) as refused:
        services.sync_entity_now("emr.patient", patient.pk)
    letter = services.dead_letter_record(
        entity_type="emr.patient", entity_id=patient.pk, exc=refused.value, attempts=1, retryable=False
    )
    assert letter.http_status == 422 and letter.resource_type == "Patient"
    assert letter.operation_outcome["resourceType"] == "OperationOutcome"
    method, _, body = broker_channel.basic_get("fhir_sync.dlq", auto_ack=True)
    assert method is not None and b'"entity_type":"emr.patient"' in body


def test_admin_lists_inspects_replays_and_discards_dead_letters(token_client, make_patients):
    patients = make_patients(3)
    letters = [
        DeadLetter.objects.create(entity_type="emr.patient", entity_id=str(p.pk), resource_type="Patient",
                                  reason="HAPI-1094: nope", http_status=400, operation_outcome={"issue": []})
        for p in patients
    ]  # fmt: skip
    admin = token_client("ADMIN")
    listed = admin.get("/api/fhir/dead-letters?status=open").json()
    assert listed["count"] == 3
    detail = admin.get(f"/api/fhir/dead-letters/{letters[0].pk}").json()
    assert detail["operation_outcome"] == {"issue": []} and detail["reason"] == "HAPI-1094: nope"

    before = OutboxMessage.objects.count()
    assert admin.post(f"/api/fhir/dead-letters/{letters[0].pk}/replay").status_code == 202
    assert admin.post("/api/fhir/dead-letters/replay", {"ids": [letters[1].pk]}, format="json").json() == {
        "replayed": 1
    }
    assert OutboxMessage.objects.filter(target="fhir_sync.sync_entity").count() == before + 2

    assert admin.post(f"/api/fhir/dead-letters/{letters[2].pk}/discard", {}, format="json").status_code == 400
    discarded = admin.post(f"/api/fhir/dead-letters/{letters[2].pk}/discard", {"reason": "test data"}, format="json")
    assert discarded.status_code == 200 and discarded.json()["status"] == "discarded"
    assert admin.post(f"/api/fhir/dead-letters/{letters[2].pk}/replay").status_code == 409
    assert set(DeadLetter.objects.values_list("status", flat=True)) == {"replayed", "discarded"}


def test_sync_request_answers_202_and_writes_an_outbox_row(token_client, make_patients):
    (patient,) = make_patients(1)
    answer = token_client("ADMIN").post(
        "/api/fhir/sync", {"entity_type": "emr.patient", "entity_id": str(patient.pk)}, format="json"
    )
    assert answer.status_code == 202
    row = OutboxMessage.objects.get(target="fhir_sync.sync_entity")
    assert row.payload["args"] == ["emr.patient", str(patient.pk)]
    bad = token_client("ADMIN").post("/api/fhir/sync", {"entity_type": "nope", "entity_id": "1"}, format="json")
    assert bad.status_code == 400


def test_reconciliation_queues_what_changed(fhir, make_patients, settings):
    settings.FHIR_SYNC_AUDIT_EVENTS = False
    synced, changed, never = make_patients(3)
    for patient in (synced, changed):
        services.sync_entity_now("emr.patient", patient.pk)
    changed.given_name = "Changed"
    changed.save()
    queued = services.reconcile()
    assert queued["emr.patient"] == 2
    (row,) = OutboxMessage.objects.filter(target="fhir_sync.sync_entities")  # a bulk sync: one message
    assert row.payload["args"][0] == "emr.patient"
    assert sorted(row.payload["args"][1]) == sorted([str(changed.pk), str(never.pk)])


def test_metrics_are_exposed(client, make_patients, fhir):
    (patient,) = make_patients(1)
    services.sync_entity_now("emr.patient", patient.pk)
    text = client.get("/metrics").content.decode()
    assert 'cdss_fhir_sync_synced_total{outcome="created",resource_type="Patient"}' in text
    assert "cdss_outbox_backlog" in text and "cdss_fhir_sync_dead_lettered_total" in text
