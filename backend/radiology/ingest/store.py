"""Checking, storing, recording: each uploaded part (a file or a zip's members) is checked with pydicom,
the good files are stored in Orthanc (inline or from a few threads), and each study touched is recorded
once at the end (services.study_sync, the identity rules)."""

import contextvars
import logging
import queue
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from django.conf import settings
from django.db import DatabaseError, InterfaceError, OperationalError
from django.db import connections as db_connections
from django.utils import translation
from django.utils.translation import gettext as _

from audit.client import AuditClient
from core.http import ExternalRejected, ExternalSystemError, SystemUnavailable
from radiology import dicom
from radiology.clients.orthanc_client import StoredInstance, get_orthanc_client
from radiology.models import Study
from radiology.services import Unrecordable, study_sync

from .parts import Budget, iter_items

logger = logging.getLogger(__name__)
STATUSES = ("stored", "already_stored", "rejected")


@dataclass
class UploadOutcome:
    """What an upload did: one result per file (in the order of the request), the studies it recorded,
    and why the body was not read to its end, if it was not."""

    results: list[dict] = field(default_factory=list)
    studies: list[Study] = field(default_factory=list)
    parts: int = 0
    too_large: bool = False  # over RADIOLOGY_UPLOAD_MAX_REQUEST_BYTES: reading stopped
    malformed: str = ""  # the multipart body could not be parsed

    def count(self, status: str) -> int:
        return sum(1 for result in self.results if result["status"] == status)

    @property
    def counts(self) -> dict[str, int]:
        return {name: self.count(name) for name in STATUSES}


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
        unavailable = None
        for orthanc_study_id, stored in touched.items():  # each study, even after a failure: no orphans
            try:
                if study := _upload_recorded(orthanc_study_id, stored, actor):
                    ingest.outcome.studies.append(study)
            except SystemUnavailable as exc:
                unavailable = unavailable or exc
        if unavailable is not None:
            raise unavailable


def _upload_recorded(orthanc_study_id: str, stored: list[tuple[StoredInstance, dict]], actor) -> Study | None:
    """study_sync for an upload. When the CDSS cannot record the study, the instances this request added
    are deleted from Orthanc again (no orphan) and reported rejected; a database that is down is a 503."""
    try:
        return study_sync(orthanc_study_id=orthanc_study_id, source=Study.Source.UPLOAD, actor=actor)[0]
    except (Unrecordable, DatabaseError) as exc:
        unavailable = isinstance(exc, OperationalError | InterfaceError)
        reason = (
            _("the database is unavailable")
            if unavailable
            else _("the CDSS cannot record the study: %(error)s") % {"error": exc}
        )
        logger.warning("upload of Orthanc study %s not recorded: %s", orthanc_study_id, exc)
        orthanc = get_orthanc_client()
        for instance, result in stored:
            if instance.already_stored:  # there before this request: not ours to remove
                continue
            try:
                orthanc.delete_instance(instance.instance_id)
                removed = _("removed from the PACS again")
            except ExternalSystemError as error:  # the change feed retries the import later
                logger.error("orphan instance %s left in Orthanc: %s", instance.instance_id, error)
                removed = _("could not be removed from the PACS: the change feed will import it")
            result.update(status="rejected", code="not_recorded", reason=f"{reason[:200]}; {removed}")
        if unavailable:
            raise SystemUnavailable("database", reason) from exc
        return None


class DicomIngest:
    """Checks each file (or zip member) with pydicom and hands the good ones to the storer; rejected files
    never reach Orthanc. With RADIOLOGY_UPLOAD_CONCURRENCY > 1, checked files are stored by that many
    threads while the next files are being received and checked."""

    def __init__(self):
        self.outcome = UploadOutcome()
        self.budget = Budget()
        self.storer = _Storer(get_orthanc_client(), self.outcome, settings.RADIOLOGY_UPLOAD_CONCURRENCY)
        self._holders: dict[str, tuple | None] = {}  # StudyInstanceUID -> the holding row's identity

    def add(self, part) -> None:
        """Check and store one uploaded part (a file or a zip archive)."""
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
            if clash := self._issuer_clash(info):
                if item.owned:
                    item.handle.close()
                self.reject(item.name, "identity_conflict", clash)
                continue
            self.storer.submit(item, info)

    def _issuer_clash(self, info: dicom.DicomInfo) -> str:
        """Orthanc keys a study by PatientID + UID, not the issuer: a file naming the holder's PatientID from
        another issuer would be merged into the holder's study there, so it is refused before storing."""
        uid = info.study_instance_uid
        if uid not in self._holders:
            held = Study.objects.filter(study_instance_uid=uid, holds_uid=True)
            self._holders[uid] = held.values_list("pk", "dicom_patient_id", "dicom_issuer_of_patient_id").first()
        holder = self._holders[uid]
        if holder is None or holder[1] != info.patient_id or holder[2] == info.issuer_of_patient_id:
            return ""
        held, sent = holder[2] or "(no issuer)", info.issuer_of_patient_id or "(no issuer)"
        return (
            f"study {holder[0]} holds this StudyInstanceUID for PatientID {holder[1]} issued by {held}; "
            f"this file's PatientID is issued by {sent}"
        )

    def reject(self, name: str, code: str, reason: str) -> None:
        self.outcome.results.append({"file": name, "status": "rejected", "code": code, "reason": reason})


class _Storer:
    """Sends checked files to Orthanc inline (concurrency 1) or from a few threads fed by a bounded queue."""

    def __init__(self, orthanc, outcome: UploadOutcome, concurrency: int):
        self.orthanc, self.outcome = orthanc, outcome
        self.touched: dict[str, list[tuple[StoredInstance, dict]]] = {}  # Orthanc study id -> stored here
        self.error: BaseException | None = None
        self.lock = threading.Lock()
        self.threads: list[threading.Thread] = []
        if concurrency > 1:
            self.queue: queue.Queue = queue.Queue(maxsize=concurrency * 2)
            for _index in range(concurrency):
                context = contextvars.copy_context()  # request id and user, for the audit of each call
                # Django's active language is per thread, not in the context: the reasons these threads
                # write are in the request's language only if they are told it.
                thread = threading.Thread(
                    target=context.run, args=(self._work_in, translation.get_language()), daemon=True
                )
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

    def _work_in(self, language: str | None) -> None:
        with translation.override(language):
            self._work()

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
            self.touched.setdefault(stored.study_id, []).append((stored, result))
        result.update(
            status="already_stored" if stored.already_stored else "stored",
            study_instance_uid=info.study_instance_uid,
            sop_instance_uid=info.sop_instance_uid,
        )

    def finish(self) -> dict[str, list[tuple[StoredInstance, dict]]]:
        for _thread in self.threads:
            self.queue.put(None)
        for thread in self.threads:
            thread.join()
        if self.error is not None:
            raise self.error
        return self.touched
