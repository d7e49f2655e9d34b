"""Writes of the AI app: expression uploads, job submission and cancellation, the ai-server's progress
and results (called by ai.events), the deadline poll, and the radiology review of a result.

Every status change goes through the model's `check_transition`, is audited, and publishes what must
follow it (ai.job.create, a FHIR sync) through the outbox in the same transaction. Websocket pushes go
through notifications.services.notify_users, which sends after commit.
"""

import csv
import hashlib
import io
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from acct.roles import Role
from audit.client import AuditClient
from audit.models import Action, Outcome
from core.errors import InvalidInput, InvalidTransition, NotPermitted, TooLarge
from core.http import ExternalNotFound, ExternalRejected, ExternalSystemError, SystemUnavailable
from core.messaging.names import AI_JOB_CREATE, FHIR_SYNC_TASK
from core.outbox import enqueue_task, enqueue_topic
from core.storage import storage_client
from emr.models import Patient, TimelineEvent
from emr.services import timeline_record
from notifications.services import notify_users
from radiology import selectors as radiology_selectors
from radiology.clients.orthanc_client import get_orthanc_client
from radiology.models import Study

from .clients.ai_server_client import get_measurement_sr_client
from .course import figures
from .models import AIJob, AIResult, AIResultRevision, ExpressionUpload
from .selectors import measurement_report_of, patient_course

logger = logging.getLogger(__name__)

STORAGE_SYSTEM = "object-storage"


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _new_deadline(now: datetime) -> datetime:
    return now + timedelta(seconds=settings.AI_JOB_DEADLINE_SECONDS)


def _audit(action: str, *, actor, job: AIJob, detail: dict | None = None, resource: AIResult | None = None) -> None:
    AuditClient.log_event(
        action,
        actor=actor,
        resource_type="ai_result" if resource is not None else "ai_job",
        resource_id=resource.pk if resource is not None else job.pk,
        patient_id=job.patient.emr_uuid,
        detail={"job": str(job.pk), "model": job.model_name, "status": job.status, **(detail or {})},
    )


def _move(job: AIJob, new: str, *, actor, **detail: Any) -> None:
    """Change the job's status (after checking the move is allowed) and audit it; the caller saves."""
    job.check_transition(new)
    previous, job.status = job.status, new
    _audit(Action.UPDATE, actor=actor, job=job, detail={"from": previous, "to": new, **detail})


# --- expression profiles -------------------------------------------------------------------------------------
EXPRESSION_FORMATS = {"csv": (",", "text/csv"), "tsv": ("\t", "text/tab-separated-values")}
MISSING_VALUES = frozenset({"", "na", "nan", "null", "n/a"})


@dataclass
class ParsedTable:
    rows: int
    columns: int


def _parse_expression(data: bytes, delimiter: str) -> ParsedTable:
    """One sample's profile, as the ai-server reads it (docs/ai.md): gene,value rows under a header, or one
    row under a header of gene ids (optionally led by a sample name). Every row as wide as the header and
    every cell after the first column a number (or missing)."""
    if b"\x00" in data:
        raise InvalidInput(_("The file is binary, not a CSV/TSV text table."), field="file")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidInput(
            _("The file is not UTF-8 text (byte %(byte)s).") % {"byte": exc.start}, field="file"
        ) from exc
    try:
        table = [row for row in csv.reader(io.StringIO(text), delimiter=delimiter) if any(cell.strip() for cell in row)]
    except csv.Error as exc:
        raise InvalidInput(_("The table cannot be read: %(error)s.") % {"error": exc}, field="file") from exc
    if len(table) < 2:
        raise InvalidInput(_("The table needs a header row and at least one data row."), field="file")
    width = len(table[0])
    if width < 2:
        message = _("The header has one column: the file is not comma-separated.")
        if delimiter != ",":
            message = _("The header has one column: the file is not tab-separated.")
        raise InvalidInput(message, field="file")
    for number, row in enumerate(table[1:], start=2):
        if len(row) != width:
            raise InvalidInput(
                _("Row %(row)s has %(columns)s columns; the header has %(width)s.")
                % {"row": number, "columns": len(row), "width": width},
                field="file",
            )
        for column, cell in enumerate(row[1:], start=2):
            value = cell.strip()
            if value.lower() in MISSING_VALUES:
                continue
            try:
                float(value)
            except ValueError:
                raise InvalidInput(
                    _("Row %(row)s, column %(column)s (%(header)r) is not a number: %(value)r.")
                    % {"row": number, "column": column, "header": table[0][column - 1], "value": value[:40]},
                    field="file",
                ) from None
    if width > 2 and len(table) > 2:
        raise InvalidInput(
            _(
                "The table holds %(samples)s samples; one profile is one sample: gene,value rows, "
                "or one row under a header of gene ids."
            )
            % {"samples": len(table) - 1},
            field="file",
        )
    return ParsedTable(rows=len(table) - 1, columns=width)


