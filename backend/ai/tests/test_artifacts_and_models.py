"""Artifacts streamed from the artifacts bucket through Django (audited), and the ai-server's model list
proxied through core.http (a local HTTP server stands in for the ai-server; a closed port is "down")."""

import socket
import uuid

import pytest
from django.conf import settings

from audit.models import Action, AuditEvent

from .factories import MODELS, complete, make_job, put_artifact, serve_models

pytestmark = pytest.mark.django_db


def test_an_artifact_is_streamed_with_its_content_type(doctor, nurse, ops):
    job = make_job(doctor.user)
    data = b"DICM" + bytes(range(256)) * 1000
    put_artifact(f"jobs/{job.pk}/seg.dcm", data, "application/dicom")
    job = complete(job)

    response = nurse.get(f"/api/ai/jobs/{job.pk}/artifacts/seg")
    assert response.status_code == 200
    assert response.streaming
    assert b"".join(response.streaming_content) == data
    assert response["Content-Type"] == "application/dicom" and response["Content-Length"] == str(len(data))
    assert response["Content-Disposition"] == 'attachment; filename="seg.dcm"'
    assert "no-store" in response["Cache-Control"]
    read = AuditEvent.objects.get(action=Action.READ, resource_type="ai_artifact", resource_id=f"{job.pk}/seg")
    assert read.actor_id == nurse.user.pk and read.patient_id == job.patient.emr_uuid

    assert ops.get(f"/api/ai/jobs/{job.pk}/artifacts/seg").status_code == 403
    assert nurse.get(f"/api/ai/jobs/{job.pk}/artifacts/nothing").status_code == 404
    assert nurse.get(f"/api/ai/jobs/{job.pk}/artifacts/result").status_code == 404  # listed, not in the store
    assert nurse.get(f"/api/ai/jobs/{uuid.uuid4()}/artifacts/seg").status_code == 404
    assert nurse.get(f"/api/ai/jobs/{make_job(doctor.user).pk}/artifacts/seg").status_code == 404  # no result yet


@pytest.fixture
def ai_server(settings):
    server = serve_models()
    settings.AI_SERVER_URL = f"http://127.0.0.1:{server.server_port}"
    yield server
    server.shutdown()
    server.server_close()


def test_an_artifact_of_an_unsafe_type_is_served_as_bytes(doctor):
    job = make_job(doctor.user)
    put_artifact(f"jobs/{job.pk}/page.html", b"<script>alert(1)</script>", "text/html")
    bucket = settings.S3_BUCKETS["artifacts"]
    artifact = {"name": "page", "bucket": bucket, "key": f"jobs/{job.pk}/page.html", "content_type": "text/html"}
    job = complete(job, artifacts=[artifact])
    response = doctor.get(f"/api/ai/jobs/{job.pk}/artifacts/page")
    assert response.status_code == 200 and response["Content-Type"] == "application/octet-stream"
    assert response["X-Content-Type-Options"] == "nosniff"


def test_models_are_proxied_from_the_ai_server(ai_server, rib, nurse):
    response = rib.get("/api/ai/models")
    assert response.status_code == 200, response.content
    assert response.json() == {"models": MODELS}
    call = AuditEvent.objects.get(action=Action.EXTERNAL_CALL, system="ai-server")
    assert (call.endpoint, call.status_code, call.outcome) == ("GET /models", 200, "SUCCESS")
    assert nurse.get("/api/ai/models").status_code == 403
    korean = rib.get("/api/ai/models", HTTP_ACCEPT_LANGUAGE="ko").json()["models"]
    assert korean[0]["disclaimer"] == MODELS[0]["disclaimers"]["ko"]  # the model card's, in the user's language


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_a_down_ai_server_answers_503_naming_it(doctor, settings):
    settings.AI_SERVER_URL = f"http://127.0.0.1:{_closed_port()}"
    response = doctor.get("/api/ai/models")
    assert response.status_code == 503
    assert response.json()["system"] == "ai-server" and "unavailable" in response.json()["detail"]
    settings.AI_SERVER_URL = ""
    response = doctor.get("/api/ai/models")
    assert response.status_code == 503 and "AI_SERVER_URL is not configured" in response.json()["detail"]
