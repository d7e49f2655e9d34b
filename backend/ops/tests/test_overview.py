"""GET /api/ops/overview against the real servers: every section, each failing on its own, no patient data."""

import json
import os
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from ai.models import AIJob
from ai.tests.factories import make_job, make_patient, make_study
from audit.models import AuditEvent
from core.health import forget_cached_checks
from fhir_sync.models import DeadLetter

URL = "/api/ops/overview"
REPO = Path(__file__).resolve().parents[3]


@pytest.fixture(autouse=True)
def _fresh_checks(settings, tmp_path):
    settings.DEPLOY_COLOUR_FILE = str(tmp_path / "no-colour-file")
    settings.DEPLOY_COLOUR = ""
    settings.PROMETHEUS_URL = settings.GRAFANA_URL = settings.ALERTMANAGER_URL = ""
    forget_cached_checks()
    yield
    forget_cached_checks()


@pytest.mark.django_db
def test_every_section_answers_and_the_read_is_audited(ops):
    response = ops.get(URL)

    assert response.status_code == 200
    body = response.json()
    for name in ("dependencies", "queues", "fhir_dead_letters", "ai_jobs", "alerts", "deployment", "backups"):
        assert body[name]["status"] == "ok", (name, body[name])
    states = {item["name"]: item["state"] for item in body["dependencies"]["items"]}
    assert states["database"] == "up" and states["rabbitmq"] == "up" and states["redis"] == "up"
    queues = {item["name"]: item for item in body["queues"]["items"]}
    assert queues["ai_jobs.dlq"]["dead_letter"] is True and isinstance(queues["ai_jobs.dlq"]["messages"], int)
    assert queues["ai_jobs"]["dead_letter"] is False
    assert body["links"] == {"grafana": None, "prometheus": None, "alertmanager": None}
    event = AuditEvent.objects.filter(resource_type="ops_overview").get()
    assert event.action == "READ" and event.actor_username == ops.user.username and event.patient_id == ""


@pytest.mark.django_db
def test_a_clinician_is_refused(doctor):
    assert doctor.get(URL).status_code == 403
    assert not AuditEvent.objects.filter(resource_type="ops_overview").exists()


@pytest.mark.django_db
def test_failures_are_counted_without_the_patient(ops, doctor):
    patient = make_patient(family_name="Secretname", mrn="MRN-OPS-4242")
    job = make_job(doctor.user, study=make_study(patient))
    AIJob.objects.filter(pk=job.pk).update(
        status=AIJob.Status.FAILED, failure_reason="study of MRN-OPS-4242 unreadable"
    )
    old = make_job(doctor.user, study=make_study(patient))
    AIJob.objects.filter(pk=old.pk).update(
        status=AIJob.Status.FAILED, updated_at=timezone.now() - timezone.timedelta(days=2)
    )
    DeadLetter.objects.create(entity_type="emr.patient", entity_id=str(patient.pk), resource_type="Patient",
                              reason="HAPI-1094: MRN-OPS-4242 refused", http_status=400)  # fmt: skip

    body = ops.get(URL).json()

    assert body["ai_jobs"]["failed_last_24h"] == 1
    assert body["ai_jobs"]["failed_by_task"][0]["task"] == job.task
    assert body["fhir_dead_letters"]["open"] >= 1 and body["fhir_dead_letters"]["oldest_open_at"]
    text = json.dumps(body)
    for secret in ("MRN-OPS-4242", "Secretname", str(patient.emr_uuid), str(job.pk), job.study.study_instance_uid):
        assert secret not in text


@pytest.mark.django_db
def test_a_broker_outage_shows_in_its_sections_only(ops, settings):
    settings.RABBITMQ_URL = "amqp://nobody:nothing@127.0.0.1:1/%2F"  # nothing listens on port 1

    response = ops.get(URL)

    assert response.status_code == 200
    body = response.json()
    assert body["queues"]["status"] == "down" and "AMQPConnectionError" in body["queues"]["detail"]
    rabbitmq = next(item for item in body["dependencies"]["items"] if item["name"] == "rabbitmq")
    assert rabbitmq["state"] == "down" and rabbitmq["detail"]
    assert body["dependencies"]["status"] == "ok" and body["ai_jobs"]["status"] == "ok"
    assert AuditEvent.objects.get(resource_type="ops_overview").detail == {"down": ["queues"]}


