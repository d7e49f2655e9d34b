"""/api/radiology/studies/<pk>/measurements: measurements saved as a DICOM SR and read back.

The round trip runs the real ai-server's app (its own virtualenv, in a subprocess) against the real Orthanc:
the SR is built with highdicom there, stored, then listed here with the values parsed back. A closed port
stands in for a down ai-server or Orthanc, a small HTTP server for an ai-server whose PACS is down.
"""

import json
import os
import socket
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.conf import settings as django_settings
from django.utils import timezone

from audit.models import Action, AuditEvent, Outcome
from emr.models import Patient
from radiology.clients.orthanc_client import OrthancClient
from radiology.services import study_sync
from radiology.testing import series_instances, to_bytes

pytestmark = pytest.mark.django_db
TOKEN = "test-measurement-token"
SERVE = """
from werkzeug.serving import make_server
from ai_server.app import create_app
server = make_server("127.0.0.1", 0, create_app(), threaded=True)
print(server.server_port, flush=True)
server.serve_forever()
"""


@pytest.fixture(scope="module")
def ai_server_process():
    """The ai-server's Flask app from this checkout, with the tests' Orthanc account."""
    root = django_settings.REPO_ROOT / "ai-server"
    python = root / ".venv" / "bin" / "python"
    assert python.exists(), "the ai-server's virtualenv is missing: run `make install`"
    env = {**os.environ, "PYTHONPATH": str(root / "src"), "AI_SERVICE_TOKEN": TOKEN,
           "ORTHANC_URL": django_settings.ORTHANC_URL, "ORTHANC_USERNAME": django_settings.ORTHANC_USERNAME,
           "ORTHANC_PASSWORD": django_settings.ORTHANC_PASSWORD}  # fmt: skip
    process = subprocess.Popen([str(python), "-c", SERVE], stdout=subprocess.PIPE, env=env, text=True)
    try:
        port = int(process.stdout.readline())
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=30)


@pytest.fixture
def ai_server(ai_server_process, settings):
    settings.AI_SERVER_URL, settings.AI_SERVICE_TOKEN = ai_server_process, TOKEN
    return ai_server_process


@pytest.fixture
def study():
    """A two-slice MR study in Orthanc, linked to an EMR patient; deleted from Orthanc after."""
    mrn = f"SR-{os.urandom(4).hex()}"
    patient = Patient.objects.create(emr_uuid=f"uuid-{mrn}", mrn=mrn, fetched_at=timezone.now())
    orthanc = OrthancClient()
    images = series_instances(2, patient_id=mrn)
    stored = [orthanc.upload_instance(to_bytes(ds)) for ds in images]
    row, _ = study_sync(orthanc_study_id=stored[0].study_id, source="upload")
    assert row.patient == patient
    yield row, images
    orthanc.delete_study(stored[0].study_id)


def _length(ds, points=((10, 10), (40, 50))):
    return {"kind": "length", "sop_instance_uid": ds.SOPInstanceUID, "points": [list(p) for p in points]}


