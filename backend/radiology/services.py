"""Writes of the radiology app: orders and their lifecycle, DICOM ingest (upload, change feed, STOW),
study rows kept in step with Orthanc. Each write is audited and queues its FHIR sync through the outbox
in the same transaction."""

import contextvars
import logging
import queue
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime

from django.conf import settings
from django.core.cache import cache
from django.db import connections as db_connections
from django.db import transaction
from django.utils import timezone
from rest_framework.exceptions import PermissionDenied, ValidationError

from acct.roles import Role
from audit.client import AuditClient
from audit.models import Action
from core.http import ExternalNotFound, ExternalRejected
from core.outbox import enqueue_task
from emr.models import Patient, TimelineEvent
from emr.services import timeline_record
from radiology.clients.orthanc_client import get_orthanc_client

from . import dicom
from .models import FeedCheckpoint, Order, Series, Study
from .upload import Budget, iter_items

logger = logging.getLogger(__name__)

FHIR_SYNC_TASK = "fhir_sync.sync_entity"
CHANGES_FEED = "orthanc"


# --- orders ----------------------------------------------------------------------------------------
@transaction.atomic
def order_create(
    *, actor, patient: Patient, modality: str, body_part: str, reason: str, priority: str = Order.Priority.ROUTINE
) -> Order:
    order = Order.objects.create(
        patient=patient, ordered_by=actor, modality=modality, body_part=body_part, reason=reason, priority=priority
    )
    order.accession_number = f"CDSS{order.pk:010d}"  # DICOM SH: at most 16 characters
    order.save(update_fields=("accession_number",))
    _order_recorded(actor=actor, order=order, action=Action.CREATE)
    return order


# Who may move an order into each status (cancelling: whoever ordered or radiology staff).
TRANSITION_ROLES = {
    Order.Status.SCHEDULED: {Role.RIB},
    Order.Status.IN_PROGRESS: {Role.RIB},
    Order.Status.COMPLETED: {Role.RIB},
    Order.Status.CANCELLED: {Role.RIB, Role.DOCTOR},
}


@transaction.atomic
def order_transition(*, actor, order: Order, status: str, scheduled_for: datetime | None = None) -> Order:
    order = Order.objects.select_for_update().get(pk=order.pk)
    if status not in Order.TRANSITIONS[order.status]:
        allowed = sorted(Order.TRANSITIONS[order.status]) or ["none"]
        raise ValidationError({"status": [f"{order.status} cannot become {status}; allowed: {', '.join(allowed)}"]})
    if not actor.has_role(*TRANSITION_ROLES[status]):
        raise PermissionDenied(f"Your role may not move an order to {status}.")
    previous = order.status
    order.status = status
    if scheduled_for is not None:
        order.scheduled_for = scheduled_for
    order.save(update_fields=("status", "scheduled_for", "updated_at"))
    _order_recorded(actor=actor, order=order, action=Action.UPDATE, detail={"from": previous, "to": status})
    return order


def _order_recorded(*, actor, order: Order, action: str, detail: dict | None = None) -> None:
    AuditClient.log_event(
        action,
        actor=actor,
        resource_type="radiology_order",
        resource_id=order.pk,
        patient_id=order.patient.emr_uuid,
        detail={"accession_number": order.accession_number, "status": order.status, **(detail or {})},
    )
    timeline_record(
        patient=order.patient,
        kind=TimelineEvent.Kind.ORDER,
        occurred_at=order.created_at or timezone.now(),
        title=f"{order.modality} {order.body_part} ordered ({order.status})",
        source_type="radiology.order",
        source_id=str(order.pk),
        detail={"accession_number": order.accession_number, "status": order.status, "priority": order.priority},
    )
    enqueue_task(FHIR_SYNC_TASK, "radiology.order", order.pk)


