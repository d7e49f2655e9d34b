"""Pending syncs sent together in transaction Bundles, against the HAPI stand-in: one Bundle for many
entities, sized by FHIR_BUNDLE_MAX_ENTRIES, conditional entries (a Bundle sent again writes nothing twice),
and a Bundle the server refuses: nothing of it written, each entity then sent alone, only the bad one fails."""

import pytest
import requests
from django.conf import settings
from django.db import transaction

from audit.models import Action, AuditEvent
from core import outbox
from core.messaging.names import FHIR_SYNC_TASK
from fhir_sync import services, tasks
from fhir_sync.clients.hapi_client import FhirInvalid
from fhir_sync.models import DeadLetter, FhirMapping, PendingSync

from .conftest import resources_for

pytestmark = pytest.mark.django_db


def _queue(*entities: tuple[str, object]) -> None:
    with transaction.atomic():  # as the apps do: the outbox row and, by its receiver, the pending row
        for entity_type, entity_id in entities:
            outbox.enqueue_task(FHIR_SYNC_TASK, entity_type, str(entity_id))


def _fhir_calls(**filters) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(system="fhir", action=Action.EXTERNAL_CALL, **filters).order_by("pk"))


def test_every_queued_sync_leaves_a_pending_row_and_one_bundle_writes_them_all(fhir, make_patients):
    patients = make_patients(5)
    _queue(*(("emr.patient", p.pk) for p in patients))
    assert PendingSync.objects.count() == 5

    result = services.sync_batch_now("emr.patient", patients[2].pk)
    assert result.outcome == "created" and result.reference.startswith("Patient/") and result.version == "1"
    assert [c.endpoint for c in _fhir_calls()] == ["POST /fhir/"]  # one request for five resources
    assert _fhir_calls()[0].resource_type == "Bundle" and _fhir_calls()[0].status_code == 200
    written = AuditEvent.objects.filter(system="fhir", action=Action.CREATE, resource_type="Patient")
    assert written.count() == 5 and {e.endpoint for e in written} == {"POST /fhir/Patient"}
    assert not PendingSync.objects.exists()
    mappings = FhirMapping.objects.filter(entity_type="emr.patient")
    assert mappings.count() == 5 and all(len(m.content_hash) == 64 and m.fhir_version == "1" for m in mappings)
    assert [resources_for(p.emr_uuid) for p in patients] == [1] * 5

    # The other four tasks come later and find their entity written: nothing is sent.
    assert services.sync_batch_now("emr.patient", patients[0].pk).outcome == "unchanged"
    assert len(_fhir_calls()) == 1


def test_bundle_size_comes_from_the_settings_oldest_pending_first(fhir, make_patients, settings):
    settings.FHIR_BUNDLE_MAX_ENTRIES = 3
    patients = make_patients(6)
    _queue(*(("emr.patient", p.pk) for p in patients))
    services.sync_batch_now("emr.patient", patients[5].pk)  # its own entity, then the two oldest
    synced = set(FhirMapping.objects.values_list("entity_id", flat=True))
    assert synced == {str(patients[i].pk) for i in (5, 0, 1)}
    assert set(PendingSync.objects.values_list("entity_id", flat=True)) == {str(patients[i].pk) for i in (2, 3, 4)}

    settings.FHIR_BUNDLE_MAX_ENTRIES = 1  # one request per entity, as before Bundles
    assert services.sync_batch_now("emr.patient", patients[2].pk).outcome == "created"
    assert _fhir_calls()[-1].endpoint == "POST /fhir/Patient"


def test_a_task_whose_entity_is_written_sends_the_pending_rest_without_waiting_for_their_own_tasks(
    fhir, make_patients, settings
):
    """A bulk enqueue: the messages come oldest first, and most find their entity written by an earlier
    Bundle. Each such task sends a Bundle of what is still pending, so the last entities do not wait behind
    every message before their own."""
    settings.FHIR_BUNDLE_MAX_ENTRIES = 3
    patients = make_patients(8)
    _queue(*(("emr.patient", p.pk) for p in patients))
    assert services.sync_batch_now("emr.patient", patients[0].pk).outcome == "created"  # 0, 1, 2
    assert services.sync_batch_now("emr.patient", patients[1].pk).outcome == "unchanged"  # and sends 3, 4, 5
    assert set(PendingSync.objects.values_list("entity_id", flat=True)) == {str(patients[i].pk) for i in (6, 7)}
    assert services.sync_batch_now("emr.patient", patients[2].pk).outcome == "unchanged"  # and sends 6, 7
    assert not PendingSync.objects.exists() and FhirMapping.objects.count() == 8
    assert [c.endpoint for c in _fhir_calls()] == ["POST /fhir/"] * 3
    assert [resources_for(p.emr_uuid) for p in patients] == [1] * 8
    # Nothing pending: a written entity's task sends nothing more.
    assert services.sync_batch_now("emr.patient", patients[7].pk).outcome == "unchanged"
    assert len(_fhir_calls()) == 3