def expression_upload_create(*, actor, patient: Patient, file) -> ExpressionUpload:
    """Check an uploaded CSV/TSV expression profile, store it in the artifacts bucket under
    inputs/<uuid>.<ext>, and record it (audited)."""
    name = file.name or ""
    extension = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    if extension == "txt":
        extension = "tsv"
    if extension not in EXPRESSION_FORMATS:
        raise InvalidInput(_("%(name)s is not a .csv or .tsv file.") % {"name": name or _("The file")}, field="file")
    limit = settings.AI_EXPRESSION_MAX_BYTES
    if file.size > limit:
        raise TooLarge(_("The file has %(size)s bytes; the limit is %(limit)s.") % {"size": file.size, "limit": limit})
    data = file.read(limit + 1)
    if len(data) > limit:
        raise TooLarge(_("The file is larger than the limit of %(limit)s bytes.") % {"limit": limit})
    delimiter, content_type = EXPRESSION_FORMATS[extension]
    table = _parse_expression(data, delimiter)
    upload = ExpressionUpload(
        patient=patient,
        uploaded_by=actor,
        bucket=settings.S3_BUCKETS["artifacts"],
        original_name=name[:255],
        content_type=content_type,
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        rows=table.rows,
        columns=table.columns,
    )
    upload.key = f"inputs/{upload.id}.{extension}"
    try:
        storage_client().put_object(upload.bucket, upload.key, io.BytesIO(data), len(data), content_type=content_type)
    except Exception as exc:  # S3Error, connection refused, timeouts: the store is the problem, not the input
        logger.warning("expression upload %s not stored: %s", upload.key, exc)
        raise SystemUnavailable(STORAGE_SYSTEM, f"the file could not be stored: {exc.__class__.__name__}") from exc
    with transaction.atomic():
        upload.save(force_insert=True)
        AuditClient.log_event(
            Action.CREATE,
            actor=actor,
            resource_type="ai_expression_upload",
            resource_id=upload.pk,
            patient_id=patient.emr_uuid,
            detail={"key": upload.key, "size": upload.size, "rows": upload.rows, "columns": upload.columns},
        )
    return upload


# --- submitting and cancelling -------------------------------------------------------------------------------
def create_message(job: AIJob) -> dict[str, Any]:
    """The body of ai.job.create (docs/ai.md) for the job's current attempt."""
    return {
        "job_id": str(job.pk),
        "attempt": job.attempts,
        "model": job.model_name,
        "model_version": job.model_version or None,
        "input": job.input,
        "deadline": _iso(job.deadline),
        "requested_at": _iso(job.created_at),
    }


def _study_input(study: Study, series_instance_uids: list[str]) -> dict[str, Any]:
    if study.patient_id is None or study.status != Study.Status.LINKED:
        reason = study.reconciliation_reason or _("it is flagged for reconciliation")
        raise InvalidInput(
            _("Study %(study)s is not matched to an EMR patient (%(reason)s); reconcile it first.")
            % {"study": study.pk, "reason": reason},
            field="study",
        )
    known = set(study.series.values_list("series_instance_uid", flat=True))
    unknown = [uid for uid in series_instance_uids if uid not in known]
    if unknown:
        raise InvalidInput(
            _("Not series of study %(study)s: %(series)s.") % {"study": study.pk, "series": ", ".join(unknown)},
            field="series_instance_uids",
        )
    return {
        "kind": "dicom-study",
        "study_instance_uid": study.study_instance_uid,
        # A StudyInstanceUID may also name another patient's images (a CONFLICT kept apart in the PACS):
        # the ai-server reads only this patient's (docs/radiology.md, "Identity rules").
        "patient_id": study.dicom_patient_id,
        "series_instance_uids": list(series_instance_uids),
    }