# --- studies: kept in step with Orthanc --------------------------------------------------------------
def study_sync(*, orthanc_study_id: str, source: str, actor=None) -> tuple[Study, bool]:
    """Create or refresh the study row (and its series) from what Orthanc holds now."""
    orthanc = get_orthanc_client()
    remote = orthanc.get_study(orthanc_study_id)
    remote_series = orthanc.list_series(orthanc_study_id)
    tags = remote.get("MainDicomTags", {})
    patient_tags = remote.get("PatientMainDicomTags", {})
    dicom_patient_id = (patient_tags.get("PatientID") or "").strip()
    accession = (tags.get("AccessionNumber") or "").strip()
    patient, reason = _match_patient(dicom_patient_id)
    order = Order.objects.filter(accession_number=accession).select_related("patient").first() if accession else None
    if order is not None and (patient is None or order.patient_id != patient.pk):
        if patient is not None:
            reason = f"accession number {accession} belongs to an order of another patient"
            patient = None
        order = None
    series_rows = [_series_values(item) for item in remote_series]
    modalities = sorted({row["modality"] for row in series_rows if row["modality"]})
    with transaction.atomic():
        study, created = Study.objects.select_for_update().get_or_create(
            study_instance_uid=tags["StudyInstanceUID"],
            defaults={"orthanc_id": orthanc_study_id, "source": source, "status": Study.Status.RECONCILE},
        )
        study.orthanc_id = orthanc_study_id
        study.patient, study.order = patient, order
        study.status = Study.Status.LINKED if patient else Study.Status.RECONCILE
        study.reconciliation_reason = "" if patient else reason
        study.dicom_patient_id = dicom_patient_id[:64]
        study.dicom_patient_name = (patient_tags.get("PatientName") or "")[:255]
        study.accession_number = accession[:16]
        study.modality = "\\".join(modalities)[:64]
        study.study_date = _dicom_date(tags.get("StudyDate"))
        study.description = (tags.get("StudyDescription") or "")[:255]
        study.number_of_series = len(series_rows)
        study.number_of_instances = sum(row["number_of_instances"] for row in series_rows)
        study.save()
        for row in series_rows:
            uid = row.pop("series_instance_uid")
            Series.objects.update_or_create(series_instance_uid=uid, defaults={**row, "study": study})
        study.series.exclude(orthanc_id__in=[row["orthanc_id"] for row in series_rows]).delete()
        AuditClient.log_event(
            Action.CREATE if created else Action.UPDATE,
            actor=actor,
            resource_type="radiology_study",
            resource_id=study.pk,
            patient_id=patient.emr_uuid if patient else "",
            detail={"source": source, "study_instance_uid": study.study_instance_uid, "status": study.status},
        )
        if patient is not None:
            timeline_record(
                patient=patient,
                kind=TimelineEvent.Kind.STUDY,
                occurred_at=_occurred_at(study),
                title=f"{study.modality or 'Imaging'} study: {study.description or study.study_instance_uid}",
                source_type="radiology.study",
                source_id=str(study.pk),
                detail={"series": study.number_of_series, "instances": study.number_of_instances},
            )
        enqueue_task(FHIR_SYNC_TASK, "radiology.study", study.pk)
    return study, created


def _match_patient(dicom_patient_id: str) -> tuple[Patient | None, str]:
    """The EMR patient whose record number (pubpid) is the DICOM PatientID, when exactly one is."""
    if not dicom_patient_id:
        return None, "the study has no PatientID"
    matches = list(Patient.objects.filter(mrn=dicom_patient_id)[:2])
    if len(matches) == 1:
        return matches[0], ""
    if not matches:
        return None, f"no EMR patient has record number {dicom_patient_id}"
    return None, f"several EMR patients have record number {dicom_patient_id}"


def _series_values(item: dict) -> dict:
    tags = item.get("MainDicomTags", {})
    try:
        number = int(tags.get("SeriesNumber", ""))
    except ValueError:
        number = None
    description = tags.get("SeriesDescription") or ""
    return {
        "series_instance_uid": tags.get("SeriesInstanceUID", ""),
        "orthanc_id": item["ID"],
        "modality": (tags.get("Modality") or "")[:16],
        "series_number": number,
        "description": description[:255],
        "sequence_type": dicom.sequence_type(description, tags.get("ProtocolName", "")),
        "number_of_instances": len(item.get("Instances", [])),
    }


def _dicom_date(value: str | None) -> date | None:
    try:
        return datetime.strptime(value, "%Y%m%d").date() if value else None
    except ValueError:
        return None


def _occurred_at(study: Study) -> datetime:
    if study.study_date:
        return timezone.make_aware(datetime.combine(study.study_date, datetime.min.time()))
    return timezone.now()


# --- upload ----------------------------------------------------------------------------------------
@dataclass
class UploadOutcome:
    results: list[dict] = field(default_factory=list)
    studies: list[Study] = field(default_factory=list)

    def count(self, status: str) -> int:
        return sum(1 for result in self.results if result["status"] == status)


@contextmanager
def dicom_ingest(*, actor) -> Iterator["DicomIngest"]:
    """One upload request: `ingest.add(part)` for each uploaded part, as soon as it is complete (while the
    rest of the body is still arriving); when the block ends, every store has finished and each study
    touched has been created or refreshed once. The result is `ingest.outcome`. The audit events of the
    Orthanc calls are appended in groups (`AuditClient.batched`), written before the block ends."""
    with AuditClient.batched():
        ingest = DicomIngest()
        try:
            yield ingest
        finally:
            touched = ingest.storer.finish()
        for orthanc_study_id in touched:
            study, _ = study_sync(orthanc_study_id=orthanc_study_id, source=Study.Source.UPLOAD, actor=actor)
            ingest.outcome.studies.append(study)


