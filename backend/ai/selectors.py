"""Reads of the AI app for clinical staff (the API checks the role first). Every read of patient data
is audited with the patient it concerns.

Scope: like radiology's studies (which most jobs analyse), jobs and results are visible to every
clinical role; the CDSS has no care-team model that would narrow it, and each read is audited.
`mine=True` narrows a list to the caller's own requests.
"""

import io
import logging
from dataclasses import dataclass

import pydicom
from django.conf import settings
from django.core.cache import cache
from django.db.models import Case, IntegerField, QuerySet, Value, When
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from minio.error import S3Error

from audit.client import AuditClient
from audit.models import Action
from core.errors import NotFound
from core.http import ExternalNotFound, SystemUnavailable
from core.queries import narrowed
from core.storage import storage_client
from emr.models import Patient
from radiology import selectors as radiology_selectors
from radiology.clients.orthanc_client import get_orthanc_client
from radiology.models import Order

from . import measurement_sr
from .clients.ai_server_client import get_ai_server_client
from .course import Point, course
from .models import AIJob, AIResult, disclaimer_in

logger = logging.getLogger(__name__)

STORAGE_SYSTEM = "object-storage"
# Served with their own type; anything else (HTML, SVG, scripts ...) as application/octet-stream, so an
# artifact can never run in the CDSS's origin.
SAFE_CONTENT_TYPES = frozenset(
    {
        "application/dicom",
        "application/json",
        "application/gzip",
        "application/x-gzip",
        "application/zip",
        "application/pdf",
        "application/octet-stream",
        "application/x-nifti",
        "image/png",
        "image/jpeg",
        "text/csv",
        "text/plain",
        "text/tab-separated-values",
    }
)


def _jobs() -> QuerySet[AIJob]:
    return AIJob.objects.select_related(
        "patient",
        "study",
        "requested_by",
        "result",
        "result__reviewed_by",
        "result__amended_by",
        "result__first_reader",
    ).prefetch_related("result__revisions__reviewed_by", "result__revisions__amended_by")


def job_list(*, user, patient: str = "", status: str = "", study: int | None = None, mine: bool = False):
    jobs = narrowed(
        _jobs(), patient__emr_uuid=patient, status=status, study_id=study, requested_by=user if mine else None
    )
    AuditClient.log_list_read(
        user=user,
        resource_type="ai_job_list",
        patient_id=patient,
        filters={"patient": patient, "status": status, "study": study, "mine": mine},
    )
    return jobs


def _job(pk) -> AIJob:
    job = _jobs().filter(pk=pk).first()
    if job is None:
        raise NotFound(_("No AI job %(id)s.") % {"id": pk})
    return job


def job_get(*, user, pk) -> AIJob:
    job = _job(pk)
    AuditClient.log_event(
        Action.READ, actor=user, resource_type="ai_job", resource_id=job.pk, patient_id=job.patient.emr_uuid
    )
    return job


def job_for_change(*, pk) -> AIJob:
    """The job a service is about to change (the service audits the change itself)."""
    return _job(pk)


# The order's priority, most urgent first; a result without an order (an omics profile, a study nobody
# ordered) is routine.
PRIORITY_RANK = {Order.Priority.STAT: 0, Order.Priority.URGENT: 1, Order.Priority.ROUTINE: 2}


def sign_off_worklist(*, user) -> QuerySet[AIResult]:
    """Results awaiting a radiologist's sign-off (PRELIMINARY), most urgent first, then oldest first.
    Each row has `priority_rank` (0 STAT, 1 URGENT, 2 ROUTINE). Audited as one list read."""
    rank = Case(
        *(When(job__study__order__priority=priority, then=Value(value)) for priority, value in PRIORITY_RANK.items()),
        default=Value(PRIORITY_RANK[Order.Priority.ROUTINE]),
        output_field=IntegerField(),
    )
    results = (
        AIResult.objects.awaiting_sign_off()
        .select_related("job__patient", "job__study__order", "job__requested_by", "first_reader")
        .annotate(priority_rank=rank)
        .order_by("priority_rank", "created_at", "id")
    )
    AuditClient.log_list_read(user=user, resource_type="ai_sign_off_worklist", filters={"status": "PRELIMINARY"})
    return results