@transaction.atomic
def job_submit(
    *,
    actor,
    model: str,
    model_version: str = "",
    study: Study | None = None,
    series_instance_uids: list[str] | None = None,
    expression_upload: ExpressionUpload | None = None,
    second_reader: bool = False,
) -> AIJob:
    """Create a QUEUED job and its ai.job.create message in one transaction (the outbox publishes it
    after commit, or the relay later: a job accepted is never lost). `second_reader`: its result needs
    two approvals by two different radiologists (a routing rule asks for it)."""
    if (study is None) == (expression_upload is None):
        raise InvalidInput(_("Give exactly one input: a study or an expression upload."))
    if study is not None:
        task, patient, job_input = (
            AIJob.Task.SEGMENTATION,
            study.patient,
            _study_input(study, series_instance_uids or []),
        )
    else:
        task, patient = AIJob.Task.OMICS_RISK, expression_upload.patient
        job_input = {"kind": "expression", "bucket": expression_upload.bucket, "key": expression_upload.key}
    job = AIJob.objects.create(
        task=task,
        model_name=model,
        model_version=model_version,
        patient=patient,
        study=study,
        expression_upload=expression_upload,
        input=job_input,
        deadline=_new_deadline(timezone.now()),
        requested_by=actor,
        second_reader_required=second_reader,
    )
    enqueue_topic(AI_JOB_CREATE, create_message(job))
    _audit(
        Action.CREATE,
        actor=actor,
        job=job,
        detail={"task": task, "version": model_version, "input": job_input, "second_reader": second_reader},
    )
    return job


@transaction.atomic
def job_cancel(*, actor, job: AIJob) -> AIJob:
    """QUEUED or RUNNING -> CANCELLED, by whoever asked for it or by radiology staff. A result the
    ai-server sends later is acknowledged and ignored."""
    job = AIJob.objects.select_for_update().select_related("patient").get(pk=job.pk)
    if job.requested_by_id != actor.pk and not actor.has_role(Role.RIB):
        raise NotPermitted(_("Only whoever requested the analysis or radiology staff may cancel it."))
    _move(job, AIJob.Status.CANCELLED, actor=actor)
    job.finished_at = timezone.now()
    job.save(update_fields=("status", "finished_at", "updated_at"))
    _notify_finished(job)
    return job


# --- what the ai-server reports (ai.events validates the messages and calls these) ----------------------------
def job_progress(*, job_id: str, stage: str, fraction: float) -> AIJob | None:
    """Record a progress report and push it to the requester. A job that is not QUEUED/RUNNING (finished,
    cancelled, unknown) ignores it."""
    with transaction.atomic():
        job = AIJob.objects.select_for_update().select_related("patient").filter(pk=job_id).first()
        if job is None:
            logger.warning("progress for unknown job %s ignored", job_id)
            return None
        if not job.is_active:
            logger.info("progress for job %s ignored: it is %s", job_id, job.status)
            return None
        if job.status == AIJob.Status.QUEUED:
            _move(job, AIJob.Status.RUNNING, actor=None, stage=stage)
            job.started_at = job.started_at or timezone.now()
        job.progress_stage, job.progress_fraction = stage, fraction
        job.save(update_fields=("status", "started_at", "progress_stage", "progress_fraction", "updated_at"))
        notify_users(
            [job.requested_by_id],
            {
                "type": "ai.job.progress",
                "job_id": str(job.pk),
                "status": job.status,
                "stage": stage,
                "fraction": fraction,
            },
        )
    return job


@dataclass
class ResultReport:
    """An ai.job.result message, validated (ai.events.parse_result)."""

    job_id: str
    attempt: int
    status: str  # COMPLETED or FAILED
    reason: str = ""
    model: dict[str, Any] = field(default_factory=dict)
    task: str = ""
    device: str = ""
    raw_metrics: dict[str, Any] = field(default_factory=dict)  # everything the ai-server reported
    summary: str = ""
    artifacts: list[dict[str, Any]] = field(default_factory=list)
    orthanc: dict[str, Any] = field(default_factory=dict)
    timings: dict[str, Any] = field(default_factory=dict)
    disclaimer: str = ""
    disclaimers: dict[str, str] = field(default_factory=dict)  # by language code, from the model's card