def test_a_bundle_sent_again_after_its_mappings_were_lost_writes_nothing_twice(fhir, make_patients):
    """An unknown outcome (the worker died after the server committed): the same conditional entries again."""
    patients = make_patients(3)
    _queue(*(("emr.patient", p.pk) for p in patients))
    first = services.sync_batch_now("emr.patient", patients[0].pk)
    FhirMapping.objects.all().delete()
    _queue(*(("emr.patient", p.pk) for p in patients))
    again = services.sync_batch_now("emr.patient", patients[0].pk)
    assert again.reference == first.reference and again.outcome in {"updated", "unchanged"}
    assert FhirMapping.objects.count() == 3 and not PendingSync.objects.exists()
    assert [resources_for(p.emr_uuid) for p in patients] == [1] * 3
    assert all(len(m.content_hash) == 64 for m in FhirMapping.objects.all())


def _order_of_a_patient_deleted_on_the_server(make_patients, make_user):
    """An order whose patient's resource was deleted on the FHIR server: writing it is refused (HAPI-1096)."""
    from radiology.models import Order

    (patient,) = make_patients(1, prefix="gone")
    written = services.sync_entity_now("emr.patient", patient.pk)
    requests.delete(f"{settings.FHIR_BASE_URL}/{written.reference}", timeout=10).raise_for_status()
    return Order.objects.create(
        patient=patient, ordered_by=make_user("DOCTOR"), modality="MR", body_part="brain", reason="headache"
    )


def test_a_failure_inside_the_transaction_writes_nothing_then_only_the_bad_entity_fails(fhir, make_patients, make_user):
    order = _order_of_a_patient_deleted_on_the_server(make_patients, make_user)
    good = make_patients(2, prefix="good")
    _queue(("emr.patient", good[0].pk), ("radiology.order", order.pk), ("emr.patient", good[1].pk))

    result = services.sync_batch_now("emr.patient", good[0].pk)
    assert result.outcome == "created"
    bundle, *alone = _fhir_calls(endpoint__startswith="POST /fhir")[1:]  # after the patient's own write
    assert bundle.endpoint == "POST /fhir/" and bundle.status_code == 400  # rolled back as a whole...
    assert not AuditEvent.objects.filter(action=Action.CREATE, system="fhir").exists()  # ...no entry written
    assert sorted((c.endpoint, c.status_code) for c in alone) == [
        ("POST /fhir/Patient", 201),
        ("POST /fhir/Patient", 201),
        ("POST /fhir/ServiceRequest", 400),
    ]
    assert [resources_for(p.emr_uuid) for p in good] == [1, 1]
    # The order's row stays for its own task, which fails it for good: it becomes the one dead letter.
    assert list(PendingSync.objects.values_list("entity_type", "entity_id")) == [("radiology.order", str(order.pk))]
    with pytest.raises(FhirInvalid, match="HAPI-1096"):
        services.sync_batch_now("radiology.order", order.pk)
    assert not PendingSync.objects.exists()  # refused for good: no other Bundle tries it again


def test_the_task_dead_letters_only_the_refused_entity(fhir, make_patients, make_user):
    order = _order_of_a_patient_deleted_on_the_server(make_patients, make_user)
    good = make_patients(1, prefix="good")
    _queue(("radiology.order", order.pk), ("emr.patient", good[0].pk))
    assert tasks.sync_entity.apply(args=("radiology.order", order.pk)).get() == "dead-lettered"
    letter = DeadLetter.objects.get()
    assert (letter.entity_type, letter.entity_id, letter.http_status) == ("radiology.order", str(order.pk), 400)
    assert "HAPI-1096" in letter.reason and not letter.retryable
    assert FhirMapping.objects.filter(entity_type="emr.patient", entity_id=str(good[0].pk)).exists()
    assert not PendingSync.objects.exists()


def test_syncs_queued_in_bulk_leave_pending_rows_too(fhir, make_patients):
    """The EMR cache refresh queues its syncs with one bulk insert (no post_save): they are sent all the same."""
    patients = make_patients(3)
    with transaction.atomic():
        outbox.enqueue_tasks(FHIR_SYNC_TASK, [("emr.patient", str(p.pk)) for p in patients])
        outbox.enqueue_tasks("core.relay_outbox", [()])  # another task: no pending sync
    assert sorted(PendingSync.objects.values_list("entity_id", flat=True)) == sorted(str(p.pk) for p in patients)

    assert services.sync_batch_now("emr.patient", patients[0].pk).outcome == "created"
    assert FhirMapping.objects.filter(entity_type="emr.patient").count() == 3 and not PendingSync.objects.exists()


