"""The tumour-board summary of one patient, read fresh from its sources: the latest imaging study with
its thumbnail and AI overlay, the lesion volume over time, the latest omics risk, the EMR's problems and
medications, and the AI results waiting for radiology sign-off.

`board_summary` is what the API answers, audited as one READ of the patient's data; `summary_for`
is the same without the audit, for the PDF and the share (board.services), which audit their own export.
"""

from datetime import date, datetime

from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from ai.models import AIJob, AIResult
from ai.selectors import course_points
from audit.client import AuditClient
from audit.models import Action
from core.errors import NotFound
from core.http import ExternalNotFound, ExternalSystemError
from emr import services as emr_services
from emr.clients.openemr_client import get_openemr_client
from emr.models import Patient
from radiology.models import Study

EMR_ROWS = 50  # problems and medications each: a board discusses the current ones, not a lifetime's list
PENDING_ROWS = 50


def board_patient(*, puuid: str) -> Patient:
    """The cached patient, re-read from the EMR when missing or stale (as the patient page does)."""
    try:
        return emr_services.patient_fresh(puuid=puuid)
    except ExternalNotFound as exc:
        raise NotFound(_("No patient %(id)s in the EMR.") % {"id": puuid}) from exc


def board_summary(*, user, patient: Patient) -> dict:
    summary = summary_for(patient)
    AuditClient.log_event(
        Action.READ,
        actor=user,
        resource_type="patient_board",
        resource_id=patient.emr_uuid,
        patient_id=patient.emr_uuid,
        detail=_audit_detail(summary),
    )
    return summary


def summary_for(patient: Patient) -> dict:
    """The summary as plain JSON values (dates as ISO strings), so a shared report can keep it as it was."""
    problems, medications, emr_error = _emr_lists(patient)
    pending = _pending_signoffs(patient)
    return {
        "patient": {
            "emr_uuid": patient.emr_uuid,
            "mrn": patient.mrn,
            "family_name": patient.family_name,
            "given_name": patient.given_name,
            "birth_date": _iso(patient.birth_date),
            "sex": patient.sex,
        },
        "imaging": _latest_imaging(patient),
        "volume_trend": _volume_trend(patient),
        "omics": _latest_omics(patient),
        "problems": problems,
        "medications": medications,
        "emr_error": emr_error,
        "pending_signoffs": pending,
        "generated_at": _iso(timezone.localtime()),  # the hospital's time (TIME_ZONE), as the PDF prints it
    }


def _audit_detail(summary: dict) -> dict:
    imaging = summary["imaging"] or {}
    return {
        "study": (imaging.get("study") or {}).get("id"),
        "results": sorted(
            {row["result_id"] for row in summary["volume_trend"]}
            | ({summary["omics"]["result_id"]} if summary["omics"] else set())
            | {row["result_id"] for row in summary["pending_signoffs"]}
        ),
    }