def job_result(*, report: ResultReport) -> str:
    """Apply a result: COMPLETED -> job COMPLETED + AIResult PRELIMINARY + FHIR sync; FAILED -> job FAILED
    with the reason. Idempotent: a result for a job that is already finished or cancelled (a re-published
    result, a redelivered or re-queued job) changes nothing. Returns what happened."""
    with transaction.atomic():
        job = AIJob.objects.select_for_update().select_related("patient", "study").filter(pk=report.job_id).first()
        if job is None:
            logger.warning("result for unknown job %s ignored", report.job_id)
            return "unknown"
        if not job.is_active:
            logger.info(
                "result (%s, attempt %s) for job %s ignored: it is already %s",
                report.status,
                report.attempt,
                job.pk,
                job.status,
            )
            return "ignored"
        if report.status == AIJob.Status.FAILED and report.attempt < job.attempts:
            # e.g. an old delivery past its deadline, while the poll's newer attempt is queued: that one decides
            logger.info(
                "FAILED result of attempt %s for job %s ignored: attempt %s is on its way",
                report.attempt,
                job.pk,
                job.attempts,
            )
            return "stale"
        now = timezone.now()
        job.started_at = job.started_at or now
        job.finished_at = now
        job.device = report.device[:16]
        job.timings = report.timings
        if report.model.get("version"):
            job.model_version = str(report.model["version"])[:64]
        job.model_sha256 = str(report.model.get("sha256") or "")[:64]
        if report.status == AIJob.Status.FAILED:
            job.failure_reason = report.reason or "The ai-server reported a failure without a reason."
            _move(job, AIJob.Status.FAILED, actor=None, attempt=report.attempt, reason=job.failure_reason)
            job.save()
            _notify_finished(job)
            return "failed"
        _move(job, AIJob.Status.COMPLETED, actor=None, attempt=report.attempt)
        job.progress_fraction = 1.0
        job.save()
        result = AIResult.objects.create(
            job=job,
            raw_metrics=report.raw_metrics,
            artifacts=report.artifacts,
            summary=report.summary,
            disclaimer=report.disclaimer or report.disclaimers.get("en", ""),
            disclaimers=report.disclaimers,
            orthanc_seg_instance_id=str(report.orthanc.get("seg_instance_id") or "")[:64],
            orthanc_seg_series_uid=str(report.orthanc.get("seg_series_instance_uid") or "")[:64],
        )
        names = [artifact["name"] for artifact in result.artifacts]
        _audit(
            Action.CREATE,
            actor=None,
            job=job,
            resource=result,
            detail={"metrics": sorted(result.metrics), "artifacts": names},
        )
        enqueue_task(FHIR_SYNC_TASK, "ai.result", result.pk)
        _result_timeline(result, occurred_at=now, what=result.summary or "result")
        _notify_finished(job, result=result)
        _notify_radiologists(job, result)
    return "completed"


def _notify_radiologists(job: AIJob, result: AIResult, *, exclude: int | None = None) -> None:
    """A result waits for sign-off (or for its second read): pushed to every active radiologist after
    commit, but `exclude` (the first reader) (no patient names in the payload: the worklist fetches them,
    audited)."""
    radiologists = (
        get_user_model()
        .objects.filter(is_active=True, groups__name=Role.RADIOLOGIST)
        .exclude(pk=exclude)
        .values_list("pk", flat=True)
        .distinct()
    )
    notify_users(
        radiologists,
        {
            "type": "ai.result.awaiting_sign_off",
            "job_id": str(job.pk),
            "result_id": result.pk,
            "model": job.model_name,
            "priority": job.study.order.priority if job.study_id and job.study.order_id else None,
            "second_read": result.awaiting_second_read,
        },
    )


def _notify_finished(job: AIJob, result: AIResult | None = None) -> None:
    notify_users(
        [job.requested_by_id],
        {
            "type": "ai.job.finished",
            "job_id": str(job.pk),
            "status": job.status,
            "result_id": result.pk if result else None,
            "reason": job.failure_reason or None,
        },
    )