def _ellipse(ds):
    return {"kind": "ellipse", "sop_instance_uid": ds.SOPInstanceUID, "label": "병변 A",
            "points": [[20, 32], [44, 32], [32, 24], [32, 40]]}  # fmt: skip


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_measurements_round_trip_through_the_pacs(ai_server, study, doctor, nurse):
    row, images = study
    url = f"/api/radiology/studies/{row.pk}/measurements"
    spacing = float(images[0].PixelSpacing[0])
    response = doctor.post(url, {"measurements": [_length(images[0]), _ellipse(images[1])]}, format="json")
    assert response.status_code == 201, response.content
    saved = response.json()
    length, ellipse = saved["measurements"]
    assert length["kind"] == "length" and length["sop_instance_uid"] == images[0].SOPInstanceUID
    assert length["length_mm"] == pytest.approx(50 * spacing, rel=1e-4)  # a 30-40-50 triangle of pixels
    assert length["series_instance_uid"] == images[0].SeriesInstanceUID
    assert ellipse["kind"] == "ellipse" and ellipse["label"] == "병변 A" and ellipse["frame"] is None
    assert ellipse["area_mm2"] == pytest.approx(3.14159265 * 12 * spacing * 8 * spacing, rel=1e-4)
    assert ellipse["mean_unit"] == "[arb'U]" and ellipse["mean"] > 0
    assert ellipse["points"] == [[20, 32], [44, 32], [32, 24], [32, 40]]
    assert saved["observer_login"] == doctor.user.username

    listed = nurse.get(url)
    assert listed.status_code == 200, listed.content
    (report,) = listed.json()
    assert report == saved  # what was stored is what comes back, values and references alike
    assert [item["ID"] for item in OrthancClient().lookup(saved["sop_instance_uid"])] == [saved["orthanc_id"]]

    write = AuditEvent.objects.get(action=Action.CREATE, resource_type="measurement_report")
    assert (write.actor_id, write.patient_id, write.resource_id) == (
        doctor.user.pk, row.patient.emr_uuid, saved["sop_instance_uid"])  # fmt: skip
    assert write.detail["kinds"] == ["ellipse", "length"] and write.detail["orthanc_id"] == saved["orthanc_id"]
    read = AuditEvent.objects.get(action=Action.READ, resource_type="measurement_report_list")
    assert (read.actor_id, read.patient_id, read.detail["count"]) == (nurse.user.pk, row.patient.emr_uuid, 1)


def test_a_saved_report_is_read_from_the_pacs_once_then_from_the_cache(ai_server, study, doctor, nurse, monkeypatch):
    from django.core.cache import cache

    row, images = study
    url = f"/api/radiology/studies/{row.pk}/measurements"
    saved = doctor.post(url, {"measurements": [_length(images[0])]}, format="json").json()
    downloads = []
    real = OrthancClient.download_instance
    monkeypatch.setattr(OrthancClient, "download_instance", lambda self, i: downloads.append(i) or real(self, i))

    assert nurse.get(url).json() == [saved] and downloads == []  # parsed when it was saved
    cache.delete(f"measurement-sr:v1:{saved['orthanc_id']}")  # e.g. the cache was emptied
    assert nurse.get(url).json() == [saved] and downloads == [saved["orthanc_id"]]
    assert nurse.get(url).json() == [saved] and downloads == [saved["orthanc_id"]]


def test_geometry_that_does_not_fit_the_image_is_a_400_with_the_reason(ai_server, study, rib):
    row, images = study
    outside = _length(images[0], points=((10, 10), (400, 10)))  # the image is 64 pixels wide
    response = rib.post(f"/api/radiology/studies/{row.pk}/measurements", {"measurements": [outside]}, format="json")
    assert response.status_code == 400, response.content
    assert "point (400, 10) lies outside the 64x64 image" in json.dumps(response.json())
    failed = AuditEvent.objects.get(action=Action.CREATE, resource_type="measurement_report")
    assert failed.outcome == Outcome.FAILURE and failed.patient_id == row.patient.emr_uuid


@pytest.mark.parametrize(
    "body, field",
    [
        ({}, "measurements"),
        ({"measurements": []}, "measurements"),
        ({"measurements": [{"kind": "angle", "sop_instance_uid": "1.2", "points": [[1, 1], [2, 2]]}]}, "kind"),
        ({"measurements": [{"kind": "length", "sop_instance_uid": "1.2", "points": [[1, 1]]}]}, "points"),
        ({"measurements": [{"kind": "ellipse", "sop_instance_uid": "1.2", "points": [[1, 1], [2, 2]]}]}, "points"),
        ({"measurements": [{"kind": "length", "sop_instance_uid": "1.2", "points": [[-1, 1], [2, 2]]}]}, "points"),
        ({"measurements": [{"kind": "length", "sop_instance_uid": "not a uid", "points": [[1, 1], [2, 2]]}]},
         "sop_instance_uid"),
        ({"measurements": [{"kind": "length", "sop_instance_uid": "1.2", "points": [[1, 1], [2, 2]], "frame": 0}]},
         "frame"),
    ],
)  # fmt: skip
def test_invalid_input_is_a_400_naming_the_field(doctor, study, body, field):
    row, _ = study
    response = doctor.post(f"/api/radiology/studies/{row.pk}/measurements", body, format="json")
    assert response.status_code == 400, response.content
    assert field in json.dumps(response.json())
    assert not AuditEvent.objects.filter(resource_type="measurement_report").exists()


