"""Fixtures of the tumour-board tests: the PDF font made from fonts-noto-cjk once per session, patients
of the OpenEMR stand-in with imaging, AI results and an omics risk of known values."""

import pytest
from django.conf import settings
from django.utils import timezone

from .fonts import use_font


@pytest.fixture
def board_font(settings):
    return use_font(settings)


@pytest.fixture
def emr_patient(emr):
    """A patient of the OpenEMR stand-in that has problems and medications there, fresh in the cache."""
    from emr.clients.openemr_client import get_openemr_client
    from emr.services import patient_upsert_from_emr

    client = get_openemr_client()
    records, _ = client.search_patients(limit=30)
    for record in records:
        if client.medical_problems(record["uuid"]) and client.medications(str(record["pid"]), record["uuid"]):
            return patient_upsert_from_emr(record)
    raise AssertionError("no stand-in patient with both problems and medications")


def finished(user, study, *, status: str, metrics: dict, artifacts: tuple[str, ...] = (), created=None):
    """A segmentation job of `study` with its result in `status`, reporting `metrics` and overlay `artifacts`."""
    from ai.models import AIResult
    from ai.tests.factories import complete, make_job, result_body

    job = make_job(user, study)
    body = result_body(job)
    extra = [
        {"name": name, "bucket": settings.S3_BUCKETS["artifacts"], "key": f"jobs/{job.pk}/{name}.png",
         "content_type": "image/png", "size": 4}
        for name in artifacts
    ]  # fmt: skip
    job = complete(job, metrics=metrics, artifacts=body["artifacts"] + extra)
    AIResult.objects.filter(pk=job.result.pk).update(status=status, **({"created_at": created} if created else {}))
    return AIResult.objects.get(pk=job.result.pk)


def omics(user, patient, *, status: str, group: str, score: float, percentile: float):
    from ai.models import AIJob, AIResult

    job = AIJob.objects.create(
        task=AIJob.Task.OMICS_RISK, model_name="omics-risk-demo", model_version="1.0.0", patient=patient,
        input={}, status=AIJob.Status.COMPLETED, deadline=timezone.now(), requested_by=user,
    )  # fmt: skip
    return AIResult.objects.create(
        job=job,
        status=status,
        raw_metrics={"risk_score": score, "risk_group": group, "percentile": percentile},
        disclaimer="Trained on a public breast-cancer cohort; not for clinical use.",
    )