def result_for_change(*, pk: int) -> AIResult:
    result = AIResult.objects.filter(pk=pk).first()
    if result is None:
        raise NotFound(_("No AI result %(id)s.") % {"id": pk})
    return result


@dataclass
class OpenArtifact:
    name: str
    content_type: str
    size: int | None
    filename: str
    response: object  # urllib3 response: stream() it, then close() and release_conn()

    def chunks(self, size: int = 64 * 1024):
        return self.response.stream(size)

    def close(self) -> None:
        try:
            self.response.close()
        finally:
            self.response.release_conn()


def artifact_open(*, user, job_pk, name: str) -> OpenArtifact:
    """One artifact of a job's result, opened for streaming from the artifacts bucket (never a URL to the
    object store). Audited as a READ of the patient's data."""
    job = _job(job_pk)
    result = getattr(job, "result", None)
    artifact = result.artifact(name) if result is not None else None
    if artifact is None:
        raise NotFound(_("Job %(job)s has no artifact %(name)r.") % {"job": job.pk, "name": name})
    bucket = settings.S3_BUCKETS["artifacts"]
    if artifact.get("bucket") != bucket:  # the ai-server's report named another bucket: never serve it
        logger.warning(
            "artifact %s of job %s names bucket %r; only %r is served", name, job.pk, artifact.get("bucket"), bucket
        )
        raise NotFound(_("Job %(job)s has no artifact %(name)r.") % {"job": job.pk, "name": name})
    try:
        response = storage_client().get_object(bucket, artifact["key"])
    except S3Error as exc:
        if exc.code in ("NoSuchKey", "NoSuchObject", "NoSuchBucket"):
            raise NotFound(
                _("Artifact %(name)r of job %(job)s is missing from object storage.") % {"name": name, "job": job.pk}
            ) from exc
        raise SystemUnavailable(STORAGE_SYSTEM, f"{exc.code}") from exc
    except Exception as exc:  # connection refused, timeouts
        raise SystemUnavailable(STORAGE_SYSTEM, f"{exc.__class__.__name__}") from exc
    AuditClient.log_event(
        Action.READ,
        actor=user,
        resource_type="ai_artifact",
        resource_id=f"{job.pk}/{name}",
        patient_id=job.patient.emr_uuid,
        detail={"key": artifact["key"], "result": result.pk},
    )
    length = response.headers.get("Content-Length")
    return OpenArtifact(
        name=name,
        content_type=_served_type(artifact.get("content_type") or ""),
        size=int(length) if length and length.isdigit() else None,
        filename=artifact["key"].rsplit("/", 1)[-1],
        response=response,
    )


def _served_type(content_type: str) -> str:
    base = content_type.split(";", 1)[0].strip().lower()
    return content_type if base in SAFE_CONTENT_TYPES else "application/octet-stream"


def model_list(*, user) -> list[dict]:
    """The models the ai-server has registered (GET /models on the ai-server, an audited external call), each
    model card's disclaimer in the user's language."""
    language = get_language()
    return [
        model | {"disclaimer": disclaimer_in(model["disclaimers"], language, model.get("disclaimer") or "")}
        if isinstance(model.get("disclaimers"), dict)
        else model
        for model in get_ai_server_client().models()
    ]