# --- the deadline poll ----------------------------------------------------------------------------------------
def jobs_poll(*, now: datetime | None = None, limit: int = 500) -> dict[str, int]:
    """Jobs QUEUED or RUNNING past their deadline: re-publish ai.job.create (same job id, attempt + 1,
    new deadline) while attempts < AI_JOB_MAX_ATTEMPTS, else FAILED with the reason. One transaction per
    job, each row re-checked under its lock (a result may have arrived meanwhile)."""
    now = now or timezone.now()
    due = AIJob.objects.filter(status__in=AIJob.ACTIVE, deadline__lt=now).order_by("deadline")
    counts = {"requeued": 0, "failed": 0}
    for pk in list(due.values_list("pk", flat=True)[:limit]):
        with transaction.atomic():
            job = due.select_for_update().select_related("patient").filter(pk=pk).first()
            if job is None:
                continue
            missed = job.deadline
            if job.attempts < settings.AI_JOB_MAX_ATTEMPTS:
                if job.status == AIJob.Status.RUNNING:
                    _move(job, AIJob.Status.QUEUED, actor=None, reason="deadline passed; re-queued")
                job.attempts += 1
                job.deadline = _new_deadline(now)
                job.progress_stage, job.progress_fraction = "", None
                job.save()
                enqueue_topic(AI_JOB_CREATE, create_message(job))
                _audit(
                    Action.UPDATE,
                    actor=None,
                    job=job,
                    detail={"requeued": True, "attempt": job.attempts, "missed_deadline": _iso(missed)},
                )
                counts["requeued"] += 1
                continue
            job.failure_reason = f"no result after {job.attempts} attempts (deadline {_iso(missed)} passed)"
            job.finished_at = now
            _move(job, AIJob.Status.FAILED, actor=None, reason=job.failure_reason)
            job.save()
            _notify_finished(job)
            counts["failed"] += 1
    if counts["requeued"] or counts["failed"]:
        logger.info("AI job poll: %(requeued)s re-queued, %(failed)s failed", counts)
    return counts


# --- radiology review -----------------------------------------------------------------------------------------
class Decision:
    APPROVE = "approve"
    REJECT = "reject"


def _check_radiologist(actor) -> None:
    # the views allow RADIOLOGIST only; a service called from elsewhere keeps the same rule
    if not actor.has_role(Role.RADIOLOGIST):
        raise NotPermitted(_("Only radiologists may sign off AI results."))


def _result_timeline(result: AIResult, *, what: str, verb: str = "", occurred_at=None, **detail) -> None:
    """The patient timeline's entry for a result: its arrival, its sign-off or its amendment."""
    job = result.job
    timeline_record(
        patient=job.patient,
        kind=TimelineEvent.Kind.AI_RESULT,
        occurred_at=occurred_at or result.created_at,
        title=f"AI {job.get_task_display()} ({job.model_name}){' ' + verb if verb else ''}: {what}",
        source_type="ai.result",
        source_id=str(result.pk),
        detail={"job": str(job.pk), "status": result.status, **detail},
    )


@transaction.atomic
def result_review(*, actor, result: AIResult, decision: str, comment: str) -> AIResult:
    """PRELIMINARY -> FINAL (approve) or CANCELLED (reject), with a comment, by a radiologist; the FHIR
    DiagnosticReport follows through the outbox.

    A result whose job requires a second reader (a routing rule's option) needs two approvals by two
    different radiologists: the first is recorded as its first read (first_reader, first_read_*), the result
    stays PRELIMINARY ("awaiting second read") and FHIR still sees it preliminary; the second, by another
    radiologist, makes it FINAL. A rejection by either reader ends it (CANCELLED)."""
    _check_radiologist(actor)
    result = AIResult.objects.select_for_update().select_related("job__patient", "first_reader").get(pk=result.pk)
    new = AIResult.Status.FINAL if decision == Decision.APPROVE else AIResult.Status.CANCELLED
    if not comment.strip():
        raise InvalidInput(_("A review needs a comment."), field="comment")
    if result.superseded_by_id is not None:
        raise InvalidTransition(
            _("Result %(id)s was superseded by a newer analysis (job %(job)s): review that one.")
            % {"id": result.pk, "job": result.superseded_by_id}
        )
    try:
        result.check_transition(new)
    except InvalidTransition as exc:
        raise InvalidTransition(_("%(refusal)s: it was reviewed already.") % {"refusal": exc}) from exc
    if result.first_reader_id is not None and result.first_reader_id == actor.pk:
        raise NotPermitted(
            _("You gave the first read of result %(id)s; the second read must be by another radiologist.")
            % {"id": result.pk}
        )
    if new == AIResult.Status.FINAL and result.second_reader_required and result.first_reader_id is None:
        return _first_read(actor=actor, result=result, comment=comment.strip())
    previous = result.status
    result.status = new
    result.reviewed_by = actor
    result.review_comment = comment.strip()
    result.reviewed_at = timezone.now()
    result.save()
    read = {"read": 2} if result.first_reader_id is not None else {}
    _audit(
        Action.UPDATE,
        actor=actor,
        job=result.job,
        resource=result,
        detail={"review": decision, "from": previous, "to": new, "comment": result.review_comment, **read},
    )
    # The Observations carry the review status too; a report's sync only makes sure they exist.
    for name in sorted(result.metrics or {}):
        enqueue_task(FHIR_SYNC_TASK, "ai.observation", f"{result.pk}:{name}")
    enqueue_task(FHIR_SYNC_TASK, "ai.result", result.pk)
    if new == AIResult.Status.FINAL and result.job.task == AIJob.Task.SEGMENTATION:
        course_sync_request(patient_pk=result.job.patient_id)
    _result_timeline(result, verb=new.lower(), what=result.summary or "", reviewed_by=actor.get_username())
    notify_users(
        [result.job.requested_by_id],
        {"type": "ai.result.reviewed", "job_id": str(result.job_id), "result_id": result.pk, "status": new},
    )
    return result