@pytest.mark.django_db
def test_a_failing_section_does_not_fail_the_page(ops, monkeypatch):
    from ops import selectors

    def broken():
        raise RuntimeError("cache unreachable")

    monkeypatch.setitem(selectors.SECTIONS, "alerts", broken)
    body = ops.get(URL).json()
    assert body["alerts"] == {"status": "down", "detail": "RuntimeError: cache unreachable"}
    assert body["dependencies"]["status"] == "ok"


@pytest.mark.django_db
def test_alerts_firing_then_resolved(ops, settings):
    settings.ALERTMANAGER_WEBHOOK_TOKEN = "ops-test-token"
    webhook = APIClient()
    webhook.credentials(HTTP_AUTHORIZATION="Bearer ops-test-token")
    from django.core.cache import cache

    from notifications.services import RECENT_ALERTS_KEY

    cache.delete(RECENT_ALERTS_KEY)

    def deliver(status, name):
        alert = {"status": status, "labels": {"alertname": name, "severity": "warning"},
                 "annotations": {"summary": f"{name} summary"}, "startsAt": "2026-12-04T09:00:00Z"}  # fmt: skip
        assert (
            webhook.post(
                "/api/alerts/webhook?route=ops", {"status": status, "alerts": [alert]}, format="json"
            ).status_code
            == 202
        )

    deliver("firing", "QueueBacklog")
    deliver("firing", "BackupTooOld")
    deliver("resolved", "QueueBacklog")

    alerts = ops.get(URL).json()["alerts"]
    assert [alert["name"] for alert in alerts["firing"]] == ["BackupTooOld"]
    assert [alert["name"] for alert in alerts["resolved"]] == ["QueueBacklog"]
    assert alerts["firing"][0]["summary"] == "BackupTooOld summary"
    cache.delete(RECENT_ALERTS_KEY)


@pytest.mark.django_db
def test_the_live_colour_and_the_links(ops, settings, tmp_path, monkeypatch):
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    assert ops.get(URL).json()["deployment"]["live_colour"] is None  # no colours here: not known
    colour = tmp_path / "colour"
    colour.write_text("green\n")
    (tmp_path / "colour.switched").write_text("1764840000\n")
    settings.DEPLOY_COLOUR_FILE, settings.DEPLOY_COLOUR = str(colour), "green"
    settings.GRAFANA_URL, settings.PROMETHEUS_URL = "https://grafana.example", "http://127.0.0.1:1"

    body = ops.get(URL).json()

    assert body["deployment"]["live_colour"] == "green" and body["deployment"]["serving_colour"] == "green"
    assert datetime.fromisoformat(body["deployment"]["switched_at"]).timestamp() == 1764840000
    assert body["links"] == {
        "grafana": "https://grafana.example",
        "prometheus": "http://127.0.0.1:1",
        "alertmanager": None,
    }
    # no backup gauges here and Prometheus unreachable: that section alone is down
    assert body["backups"]["status"] == "down" and "ConnectionError" in body["backups"]["detail"]


@pytest.mark.django_db
def test_the_last_backup_age_from_its_gauges(ops, tmp_path, monkeypatch):
    metrics = tmp_path / "metrics"
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(metrics), "BACKUP_DIR": str(tmp_path / "backups")}
    subprocess.run(
        [sys.executable, str(REPO / "backup" / "metrics.py"), "database", "ok", "12", "3456"], env=env, check=True
    )
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(metrics))

    backups = ops.get(URL).json()["backups"]

    items = {item["kind"]: item for item in backups["items"]}
    assert backups["source"] == "metrics"
    assert 0 <= items["database"]["age_seconds"] < 60 and items["database"]["last_success_at"]
    assert items["offsite"]["age_seconds"] is None