# --- measurements saved as DICOM SR ---------------------------------------------------------------------------
def measurement_report_list(*, user, study_pk: int) -> list[dict]:
    """The study's measurement reports (SR series in the PACS holding a TID 1500 report), oldest first, each
    with its measurements parsed back for the viewer to redraw. The PACS is asked which SRs the study holds
    each time (the SR is the record); each SR is downloaded and parsed once, then its parsed form is kept in
    the cache (Redis, MEASUREMENT_SR_CACHE_SECONDS): a stored instance does not change."""
    study = radiology_selectors.study_get(user=user, pk=study_pk)
    orthanc = get_orthanc_client()
    try:
        series = orthanc.list_series(study.orthanc_id)
    except ExternalNotFound:
        series = []
    instance_ids = [
        instance_id
        for item in series
        if item.get("MainDicomTags", {}).get("Modality") == "SR"
        for instance_id in item.get("Instances", [])
    ]
    reports = []
    for instance_id in instance_ids:
        if parsed := measurement_report_of(orthanc, instance_id, study_pk=study.pk):
            reports.append(parsed | {"orthanc_id": instance_id})
    reports.sort(key=lambda report: (report["created_at"] or "", report["sop_instance_uid"]))
    AuditClient.log_event(
        Action.READ, actor=user, resource_type="measurement_report_list", resource_id=study.pk,
        patient_id=study.patient.emr_uuid if study.patient else "",
        detail={"study_instance_uid": study.study_instance_uid, "count": len(reports)},
    )  # fmt: skip
    return reports


def measurement_report_of(orthanc, instance_id: str, *, study_pk: int) -> dict:
    """One SR instance's measurement report, parsed ({} when it holds none or is not readable DICOM); kept in
    the cache once read."""
    key = f"measurement-sr:v1:{instance_id}"
    parsed = cache.get(key)
    if parsed is None:
        try:
            ds = pydicom.dcmread(io.BytesIO(orthanc.download_instance(instance_id)))
        except pydicom.errors.InvalidDicomError:
            logger.warning("SR instance %s of study %s is not readable DICOM", instance_id, study_pk)
            ds = None
        parsed = measurement_sr.report_parse(ds) if ds and measurement_sr.is_measurement_report(ds) else {}
        cache.set(key, parsed, settings.MEASUREMENT_SR_CACHE_SECONDS)
    return parsed


# --- tumour course ----------------------------------------------------------------------------------------------
def course_points(patient_pk: int) -> tuple[list[Point], list[int]]:
    """The signed segmentations of a patient's studies, one per study (its latest signed result, with the
    result's current volumes), and the ids of studies left out because they carry no study date. Not
    audited: the callers are the audited selector below and the FHIR sync."""
    results = (
        AIResult.objects.signed()
        .filter(
            job__patient_id=patient_pk,
            job__task=AIJob.Task.SEGMENTATION,
            job__study__isnull=False,
        )
        .select_related("job__study")
        .order_by("job__study_id", "-reviewed_at", "-pk")
    )
    points: dict[int, Point] = {}
    undated: list[int] = []
    for result in results:
        study = result.job.study
        if study.pk in points or study.pk in undated:
            continue  # an older signed result of the same study
        volumes = (result.raw_metrics or {}).get("volume_ml")
        if not isinstance(volumes, dict):
            continue  # not a per-label volume result
        if study.study_date is None:
            undated.append(study.pk)
            continue
        points[study.pk] = Point(
            study_id=study.pk,
            study_date=study.study_date,
            result_id=result.pk,
            volumes_ml=volumes,
            model=f"{result.model_name} {result.model_version}".strip(),
            study_uid=study.study_instance_uid,
        )
    return list(points.values()), undated


def patient_course(patient_pk: int) -> dict:
    points, undated = course_points(patient_pk)
    return {**course(points), "undated_study_ids": sorted(undated)}


def tumour_course(patient_id: str, *, user) -> dict:
    """The patient's tumour course (ai.course) from signed segmentation results, JSON-ready; `patient_id`
    is the EMR uuid. One audited read."""
    patient = Patient.objects.filter(emr_uuid=patient_id).first()
    if patient is None:
        raise NotFound(_("No patient %(id)s.") % {"id": patient_id})
    answer = {"patient": patient.emr_uuid, **patient_course(patient.pk)}
    AuditClient.log_event(
        Action.READ,
        actor=user,
        resource_type="tumour_course",
        resource_id=patient.emr_uuid,
        patient_id=patient.emr_uuid,
        detail={"studies": len(answer["studies"]), "labels": sorted(answer["labels"])},
    )
    return answer