def test_a_bulk_sync_sends_one_message_per_bundle_and_writes_every_entity(fhir, make_patients, settings):
    from core.messaging.names import FHIR_SYNC_MANY_TASK
    from core.models import OutboxMessage

    settings.FHIR_BUNDLE_MAX_ENTRIES = 3
    patients = make_patients(7)
    with transaction.atomic():
        services.request_syncs("emr.patient", [p.pk for p in patients])
    messages = sorted(
        OutboxMessage.objects.filter(target=FHIR_SYNC_MANY_TASK), key=lambda m: -len(m.payload["args"][1])
    )
    assert [len(m.payload["args"][1]) for m in messages] == [3, 3, 1]  # 3 messages for 7, not 7
    assert PendingSync.objects.count() == 7

    counts = [tasks.sync_entities.apply(args=m.payload["args"]).get() for m in messages]
    assert [c["written"] for c in counts] == [3, 3, 1] and not PendingSync.objects.exists()
    assert [resources_for(p.emr_uuid) for p in patients] == [1] * 7
    assert [c.endpoint for c in _fhir_calls()] == ["POST /fhir/"] * 3
    # Delivered again (a worker died before acknowledging): nothing is written twice.
    again = tasks.sync_entities.apply(args=messages[0].payload["args"]).get()
    assert again == {"written": 0, "unchanged": 3, "on_their_own": 0} and len(_fhir_calls()) == 3


def test_an_entity_that_fails_in_a_bulk_sync_gets_its_own_task_and_dead_letter(fhir, make_patients, make_user):
    from core.models import OutboxMessage

    order = _order_of_a_patient_deleted_on_the_server(make_patients, make_user)
    good = make_patients(2, prefix="good")
    with transaction.atomic():
        services.request_syncs("radiology.order", [order.pk])
        services.request_syncs("emr.patient", [p.pk for p in good])
    assert services.sync_many_now("radiology.order", [order.pk]) == {"written": 0, "unchanged": 0, "on_their_own": 1}
    own = OutboxMessage.objects.get(target=FHIR_SYNC_TASK)  # the refused order's own task, with its retries
    assert own.payload["args"] == ["radiology.order", str(order.pk)]
    assert tasks.sync_entity.apply(args=own.payload["args"]).get() == "dead-lettered"
    assert DeadLetter.objects.get().entity_id == str(order.pk)
    # (that task's Bundle took the pending patients along: refused as a whole, each then sent alone)
    assert services.sync_many_now("emr.patient", [p.pk for p in good]) == {
        "written": 0,
        "unchanged": 2,
        "on_their_own": 0,
    }
    assert [resources_for(p.emr_uuid) for p in good] == [1, 1] and not PendingSync.objects.exists()


def test_a_bulk_sync_hands_an_entity_another_worker_holds_to_its_own_task_at_once(fhir, make_patients):
    """A bulk task never waits for another worker's claim: that entity's own task finds it written, or
    sends it once the claim has ended (the claim of a worker that died lasts at most its length)."""
    import time
    from datetime import timedelta

    from django.utils import timezone

    from core.models import OutboxMessage

    patients = make_patients(3)
    with transaction.atomic():
        services.request_syncs("emr.patient", [p.pk for p in patients])
    held = patients[1]
    PendingSync.objects.filter(entity_id=str(held.pk)).update(
        claimed_by="another-worker", claimed_until=timezone.now() + timedelta(minutes=5)
    )

    started = time.monotonic()
    counts = services.sync_many_now("emr.patient", [p.pk for p in patients], claimant="bulk-task")
    assert time.monotonic() - started < 5, "waited for another worker's claim"
    assert counts == {"written": 2, "unchanged": 0, "on_their_own": 1}
    assert OutboxMessage.objects.get(target=FHIR_SYNC_TASK).payload["args"] == ["emr.patient", str(held.pk)]
    assert [resources_for(p.emr_uuid) for p in patients] == [1, 0, 1]
    # its row untouched (and one more, for the task it was handed to)
    assert set(PendingSync.objects.values_list("entity_id", "claimed_by")) == {
        (str(held.pk), "another-worker"),
        (str(held.pk), ""),
    }


def test_a_task_helping_others_logs_an_outage_and_raises_a_defect(fhir, make_patients, monkeypatch, caplog):
    """A task whose own entity is written sends a Bundle of other pending entities: a FHIR server or
    database that is down there is logged (the others' own tasks send them), a bug is not hidden."""
    from django.db import OperationalError

    patients = make_patients(2)
    _queue(*(("emr.patient", p.pk) for p in patients))
    services.sync_batch_now("emr.patient", patients[0].pk)  # both written
    others = make_patients(1, prefix="other")
    _queue(("emr.patient", others[0].pk))

    def fails(error):
        def run(self, keys):
            raise error

        return run

    monkeypatch.setattr(services._Batch, "run", fails(OperationalError("database gone")))
    assert services.sync_batch_now("emr.patient", patients[0].pk).outcome == "unchanged"
    assert "database gone" in caplog.text
    assert PendingSync.objects.get().claimed_by == ""  # released for its own task

    monkeypatch.setattr(services._Batch, "run", fails(TypeError("a bug")))
    with pytest.raises(TypeError, match="a bug"):
        services.sync_batch_now("emr.patient", patients[0].pk)