def _iso(value: date | datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


# --- imaging -----------------------------------------------------------------------------------------------
def _segmentations(patient: Patient):
    return AIResult.objects.filter(job__patient=patient, job__task=AIJob.Task.SEGMENTATION)


def _latest_imaging(patient: Patient) -> dict | None:
    study = (
        Study.objects.filter(patient=patient, status=Study.Status.LINKED)
        .order_by("-study_date", "-created_at", "-id")
        .first()
    )
    if study is None:
        return None
    series = study.series.exclude(modality="SEG").order_by("series_number", "id").first()
    return {
        "study": {
            "id": study.pk,
            "study_instance_uid": study.study_instance_uid,
            "study_date": _iso(study.study_date),
            "modality": study.modality,
            "description": study.description,
            "number_of_series": study.number_of_series,
        },
        "series": {"id": series.pk, "description": series.description} if series else None,
        "thumbnail_url": (
            reverse("radiology-series-thumbnail", kwargs={"pk": study.pk, "series_pk": series.pk}) if series else None
        ),
        "overlay": _overlay(study),
    }


def _overlay(study: Study) -> dict | None:
    """The newest segmentation of the study that radiology did not reject (nor superseded), with its middle key-slice
    overlay (the ai-server writes overlay-NNN.png for the slices with the largest lesion area)."""
    result = (
        AIResult.objects.current()
        .filter(job__study=study, job__task=AIJob.Task.SEGMENTATION)
        .exclude(status=AIResult.Status.CANCELLED)
        .order_by("-created_at", "-id")
        .first()
    )
    if result is None:
        return None
    overlays = sorted(
        item["name"] for item in result.artifacts or [] if str(item.get("name", "")).startswith("overlay")
    )
    name = overlays[len(overlays) // 2] if overlays else None
    return {
        "result_id": result.pk,
        "job_id": str(result.job_id),
        "status": result.status,
        "model": _model(result),
        "summary": result.summary,
        "url": reverse("ai-job-artifact", kwargs={"pk": result.job_id, "name": name}) if name else None,
    }


def _model(result: AIResult) -> str:
    return f"{result.model_name} {result.model_version}".strip()


def _volume_trend(patient: Patient) -> list[dict]:
    """Lesion volume per label at each study of the patient's tumour course (ai's course_points: one signed
    segmentation per dated study, the same points as the course chart and its FHIR Observations), oldest
    first. Unaudited there; the board's own read is the audited one."""
    points, _undated = course_points(patient.pk)
    rows = [
        {
            "date": point.study_date.isoformat(),
            "study_id": point.study_id,
            "result_id": point.result_id,
            "volumes_ml": {str(label): value for label, value in point.volumes_ml.items()},
        }
        for point in points
    ]
    return sorted(rows, key=lambda row: (row["date"], row["result_id"]))


# --- omics ------------------------------------------------------------------------------------------------
def _latest_omics(patient: Patient) -> dict | None:
    result = (
        AIResult.objects.current()
        .filter(job__patient=patient, job__task=AIJob.Task.OMICS_RISK)
        .exclude(status=AIResult.Status.CANCELLED)
        .order_by("-created_at", "-id")
        .first()
    )
    if result is None:
        return None
    metrics = result.raw_metrics or {}
    return {
        "result_id": result.pk,
        "job_id": str(result.job_id),
        "status": result.status,
        "model": _model(result),
        "risk_group": metrics.get("risk_group"),
        "risk_score": metrics.get("risk_score"),
        "percentile": metrics.get("percentile"),
        "disclaimer": result.disclaimer,
        "created_at": _iso(result.created_at),
    }


# --- the EMR ----------------------------------------------------------------------------------------------
def _emr_lists(patient: Patient) -> tuple[list[dict], list[dict], str | None]:
    """The EMR's problems and medications; when the EMR is down the rest of the summary is still shown,
    with the reason in place of these two lists."""
    emr = get_openemr_client()
    try:
        problems = emr.medical_problems(patient.emr_uuid)
        medications = emr.medications(patient.emr_pid, patient.emr_uuid)
    except ExternalSystemError as exc:
        return [], [], str(exc.message)
    return _rows(problems), _rows(medications), None


def _rows(rows: list[dict]) -> list[dict]:
    current = sorted(rows, key=lambda row: str(row.get("begdate") or ""), reverse=True)[:EMR_ROWS]
    return [
        {
            "title": str(row.get("title") or ""),
            "begdate": (str(row.get("begdate") or "")[:10]) or None,
            "enddate": (str(row.get("enddate") or "")[:10]) or None,
            "diagnosis": str(row.get("diagnosis") or ""),
        }
        for row in current
    ]


# --- sign-offs --------------------------------------------------------------------------------------------
def _pending_signoffs(patient: Patient) -> list[dict]:
    results = (
        AIResult.objects.awaiting_sign_off()
        .filter(job__patient=patient)
        .select_related("job__study")
        .order_by("created_at", "id")[:PENDING_ROWS]
    )
    return [
        {
            "result_id": result.pk,
            "job_id": str(result.job_id),
            "task": result.job.task,
            "model": _model(result),
            "study_id": result.job.study_id,
            "created_at": _iso(result.created_at),
        }
        for result in results
    ]