def test_an_image_of_another_study_is_refused(doctor, study, settings):
    settings.AI_SERVER_URL, settings.AI_SERVICE_TOKEN = f"http://127.0.0.1:{_closed_port()}", TOKEN
    row, _ = study
    elsewhere = series_instances(1)[0]
    response = doctor.post(
        f"/api/radiology/studies/{row.pk}/measurements", {"measurements": [_length(elsewhere)]}, format="json"
    )
    assert response.status_code == 400 and elsewhere.SOPInstanceUID in json.dumps(response.json())


def test_roles_unknown_study(doctor, nurse, ops, study):
    row, images = study
    url = f"/api/radiology/studies/{row.pk}/measurements"
    assert nurse.post(url, {"measurements": [_length(images[0])]}, format="json").status_code == 403
    assert ops.get(url).status_code == 403
    assert doctor.get("/api/radiology/studies/999999999/measurements").status_code == 404
    body = {"measurements": [_length(images[0])]}
    assert doctor.post("/api/radiology/studies/999999999/measurements", body, format="json").status_code == 404


def test_a_down_ai_server_or_pacs_is_a_503_naming_it(doctor, study, settings):
    row, images = study
    url, body = f"/api/radiology/studies/{row.pk}/measurements", {"measurements": [_length(images[0])]}
    settings.AI_SERVER_URL, settings.AI_SERVICE_TOKEN = f"http://127.0.0.1:{_closed_port()}", TOKEN
    response = doctor.post(url, body, format="json")
    assert response.status_code == 503 and response.json()["system"] == "ai-server"
    failed = AuditEvent.objects.get(action=Action.CREATE, resource_type="measurement_report")
    assert failed.outcome == Outcome.FAILURE and failed.patient_id == row.patient.emr_uuid

    settings.AI_SERVICE_TOKEN = ""
    response = doctor.post(url, body, format="json")
    assert response.status_code == 503 and "AI_SERVICE_TOKEN" in response.json()["detail"]

    settings.ORTHANC_URL = f"http://127.0.0.1:{_closed_port()}"
    assert doctor.get(url).json()["system"] == "orthanc"
    response = doctor.post(url, body, format="json")
    assert response.status_code == 503 and response.json()["system"] == "orthanc"


class _PacsDown(BaseHTTPRequestHandler):
    """The ai-server's answer when Orthanc cannot be reached (ai_server.app)."""

    def do_POST(self):
        body = json.dumps({"error": "the PACS is unavailable", "reason": "Orthanc is unreachable: ConnectionError"})
        self.send_response(503)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, *args):
        pass


def test_the_ai_servers_reason_reaches_the_user_when_its_pacs_is_down(doctor, study, settings):
    row, images = study
    server = ThreadingHTTPServer(("127.0.0.1", 0), _PacsDown)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        settings.AI_SERVER_URL, settings.AI_SERVICE_TOKEN = f"http://127.0.0.1:{server.server_port}", TOKEN
        response = doctor.post(
            f"/api/radiology/studies/{row.pk}/measurements", {"measurements": [_length(images[0])]}, format="json"
        )
    finally:
        server.shutdown()
        server.server_close()
    assert response.status_code == 503 and response.json()["system"] == "ai-server"
    assert "Orthanc is unreachable" in response.json()["detail"]
