"""Rows and messages for the AI tests (also used by the permission matrix's placeholders)."""

import io
import itertools
import json
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from django.conf import settings
from django.utils import timezone

from ai import events, services
from ai.models import AIJob
from core.storage import storage_client
from emr.models import Patient
from radiology.models import Series, Study

_numbers = itertools.count(1)


def make_patient(**fields) -> Patient:
    run = uuid.uuid4().hex[:8]
    defaults = {"emr_uuid": f"ai-{run}", "mrn": f"AI-{run}", "family_name": "Test", "given_name": "Patient"}
    return Patient.objects.create(fetched_at=timezone.now(), **{**defaults, **fields})


def make_study(patient: Patient | None = None, *, linked: bool = True) -> Study:
    """A study row with one FLAIR series (no PACS needed: jobs only name the UIDs)."""
    n = f"{uuid.uuid4().int % 10**12}{next(_numbers)}"
    patient = patient or make_patient()
    study = Study.objects.create(
        study_instance_uid=f"1.2.826.0.1.3680043.10.999.{n}",
        orthanc_id=uuid.uuid4().hex,
        patient=patient if linked else None,
        status=Study.Status.LINKED if linked else Study.Status.RECONCILE,
        reconciliation_reason="" if linked else f"no EMR patient has record number X{n}",
        dicom_patient_id=patient.mrn if linked else f"X{n}",
        modality="MR",
        description="MRI brain",
        number_of_series=1,
        number_of_instances=3,
        source=Study.Source.UPLOAD,
    )
    Series.objects.create(
        study=study,
        series_instance_uid=f"{study.study_instance_uid}.1",
        orthanc_id=uuid.uuid4().hex,
        modality="MR",
        series_number=1,
        description="AX FLAIR",
        sequence_type=Series.Sequence.FLAIR,
        number_of_instances=3,
    )
    return study


def make_job(user, study: Study | None = None, **fields) -> AIJob:
    return services.job_submit(
        actor=user, model=fields.pop("model", "mri-lesion-demo"), study=study or make_study(), **fields
    )


def result_body(job: AIJob, **overrides: Any) -> dict[str, Any]:
    """An ai.job.result message as docs/ai.md describes it."""
    bucket = settings.S3_BUCKETS["artifacts"]
    body = {
        "job_id": str(job.pk),
        "attempt": job.attempts,
        "status": "COMPLETED",
        "reason": None,
        "model": {"name": job.model_name, "version": "1.0.0", "sha256": "ab" * 32},
        "task": job.task,
        "device": "cpu",
        "metrics": {"lesion_volume_ml": {"value": 12.5, "unit": "mL"}, "lesion_count": 2},
        "summary": "2 lesions, 12.5 mL in total",
        "artifacts": [
            {
                "name": "seg",
                "bucket": bucket,
                "key": f"jobs/{job.pk}/seg.dcm",
                "content_type": "application/dicom",
                "size": 4,
            },
            {
                "name": "result",
                "bucket": bucket,
                "key": f"jobs/{job.pk}/result.json",
                "content_type": "application/json",
                "size": 2,
            },
        ],
        "orthanc": {
            "seg_instance_id": "0123abcd-0123abcd-0123abcd-0123abcd-0123abcd",
            "seg_series_instance_uid": "1.2.3",
        },
        "timings": {"fetch": 0.5, "forward": 0.3, "total": 1.7},
        "disclaimer": DISCLAIMERS["en"],
        "disclaimers": DISCLAIMERS,
        "finished_at": timezone.now().isoformat(),
    }
    body.update(overrides)
    return body


def complete(job: AIJob, **overrides: Any) -> AIJob:
    services.job_result(report=events.parse_result(result_body(job, **overrides)))
    job.refresh_from_db()
    return job


def put_artifact(key: str, data: bytes, content_type: str) -> None:
    storage_client().put_object(
        settings.S3_BUCKETS["artifacts"], key, io.BytesIO(data), len(data), content_type=content_type
    )


# --- a stand-in for the ai-server's GET /models ------------------------------------------------------------
DISCLAIMERS = {  # as the shipped model card gives them (ai-server/models/mri-lesion-demo/*/manifest.json)
    "en": "Synthetic-lesion demo model, not for clinical use.",
    "ko": "합성 병변으로 학습한 시연용 모델로, 임상에 사용할 수 없습니다.",
}
MODELS = [
    {
        "name": "mri-lesion-demo",
        "version": "1.0.0",
        "task": "segmentation",
        "sha256": "ab" * 32,
        "disclaimer": DISCLAIMERS["en"],
        "disclaimers": DISCLAIMERS,
    }
]


class _ModelsHandler(BaseHTTPRequestHandler):
    def do_GET(self):
        found = self.path == "/models"
        payload = json.dumps(MODELS if found else {"error": "not found"}).encode()
        self.send_response(200 if found else 404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args):
        pass


def serve_models() -> ThreadingHTTPServer:
    """A started HTTP server on a free local port answering GET /models; shutdown() and server_close() it."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _ModelsHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server