def _first_read(*, actor, result: AIResult, comment: str) -> AIResult:
    """The first of two approvals: recorded and audited; the result stays PRELIMINARY (nothing goes to FHIR)
    and the other radiologists are told it awaits its second read."""
    result.first_reader = actor
    result.first_read_comment = comment
    result.first_read_at = timezone.now()
    result.save(update_fields=("first_reader", "first_read_comment", "first_read_at"))
    _audit(
        Action.UPDATE,
        actor=actor,
        job=result.job,
        resource=result,
        detail={"review": Decision.APPROVE, "read": 1, "result_status": result.status, "comment": comment},
    )
    _result_timeline(result, verb="first read", what=result.summary or "", reviewed_by=actor.get_username())
    _notify_radiologists(result.job, result, exclude=actor.pk)
    notify_users(
        [result.job.requested_by_id],
        {
            "type": "ai.result.reviewed",
            "job_id": str(result.job_id),
            "result_id": result.pk,
            "status": "AWAITING_SECOND_READ",
        },
    )
    return result


# --- amendment of a signed result ---------------------------------------------------------------------------
AMENDABLE = ("summary", "review_comment")


@transaction.atomic
def result_amend(*, actor, result: AIResult, reason: str, **changes: str) -> AIResult:
    """Change a FINAL result (its summary and/or the radiologist's comment) with a reason: it stays FINAL,
    its version goes up by one, the version it replaces is kept in AIResultRevision, and the FHIR
    DiagnosticReport is re-sent with status `amended` (a new meta.versionId; STANDARDS.md §3). The values
    (the Observations) are the ai-server's and are not amended here."""
    _check_radiologist(actor)
    result = AIResult.objects.select_for_update().select_related("job__patient").get(pk=result.pk)
    if not reason.strip():
        raise InvalidInput(_("An amendment needs a reason."), field="reason")
    if not result.is_signed:
        raise InvalidTransition(
            _("Result %(id)s is %(status)s: only a signed (final) result can be amended.")
            % {"id": result.pk, "status": result.status}
        )
    unknown = set(changes) - set(AMENDABLE)
    if unknown:
        raise InvalidInput(_("These fields cannot be amended: %(fields)s.") % {"fields": ", ".join(sorted(unknown))})
    changed = {
        name: value.strip()
        for name, value in changes.items()
        if value is not None and value.strip() != getattr(result, name)
    }
    if not changed:
        raise InvalidInput(_("The amendment changes nothing: give a new summary or comment."))
    AIResultRevision.objects.create(
        result=result, **{name: getattr(result, name) for name in AIResultRevision.SNAPSHOT_FIELDS}
    )
    previous = {name: getattr(result, name) for name in changed}
    for name, value in changed.items():
        setattr(result, name, value)
    result.version += 1
    result.amended_by, result.amended_at, result.amendment_reason = actor, timezone.now(), reason.strip()
    result.save()
    _audit(
        Action.UPDATE,
        actor=actor,
        job=result.job,
        resource=result,
        detail={"amend": True, "version": result.version, "reason": result.amendment_reason,
                "before": previous, "after": changed},
    )  # fmt: skip
    enqueue_task(FHIR_SYNC_TASK, "ai.result", result.pk)
    _result_timeline(result, verb="amended", what=result.amendment_reason, version=result.version)
    notify_users(
        [result.job.requested_by_id],
        {"type": "ai.result.reviewed", "job_id": str(result.job_id), "result_id": result.pk, "status": "AMENDED"},
    )
    return result


