"""AI analyses on the running stack, through nginx only: a DOCTOR requests an MRI segmentation of a study a
RIB uploaded (a generated 95-slice series with a lesion of known size), watches its progress arrive over
the websocket, gets the result with its artifacts; a RIB approves it and the FHIR DiagnosticReport turns
final. Then an omics risk job from an uploaded expression profile, and the refusals around both."""

import asyncio
import json
import threading
import time
from pathlib import Path

import pytest
import requests
import websockets

ROOT = Path(__file__).resolve().parents[1]
MODELS = ROOT / "ai-server" / "models"


def session_login(http, base_url, env, username: str) -> dict[str, str]:
    """Sign in like the web UI (session + CSRF); returns the headers a browser would send."""
    http.get(f"{base_url}/api/auth/csrf", timeout=10)
    csrf = http.cookies["csrftoken"]
    response = http.post(
        f"{base_url}/api/auth/login",
        json={"username": username, "password": env["DEMO_PASSWORD"]},
        headers={"X-CSRFToken": csrf, "Referer": f"{base_url}/"},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    return {"X-CSRFToken": http.cookies["csrftoken"], "Referer": f"{base_url}/"}


class Notifications:
    """The signed-in user's websocket, read in a thread while the test goes on."""

    def __init__(self, base_url, cookies, tls_context):
        self.messages: list[dict] = []
        self.url = base_url.replace("https://", "wss://") + "/ws/notifications/"
        self.origin, self.tls = base_url, tls_context
        self.headers = {"Cookie": "; ".join(f"{c.name}={c.value}" for c in cookies)}
        self.connected, self.stop = threading.Event(), threading.Event()
        self.thread = threading.Thread(target=lambda: asyncio.run(self._listen()), daemon=True)
        self.thread.start()
        assert self.connected.wait(15), "the websocket did not open"

    async def _listen(self):
        async with websockets.connect(
            self.url, origin=self.origin, additional_headers=self.headers, ssl=self.tls, open_timeout=10
        ) as ws:
            self.connected.set()
            while not self.stop.is_set():
                try:
                    self.messages.append(json.loads(await asyncio.wait_for(ws.recv(), timeout=0.5)))
                except TimeoutError:
                    continue

    def close(self):
        self.stop.set()
        self.thread.join(5)


def wait_finished(http, base_url, headers, job_id: str, timeout: float = 240) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = http.get(f"{base_url}/api/ai/jobs/{job_id}", headers=headers, timeout=10).json()
        if job["status"] in ("COMPLETED", "FAILED", "CANCELLED"):
            return job
        time.sleep(1)
    pytest.fail(f"job {job_id} not finished in {timeout} s: {job}")


def test_mri_analysis_from_upload_to_an_approved_fhir_report(
    http, base_url, env, token_headers, tls_context, lesion_study
):
    rib = token_headers("radiologist")
    study, true_ml = lesion_study, lesion_study["true_ml"]

    doctor = session_login(http, base_url, env, "doctor")
    notifications = Notifications(base_url, http.cookies, tls_context)
    try:
        submitted = http.post(
            f"{base_url}/api/ai/jobs",
            json={"model": "mri-lesion-demo", "study": study["id"]},
            headers=doctor,
            timeout=10,
        )
        assert submitted.status_code == 202, submitted.text
        job = wait_finished(http, base_url, doctor, submitted.json()["id"])
        time.sleep(1)  # the finished notification follows the commit
    finally:
        notifications.close()

    assert job["status"] == "COMPLETED", job
    result = job["result"]
    assert result["status"] == "PRELIMINARY"
    reported = result["raw_metrics"]["volume_ml"]["lesion"]
    assert abs(reported - true_ml) <= 0.10 * true_ml, (reported, true_ml)
    assert "임상에 사용할 수 없습니다" in result["disclaimer"]  # the model card's, in the default language
    seen = [(m["type"], m.get("stage")) for m in notifications.messages if m.get("job_id") == job["id"]]
    assert ("ai.job.finished", None) in seen and any(kind == "ai.job.progress" for kind, _ in seen), seen

    seg = next(a for a in result["artifacts"] if a["name"] == "seg")
    body = http.get(f"{base_url}{seg['url']}", headers=doctor, timeout=30)
    assert body.status_code == 200 and body.content[128:132] == b"DICM"
    in_pacs = http.get(
        f"{base_url}/api/radiology/dicom-web/studies/{study['study_instance_uid']}/series",
        params={"Modality": "SEG"},
        headers={**rib, "Accept": "application/dicom+json"},
        timeout=30,
    )
    assert in_pacs.status_code == 200 and len(in_pacs.json()) >= 1
    # the URL a viewer follows names this public address (through nginx, over https), not Orthanc
    assert in_pacs.json()[0]["00081190"]["Value"][0].startswith(f"{base_url}/api/radiology/dicom-web/studies/")

    assert (
        http.post(
            f"{base_url}/api/ai/jobs",
            json={"model": "mri-lesion-demo", "study": study["id"]},
            headers=token_headers("nurse"),
            timeout=10,
        ).status_code
        == 403
    )

    reviewed = http.post(
        f"{base_url}/api/ai/results/{result['id']}/review",
        json={"decision": "approve", "comment": "lesion outline checked against the T1 series"},
        headers=rib,
        timeout=10,
    )
    assert reviewed.status_code == 200, reviewed.text
    admin = token_headers("admin")
    deadline, status = time.monotonic() + 60, None
    while time.monotonic() < deadline and status != "final":
        mappings = http.get(
            f"{base_url}/api/fhir/mappings", params={"entity_type": "ai.result"}, headers=admin, timeout=10
        ).json()
        mapping = next((m for m in mappings.get("results", mappings) if m["entity_id"] == str(result["id"])), None)
        if mapping:
            report = requests.get(
                f"{env['FHIR_BASE_URL']}/DiagnosticReport/{mapping['fhir_id']}",
                timeout=10,
                headers={"Accept": "application/fhir+json", "Cache-Control": "no-cache"},
            )
            status = report.json().get("status")
        time.sleep(1)
    assert status == "final"


def test_omics_risk_from_an_uploaded_expression_profile(http, base_url, token_headers, expression_upload):
    doctor = token_headers("doctor")
    patient = http.get(f"{base_url}/api/patients", headers=doctor, timeout=10).json()["results"][1]
    expected = json.loads((MODELS / "omics-cox-gse7390" / "1.1.0" / "manifest.json").read_text())["example"]
    upload_id = expression_upload(doctor, patient["emr_uuid"])
    models = http.get(f"{base_url}/api/ai/models", headers=doctor, timeout=10).json()["models"]
    assert {"mri-lesion-demo", "omics-cox-gse7390"} <= {m["name"] for m in models}

    submitted = http.post(
        f"{base_url}/api/ai/jobs",
        json={"model": "omics-cox-gse7390", "expression_upload": upload_id},
        headers=doctor,
        timeout=10,
    )
    assert submitted.status_code == 202, submitted.text
    job = wait_finished(http, base_url, doctor, submitted.json()["id"])
    assert job["status"] == "COMPLETED", job
    metrics = job["result"]["raw_metrics"]
    assert metrics["risk_group"] == expected["risk_group"]
    assert abs(metrics["risk_score"] - expected["risk_score"]) < 1e-4
    # the model card's disclaimer in the user's language: the real cohort, never "synthetic data"
    assert "유방암" in job["result"]["disclaimer"] and "합성" not in job["result"]["disclaimer"]
    english = wait_finished(http, base_url, {**doctor, "Accept-Language": "en"}, job["id"])
    assert "breast-cancer" in english["result"]["disclaimer"]

    unknown = http.post(
        f"{base_url}/api/ai/jobs",
        json={"model": "no-such-model", "expression_upload": upload_id},
        headers=doctor,
        timeout=10,
    )
    assert unknown.status_code == 202  # the ai-server knows its models: it answers FAILED with the reason
    failed = wait_finished(http, base_url, doctor, unknown.json()["id"])
    assert failed["status"] == "FAILED" and "unknown model 'no-such-model'" in failed["failure_reason"]
