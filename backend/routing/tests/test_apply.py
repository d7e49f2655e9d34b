"""Applying the rules: queued when radiology records or links a study and a rule is on; one analysis per
study, series set, model and version, also when two workers apply at once; RECONCILE waits for the link."""

import threading
import time

import pytest
from django.db import IntegrityError, connection

from ai.models import AIJob
from ai.tests.factories import make_patient, make_study
from audit.models import Action, AuditEvent
from core.messaging.names import ROUTING_APPLY_TASK
from core.models import OutboxMessage
from radiology.clients.orthanc_client import OrthancClient
from radiology.models import Study
from radiology.services import changes_checkpoint_set, study_link, study_sync
from radiology.tasks import import_changes
from radiology.testing import series_instances
from radiology.tests.test_changes_feed import STABLE_WAIT_SECONDS, _c_store
from routing import services
from routing.models import RuleApplication
from routing.tasks import apply_rules

pytestmark = pytest.mark.django_db


def _queued(study) -> int:
    return OutboxMessage.objects.filter(target=ROUTING_APPLY_TASK, payload__args=[study.pk]).count()


def test_one_job_per_study_series_set_and_model_version(make_rule):
    make_rule(name="flair", sequence_type="FLAIR")
    make_rule(name="any MR", modality="MR")  # same series, model and version: no second job
    make_rule(name="other version", model_version="0.9.0")
    make_rule(name="off", model_version="0.8.0", enabled=False)
    make_rule(name="T2 only", sequence_type="T2", model_version="0.7.0")  # matches no series
    study = make_study()

    made = services.apply_rules(study_pk=study.pk)
    assert sorted(a.model_version for a in made) == ["0.9.0", "1.0.0"]
    assert services.apply_rules(study_pk=study.pk) == []  # applied again (a refresh of the study): nothing new
    jobs = AIJob.objects.filter(study=study)
    assert sorted(jobs.values_list("model_version", flat=True)) == ["0.9.0", "1.0.0"]
    job = jobs.get(model_version="1.0.0")
    assert job.status == AIJob.Status.QUEUED
    assert job.input["series_instance_uids"] == [study.series.get().series_instance_uid]
    assert job.requested_by.username == services.SERVICE_USERNAME and job.requested_by.is_service_account
    application = RuleApplication.objects.get(job=job)
    assert application.rule.name == "flair"
    event = AuditEvent.objects.get(resource_type="routing_rule_application", resource_id=str(application.pk))
    assert event.actor_username == services.SERVICE_USERNAME and event.patient_id == study.patient.emr_uuid
    assert "series 1 (AX FLAIR): sequence type FLAIR matches FLAIR" in event.detail["reasons"]
    assert AuditEvent.objects.filter(action=Action.CREATE, resource_type="ai_job", resource_id=str(job.pk),
                                     actor_username=services.SERVICE_USERNAME).exists()  # fmt: skip


def test_the_database_refuses_a_second_application_of_the_same_key(make_rule):
    study = make_study()
    services.apply_rules(study_pk=study.pk) if make_rule() else None
    first = RuleApplication.objects.get(study=study)
    with pytest.raises(IntegrityError):
        RuleApplication.objects.create(study=study, series_key=first.series_key, series_instance_uids=[],
                                       model_name=first.model_name, model_version=first.model_version)  # fmt: skip


def test_a_study_waiting_for_reconciliation_is_left_alone_until_linked(make_rule, make_user):
    make_rule()
    study = make_study(linked=False)
    assert services.apply_rules(study_pk=study.pk) == []
    assert not AIJob.objects.filter(study=study).exists()

    study_link(actor=make_user("RIB"), study=study, patient=make_patient(), comment="checked the wristband")
    assert _queued(study) == 1  # the link queued the rules, in its transaction
    assert len(apply_rules(study.pk) and RuleApplication.objects.filter(study=study)) == 1
    assert AIJob.objects.filter(study=study).count() == 1


def test_nothing_is_queued_without_an_enabled_rule(make_rule, make_user):
    make_rule(enabled=False)
    study = make_study(linked=False)
    study_link(actor=make_user("RIB"), study=study, patient=make_patient(), comment="checked")
    assert _queued(study) == 0


def test_newest_is_resolved_from_the_ai_server(make_rule, ai_server):
    make_rule(model_version="")
    study = make_study()
    [application] = services.apply_rules(study_pk=study.pk)
    assert application.model_version == "1.0.0" and application.job.model_version == "1.0.0"


@pytest.mark.django_db(transaction=True)
def test_two_workers_applying_at_once_request_one_job(make_rule):
    make_rule()
    study = make_study()
    barrier, results, errors = threading.Barrier(2), [], []

    def worker():
        try:
            barrier.wait(10)
            results.append(len(services.apply_rules(study_pk=study.pk)))
        except Exception as exc:  # reported below: a thread's failure must fail the test
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors, errors
    assert sorted(results) == [0, 1]
    assert AIJob.objects.filter(study=study).count() == 1 and RuleApplication.objects.filter(study=study).count() == 1


def test_a_c_stored_study_starts_its_rule_through_the_change_feed(pacs, make_patient, make_rule, monkeypatch):
    """C-STORE to the real Orthanc, imported by the change feed: its series carry the sending AE and the
    import queues the rules; applying them requests the one job. Syncing the study again keeps the AE
    without asking Orthanc for it once more (one call per new series, not per sync)."""
    make_rule(sending_ae="CDSS-MODALITY", series_description="flair")
    patient = make_patient()
    changes_checkpoint_set(
        last_seq=pacs.client.http.request("GET", "/changes?last", resource_type="changes").json()["Last"]
    )
    datasets = series_instances(2, description="AX FLAIR", patient_id=patient.mrn)
    for dataset in datasets:
        dataset.BodyPartExamined = "BRAIN"
    uid = datasets[0].StudyInstanceUID
    pacs.track(uid)
    _c_store(datasets)

    deadline = time.monotonic() + STABLE_WAIT_SECONDS
    while not Study.objects.filter(study_instance_uid=uid).exists() and time.monotonic() < deadline:
        time.sleep(1)
        import_changes()
    study = Study.objects.get(study_instance_uid=uid)
    series = study.series.get()
    assert (series.sending_ae, series.body_part) == ("CDSS-MODALITY", "BRAIN")
    assert _queued(study) == 1
    assert apply_rules(study.pk) == 1 and apply_rules(study.pk) == 0
    assert AIJob.objects.filter(study=study).count() == 1

    asked = []
    ask = OrthancClient.instance_metadata
    monkeypatch.setattr(OrthancClient, "instance_metadata", lambda self, *args: asked.append(args) or ask(self, *args))
    study_sync(orthanc_study_id=study.orthanc_id, source=Study.Source.PACS)
    assert asked == [] and study.series.get().sending_ae == "CDSS-MODALITY"


def test_a_rule_requiring_a_second_reader_marks_its_jobs(make_rule):
    make_rule(name="double read", requires_second_reader=True)
    make_rule(name="single read", model_version="0.9.0")
    study = make_study()

    made = services.apply_rules(study_pk=study.pk)

    jobs = {a.model_version: a.job for a in made}
    assert jobs["1.0.0"].second_reader_required is True
    assert jobs["0.9.0"].second_reader_required is False
    event = AuditEvent.objects.get(resource_type="routing_rule_application", detail__rule=made[0].rule_id)
    assert event.detail["second_reader"] == (made[0].model_version == "1.0.0")