@transaction.atomic
def results_supersede(*, actor, newer: AIJob, results, reason: str) -> int:
    """Mark `results` (earlier analyses of the same input) as superseded by the job `newer`: they stay, with
    their review, but leave the worklist and the signed findings (AIResult.objects.signed()). Audited per
    result; returns how many changed (one already superseded, or `newer`'s own, is left alone)."""
    changed = 0
    now = timezone.now()
    for pk in [result.pk for result in results]:
        result = AIResult.objects.select_for_update().select_related("job__patient").get(pk=pk)
        if result.superseded_by_id is not None or result.job_id == newer.pk:
            continue
        result.superseded_by, result.superseded_at = newer, now
        result.save(update_fields=("superseded_by", "superseded_at"))
        _audit(
            Action.UPDATE,
            actor=actor,
            job=result.job,
            resource=result,
            detail={"superseded_by": str(newer.pk), "result_status": result.status, "reason": reason},
        )
        changed += 1
    return changed


def course_sync_request(*, patient_pk: int) -> list[str]:
    """Queue a FHIR sync of every figure of the patient's tumour course (ai.course). Call when a
    segmentation result is signed (or its signed volumes change): a new study can move the baseline or the
    nadir, and so every later study's change and category. Unchanged figures cost a hash comparison."""
    ids = [figure[0] for figure in figures(patient_course(patient_pk))]
    for entity_id in ids:
        enqueue_task(FHIR_SYNC_TASK, "ai.course", entity_id)
    return ids


# --- measurements drawn in the viewer, saved as a DICOM SR (docs/radiology.md "Measurements") -------------------
def _observer_name(user) -> str:
    """DICOM PN (family^given), else the login."""
    name = f"{user.last_name}^{user.first_name}".strip("^")
    return name or user.get_username()


def measurement_report_save(*, actor, study_pk: int, measurements: list[dict[str, Any]]) -> dict[str, Any]:
    """Measurements on the study's images -> the ai-server measures them on the images, builds the SR
    (TID 1500) and stores it in the PACS -> audited with the patient -> the stored SR read back."""
    study = radiology_selectors.study_get(user=actor, pk=study_pk)
    patient_id = study.patient.emr_uuid if study.patient else ""
    orthanc = get_orthanc_client()
    try:
        listed = orthanc.list_study_instances(study.orthanc_id)
    except ExternalNotFound:
        listed = []
    instances = {item.get("MainDicomTags", {}).get("SOPInstanceUID"): item["ID"] for item in listed}
    missing = sorted({item["sop_instance_uid"] for item in measurements} - instances.keys())
    if missing:
        raise InvalidInput(
            _("These images are not in this study: %(uids)s") % {"uids": ", ".join(missing)}, field="measurements"
        )
    body = {
        "observer": {"name": _observer_name(actor), "login": actor.get_username()},
        "measurements": [item | {"orthanc_instance_id": instances[item["sop_instance_uid"]]} for item in measurements],
    }
    detail = {"study_instance_uid": study.study_instance_uid, "study": study.pk,
              "kinds": sorted(item["kind"] for item in measurements)}  # fmt: skip
    try:
        saved = get_measurement_sr_client().measurement_report_save(body, patient_id=patient_id)
    except ExternalSystemError as exc:
        AuditClient.log_event(
            Action.CREATE, actor=actor, resource_type="measurement_report", resource_id=study.pk,
            patient_id=patient_id, outcome=Outcome.FAILURE, detail={**detail, "reason": exc.detail},
        )  # fmt: skip
        if isinstance(exc, ExternalRejected):  # the geometry does not fit the images
            raise InvalidInput(
                _("The measurements cannot be saved: %(reason)s") % {"reason": exc.detail}, field="measurements"
            ) from exc
        raise
    AuditClient.log_event(
        Action.CREATE, actor=actor, resource_type="measurement_report", resource_id=saved["sop_instance_uid"],
        patient_id=patient_id, detail={**detail, "orthanc_id": saved["orthanc_instance_id"]},
    )  # fmt: skip
    stored = measurement_report_of(orthanc, saved["orthanc_instance_id"], study_pk=study.pk)
    return stored | {"orthanc_id": saved["orthanc_instance_id"]}