class DicomIngest:
    """Checks each file (or zip member) with pydicom and hands the good ones to the storer; rejected files
    never reach Orthanc. With RADIOLOGY_UPLOAD_CONCURRENCY > 1, checked files are stored by that many
    threads while the next files are being received and checked."""

    def __init__(self):
        self.outcome = UploadOutcome()
        self.budget = Budget()
        self.storer = _Storer(get_orthanc_client(), self.outcome, settings.RADIOLOGY_UPLOAD_CONCURRENCY)
        self._added: set[int] = set()

    def add(self, part) -> None:
        """Check and store one uploaded part (a file or a zip archive). A part already added is skipped."""
        if id(part) in self._added:
            return
        self._added.add(id(part))
        for item in iter_items([part], self.budget):
            if item.handle is None:
                self.reject(item.name, item.code, item.reason)
                continue
            try:
                info = dicom.inspect(item.handle)
            except dicom.Rejected as exc:
                if item.owned:
                    item.handle.close()
                self.reject(item.name, "invalid_dicom", str(exc))
                continue
            self.storer.submit(item, info)

    def reject(self, name: str, code: str, reason: str) -> None:
        self.outcome.results.append({"file": name, "status": "rejected", "code": code, "reason": reason})


class _Storer:
    """Sends checked files to Orthanc inline (concurrency 1) or from a few threads fed by a bounded queue."""

    def __init__(self, orthanc, outcome: UploadOutcome, concurrency: int):
        self.orthanc, self.outcome = orthanc, outcome
        self.touched: dict[str, None] = {}
        self.error: BaseException | None = None
        self.lock = threading.Lock()
        self.threads: list[threading.Thread] = []
        if concurrency > 1:
            self.queue: queue.Queue = queue.Queue(maxsize=concurrency * 2)
            for _ in range(concurrency):
                context = contextvars.copy_context()  # request id and user, for the audit of each call
                thread = threading.Thread(target=context.run, args=(self._work,), daemon=True)
                thread.start()
                self.threads.append(thread)

    def submit(self, item, info) -> None:
        if self.error is not None:
            raise self.error
        result = {"file": item.name}
        self.outcome.results.append(result)  # keeps the order of the request
        if not self.threads:
            self._store(item, info, result)
            if self.error is not None:
                raise self.error
            return
        self.queue.put((item, info, result))

    def _work(self) -> None:
        try:
            while (job := self.queue.get()) is not None:
                if self.error is None:
                    self._store(*job)
                elif job[0].owned:
                    job[0].handle.close()
        finally:
            db_connections.close_all()  # this thread's own connections

    def _store(self, item, info, result: dict) -> None:
        try:
            item.handle.seek(0)
            stored = self.orthanc.upload_instance(item.handle)
        except ExternalRejected as exc:
            result.update(status="rejected", code="pacs_refused", reason=exc.detail)
            return
        except BaseException as exc:  # Orthanc down or slow: the whole request fails with 503/504
            result.update(status="rejected", code="pacs_error", reason=str(exc)[:300])
            self.error = self.error or exc
            return
        finally:
            if item.owned:
                item.handle.close()  # zip members; uploaded parts are closed by Django
        with self.lock:
            self.touched[stored.study_id] = None
        result.update(
            status="already_stored" if stored.already_stored else "stored",
            study_instance_uid=info.study_instance_uid,
            sop_instance_uid=info.sop_instance_uid,
        )

    def finish(self) -> list[str]:
        for _ in self.threads:
            self.queue.put(None)
        for thread in self.threads:
            thread.join()
        if self.error is not None:
            raise self.error
        return list(self.touched)


# --- Orthanc's change feed ---------------------------------------------------------------------------
def changes_import(*, batch: int | None = None) -> int:
    """Import every study that became stable in Orthanc since the stored checkpoint. Returns how many.
    One run at a time (a cache lock); the checkpoint moves after each page, so a crash repeats at most one
    page, and repeating is harmless (study_sync is an upsert)."""
    if not cache.add("radiology:changes-import", "1", timeout=300):
        return 0
    try:
        orthanc = get_orthanc_client()
        checkpoint, _ = FeedCheckpoint.objects.get_or_create(name=CHANGES_FEED)
        since, imported = checkpoint.last_seq, 0
        while True:
            page = orthanc.changes(since=since, limit=batch or settings.RADIOLOGY_CHANGES_BATCH)
            for change in page.get("Changes", []):
                if change.get("ChangeType") != "StableStudy":
                    continue
                try:
                    study_sync(orthanc_study_id=change["ID"], source=Study.Source.PACS)
                except ExternalNotFound:
                    logger.info("study %s was deleted from Orthanc before it could be imported", change["ID"])
                    continue
                imported += 1
            since = max(since, int(page.get("Last", since)))
            FeedCheckpoint.objects.filter(pk=checkpoint.pk).update(last_seq=since, updated_at=timezone.now())
            if page.get("Done", True) or not page.get("Changes"):
                return imported
    finally:
        cache.delete("radiology:changes-import")


def changes_checkpoint_set(*, last_seq: int) -> None:
    FeedCheckpoint.objects.update_or_create(name=CHANGES_FEED, defaults={"last_seq": last_seq})


def stow_studies_imported(*, actor, study_uids: list[str]) -> list[Study]:
    """After a STOW-RS through the gateway: create or refresh the row of each study it stored."""
    orthanc = get_orthanc_client()
    studies = []
    for uid in study_uids:
        for resource in orthanc.lookup(uid):
            if resource.get("Type") == "Study":
                studies.append(study_sync(orthanc_study_id=resource["ID"], source=Study.Source.STOW, actor=actor)[0])
    return studies
