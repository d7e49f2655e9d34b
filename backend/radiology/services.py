"""Writes of the radiology app: orders and their lifecycle, study rows kept in step with Orthanc under the
identity rules (for the upload in radiology.ingest, the change feed and STOW-RS), reconciliation. Each
write is audited and queues its FHIR sync through the outbox in the same transaction."""

import io
import logging
from dataclasses import dataclass
from datetime import date, datetime

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from minio.error import S3Error

from acct.roles import Role
from audit.client import AuditClient
from audit.models import Action, Outcome
from core.errors import NotFound, NotPermitted, check_transition
from core.http import ExternalNotFound, ExternalSystemError
from core.messaging.names import FHIR_SYNC_TASK
from core.outbox import enqueue_task
from core.storage import storage_client
from emr.models import Patient, TimelineEvent
from emr.services import timeline_record
from notifications.services import notify_users
from radiology.clients.orthanc_client import get_orthanc_client

from . import dicom, selectors
from .models import FeedCheckpoint, Order, Series, Study
from .signals import study_changed

logger = logging.getLogger(__name__)

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
    check_transition(
        _("order %(number)s") % {"number": order.accession_number}, order.status, status, Order.TRANSITIONS
    )
    if not actor.has_role(*TRANSITION_ROLES[status]):
        raise NotPermitted(_("Your role may not move an order to %(status)s.") % {"status": status})
    if status == Order.Status.CANCELLED and not actor.has_role(Role.RIB) and order.ordered_by_id != actor.pk:
        raise NotPermitted(_("Only the doctor who ordered it or radiology staff may cancel an order."))
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


# --- studies: kept in step with Orthanc, under the identity rules (docs/radiology.md) ----------------
class Unrecordable(Exception):
    """Orthanc holds a study the CDSS cannot record (a value too long for its columns, no UID): the caller
    removes what it stored or records the refusal. The message is the reason."""


@dataclass(frozen=True)
class Identity:
    """Whom the images say they show (the DICOM Patient module, as Orthanc indexed it)."""

    patient_id: str
    issuer: str = ""
    name: str = ""
    birth_date: date | None = None
    sex: str = ""

    def describe(self) -> str:
        issuer = f" (issuer {self.issuer})" if self.issuer else ""
        return f"PatientID {self.patient_id or '(none)'}{issuer}"


ISSUER_OF_PATIENT_ID = "0010-0021"


def study_sync(*, orthanc_study_id: str, source: str, actor=None) -> tuple[Study, bool]:
    """Create or refresh the study row (and its series) from what Orthanc holds now. The one place where
    the identity rules hold, for upload, STOW-RS and the change feed alike:

    - a row's patient and status change only by link/unlink, never by new images;
    - a second Orthanc study with the StudyInstanceUID of a study the CDSS holds (Orthanc keys studies by
      PatientID + UID, so: images naming another patient) becomes a row of its own in CONFLICT that
      references the holder; the holder and its series stay as they were;
    - series are added or refreshed, never removed;
    - every outcome is audited with the patient(s) concerned; a CONFLICT is pushed to RIB users.
    Raises Unrecordable when Orthanc's values do not fit the CDSS's columns."""
    orthanc = get_orthanc_client()
    remote = orthanc.get_study(orthanc_study_id)
    remote_series = orthanc.list_series(orthanc_study_id)
    tags = remote.get("MainDicomTags", {})
    identity = _identity(orthanc, remote, remote_series)
    recorded = Series.objects.filter(orthanc_id__in=[item["ID"] for item in remote_series])
    recorded_aes = dict(recorded.values_list("orthanc_id", "sending_ae"))
    series_rows = [_series_values(item, orthanc, recorded_aes) for item in remote_series]
    uid, accession = (tags.get("StudyInstanceUID") or "").strip(), (tags.get("AccessionNumber") or "").strip()
    _check_fits(uid=uid, identity=identity, accession=accession, series_rows=series_rows)
    modalities = sorted({row["modality"] for row in series_rows if row["modality"]})
    values = {
        "dicom_patient_id": identity.patient_id,
        "dicom_issuer_of_patient_id": identity.issuer,
        "dicom_patient_name": identity.name,
        "dicom_birth_date": identity.birth_date,
        "dicom_sex": identity.sex[:16],
        "accession_number": accession,
        "modality": "\\".join(modalities)[:64],
        "study_date": _dicom_date(tags.get("StudyDate")),
        "description": (tags.get("StudyDescription") or "")[:255],
        "number_of_series": len(series_rows),
        "number_of_instances": sum(row["number_of_instances"] for row in series_rows),
    }
    for attempt in range(2):
        try:
            with transaction.atomic():
                return _study_recorded(orthanc_study_id, uid, identity, values, series_rows, source, actor)
        except IntegrityError:  # a concurrent first sync of this study (or UID) won; the retry sees its row
            if attempt:
                raise
    raise AssertionError("unreachable")


def _study_recorded(orthanc_id, uid, identity, values, series_rows, source, actor) -> tuple[Study, bool]:
    study = Study.objects.select_for_update().filter(orthanc_id=orthanc_id).first()
    created = study is None
    if created:
        study = Study(orthanc_id=orthanc_id, study_instance_uid=uid, source=source)
        _assign_identity(study, identity, values["accession_number"])
    for name, value in values.items():
        setattr(study, name, value)
    study.save()
    for row in series_rows:  # keyed by Orthanc's id (PatientID + UIDs): a series never moves to another study
        Series.objects.update_or_create(orthanc_id=row["orthanc_id"], defaults={**row, "study": study})
    _study_audited(study, action=Action.CREATE if created else Action.UPDATE, actor=actor, detail={"source": source})
    if study.patient is not None:
        _study_on_timeline(study)
    if study.patient is not None:  # RECONCILE and CONFLICT have no subject yet: linking queues the sync
        enqueue_task(FHIR_SYNC_TASK, "radiology.study", study.pk)
    if created and study.status == Study.Status.CONFLICT:
        _conflict_notified(study)
    study_changed.send(sender=Study, study=study)
    return study, created


def _assign_identity(study: Study, identity: Identity, accession: str) -> None:
    """A new row: CONFLICT when another row holds its UID, else LINKED to the one EMR patient whose record
    number is the PatientID (and the order its accession number names, if that patient's), else RECONCILE."""
    holder = Study.objects.select_for_update().filter(study_instance_uid=study.study_instance_uid, holds_uid=True)
    holder = holder.select_related("patient").first()
    if holder is not None:
        study.status, study.holds_uid, study.conflicting_with = Study.Status.CONFLICT, None, holder
        held = Identity(holder.dicom_patient_id, holder.dicom_issuer_of_patient_id)
        study.reconciliation_reason = (
            f"StudyInstanceUID already belongs to study {holder.pk} ({held.describe()}); "
            f"these images name {identity.describe()}"
        )[:255]
        return
    patient, reason = _match_patient(identity.patient_id)
    order = Order.objects.filter(accession_number=accession).first() if accession else None
    if order is not None and patient is not None and order.patient_id != patient.pk:
        patient, reason = None, f"accession number {accession} belongs to an order of another patient"
    study.patient, study.order = patient, (order if patient is not None and order is not None else None)
    study.status = Study.Status.LINKED if patient else Study.Status.RECONCILE
    study.reconciliation_reason = reason[:255]


def _identity(orthanc, remote: dict, remote_series: list[dict]) -> Identity:
    tags = remote.get("PatientMainDicomTags", {})
    first = next((i for item in remote_series for i in item.get("Instances", [])), None)
    # Orthanc does not index IssuerOfPatientID by default: read it from one instance
    issuer = orthanc.instance_tag(first, ISSUER_OF_PATIENT_ID) if first else ""
    return Identity(
        patient_id=(tags.get("PatientID") or "").strip(),
        issuer=issuer.strip(),
        name=(tags.get("PatientName") or "").strip(),
        birth_date=_dicom_date(tags.get("PatientBirthDate")),
        sex=(tags.get("PatientSex") or "").strip(),
    )


def _check_fits(*, uid: str, identity: Identity, accession: str, series_rows: list[dict]) -> None:
    """The upload refuses such files before storing (dicom.inspect); STOW-RS and C-STORE reach Orthanc first."""
    if not uid:
        raise Unrecordable("the study has no StudyInstanceUID")
    longest = max((row["series_instance_uid"] for row in series_rows), key=len, default="")
    limits = {**dicom.FIT, "StudyInstanceUID": dicom.UID_MAX, "SeriesInstanceUID": dicom.UID_MAX}
    values = {
        "StudyInstanceUID": uid,
        "SeriesInstanceUID": longest,
        "PatientID": identity.patient_id,
        "IssuerOfPatientID": identity.issuer,
        "PatientName": identity.name,
        "AccessionNumber": accession,
    }
    for name, value in values.items():
        if len(value) > limits[name]:
            raise Unrecordable(f"{name} has {len(value)} characters; the CDSS records at most {limits[name]}")


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


def _study_audited(study: Study, *, action: str, actor, detail: dict, patient: Patient | None = None) -> None:
    """One event per patient concerned: the study's own, for a CONFLICT the holder's and the EMR patient the
    images name (when the EMR knows one)."""
    detail = {"study_instance_uid": study.study_instance_uid, "status": study.status,
              "dicom_patient_id": study.dicom_patient_id, **detail}  # fmt: skip
    concerned = [patient or study.patient]
    if study.status == Study.Status.CONFLICT:
        holder = study.conflicting_with
        detail["conflicting_with"] = holder.pk if holder else None
        concerned = [holder.patient if holder else None, _match_patient(study.dicom_patient_id)[0]]
    seen = {p.pk: p for p in concerned if p is not None}
    for person in list(seen.values()) or [None]:
        AuditClient.log_event(
            action, actor=actor, resource_type="radiology_study", resource_id=study.pk,
            patient_id=person.emr_uuid if person else "", detail=detail,
        )  # fmt: skip


def _study_on_timeline(study: Study, title: str = "") -> None:
    timeline_record(
        patient=study.patient,
        kind=TimelineEvent.Kind.STUDY,
        occurred_at=_occurred_at(study),
        title=title or f"{study.modality or 'Imaging'} study: {study.description or study.study_instance_uid}",
        source_type="radiology.study",
        source_id=str(study.pk),
        detail={"series": study.number_of_series, "instances": study.number_of_instances},
    )


def _conflict_notified(study: Study) -> None:
    """Pushed to RIB users after commit; no names in the payload (the page fetches them, audited)."""
    staff = get_user_model().objects.filter(is_active=True, groups__name=Role.RIB).values_list("pk", flat=True)
    notify_users(staff, {"kind": "radiology_conflict", "study": study.pk,
                         "conflicting_with": study.conflicting_with_id})  # fmt: skip


# --- reconciliation: RIB links, unlinks or rejects ----------------------------------------------------
# The moves a RIB may make (new studies get their status from the identity rules). A rejected study's row
# is deleted, so REJECTED is never stored.
REJECTED = "REJECTED"
RECONCILIATION_MOVES = {
    Study.Status.RECONCILE: {Study.Status.LINKED},
    Study.Status.CONFLICT: {Study.Status.LINKED, REJECTED},
    Study.Status.LINKED: {Study.Status.RECONCILE},
}


@transaction.atomic
def study_link(*, actor, study: Study, patient: Patient, comment: str) -> Study:
    """RECONCILE or CONFLICT -> LINKED to `patient` (a conflict keeps its own series and leaves the UID to
    its holder). The FHIR ImagingStudy is (re)synced with this subject; AI requests are allowed again."""
    study = Study.objects.select_for_update().select_related("conflicting_with__patient").get(pk=study.pk)
    _check_move(study, Study.Status.LINKED)
    previous = study.status
    study.patient, study.status, study.reconciliation_reason = patient, Study.Status.LINKED, ""
    order = Order.objects.filter(accession_number=study.accession_number, patient=patient).first()
    study.order = order if study.accession_number else None
    study.save(update_fields=("patient", "status", "reconciliation_reason", "order", "updated_at"))
    _study_audited(study, action=Action.UPDATE, actor=actor,
                   detail={"reconciliation": "link", "from": previous, "comment": comment})  # fmt: skip
    _study_on_timeline(study)
    enqueue_task(FHIR_SYNC_TASK, "radiology.study", study.pk)
    study_changed.send(sender=Study, study=study)
    return study


@transaction.atomic
def study_unlink(*, actor, study: Study, comment: str) -> Study:
    """LINKED -> RECONCILE: the study no longer shows under its patient (their timeline entry says so)."""
    study = Study.objects.select_for_update().select_related("patient").get(pk=study.pk)
    _check_move(study, Study.Status.RECONCILE)
    patient = study.patient
    _study_on_timeline(study, title=f"Imaging study unlinked from this patient: {comment}")
    study.patient, study.order, study.status = None, None, Study.Status.RECONCILE
    study.reconciliation_reason = f"unlinked by {actor.get_username()}: {comment}"[:255]
    study.save(update_fields=("patient", "order", "status", "reconciliation_reason", "updated_at"))
    _study_audited(study, action=Action.UPDATE, actor=actor, patient=patient,
                   detail={"reconciliation": "unlink", "comment": comment})  # fmt: skip
    return study


def study_reject(*, actor, study: Study, comment: str) -> None:
    """A CONFLICT's images are not wanted: deleted from Orthanc, then the row (and its series)."""
    study = Study.objects.select_related("conflicting_with__patient").get(pk=study.pk)
    _check_move(study, REJECTED)
    try:
        get_orthanc_client().delete_study(study.orthanc_id)
    except ExternalNotFound:
        logger.info("study %s was already gone from Orthanc", study.orthanc_id)
    with transaction.atomic():
        detail = {"reconciliation": "reject", "comment": comment, "orthanc_id": study.orthanc_id}
        _study_audited(study, action=Action.DELETE, actor=actor, detail=detail)
        Study.objects.filter(pk=study.pk).delete()


def _check_move(study: Study, new: str) -> None:
    check_transition(_("study %(id)s") % {"id": study.pk}, study.status, new, RECONCILIATION_MOVES)


def _series_values(item: dict, orthanc, recorded_aes: dict[str, str]) -> dict:
    tags = item.get("MainDicomTags", {})
    instances = item.get("Instances", [])
    # Orthanc records the calling AE of a C-STORE per instance; a series comes from one modality, so a
    # series already recorded keeps its AE and only a new one costs a call to Orthanc
    if item["ID"] in recorded_aes:
        sending_ae = recorded_aes[item["ID"]]
    else:
        sending_ae = orthanc.instance_metadata(instances[0], "RemoteAET") if instances else ""
    try:
        number = int(tags.get("SeriesNumber", ""))
    except ValueError:
        number = None
    if number is not None and not -(2**31) <= number < 2**31:  # IS allows 12 digits; the column is 32-bit
        number = None
    description = tags.get("SeriesDescription") or ""
    return {
        "series_instance_uid": tags.get("SeriesInstanceUID", ""),
        "orthanc_id": item["ID"],
        "modality": (tags.get("Modality") or "")[:16],
        "series_number": number,
        "description": description[:255],
        "sequence_type": dicom.sequence_type(description, tags.get("ProtocolName", "")),
        "body_part": (tags.get("BodyPartExamined") or "").strip()[:64],
        "sending_ae": sending_ae[:16],
        "number_of_instances": len(instances),
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
            if int(page.get("Last", since)) < since:
                # Orthanc's log ends before the checkpoint: a new or restored Orthanc (its numbers start
                # again) beside a database that read another one. Waiting for its numbers to catch up would
                # miss every study until then; reading from the start repeats only upserts.
                logger.warning(
                    "Orthanc's change log ends at %s, before the checkpoint %s: reading it from 0", page["Last"], since
                )
                since = 0
                continue
            for change in page.get("Changes", []):
                if change.get("ChangeType") != "StableStudy":
                    continue
                try:
                    study_sync(orthanc_study_id=change["ID"], source=Study.Source.PACS)
                except ExternalNotFound:
                    logger.info("study %s was deleted from Orthanc before it could be imported", change["ID"])
                    continue
                except Unrecordable as exc:  # sent by a modality: kept in the PACS, recorded for the operators
                    _unrecorded(change["ID"], str(exc))
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


def stow_studies_imported(*, actor, study_uids: list[str]) -> tuple[list[Study], list[dict]]:
    """After a STOW-RS through the gateway: create or refresh the row of each study it stored. A study the
    CDSS cannot record is deleted from Orthanc again (it never had a row) and returned as refused."""
    orthanc = get_orthanc_client()
    studies, refused = [], []
    for uid in study_uids:
        for resource in orthanc.lookup(uid):
            if resource.get("Type") != "Study":
                continue
            try:
                studies.append(study_sync(orthanc_study_id=resource["ID"], source=Study.Source.STOW, actor=actor)[0])
            except Unrecordable as exc:
                try:
                    orthanc.delete_study(resource["ID"])
                except ExternalSystemError:
                    _unrecorded(resource["ID"], str(exc))
                refused.append({"study_instance_uid": uid, "reason": str(exc)})
    return studies, refused


def _unrecorded(orthanc_study_id: str, reason: str) -> None:
    logger.error("Orthanc study %s cannot be recorded: %s", orthanc_study_id, reason)
    AuditClient.log_event(
        Action.CREATE, resource_type="radiology_study", resource_id=orthanc_study_id, outcome=Outcome.FAILURE,
        detail={"reason": reason, "orthanc_id": orthanc_study_id},
    )  # fmt: skip


# --- images for the web UI: rendered by Orthanc on a miss, then kept in the thumbnails bucket --------------
def _cached_png(key: str, produce) -> bytes:
    """The PNG under `key` in the thumbnails bucket, produced (and stored) on a miss."""
    client = storage_client()
    bucket = settings.S3_BUCKETS["thumbnails"]
    try:
        response = client.get_object(bucket, key)
        try:
            return response.read()
        finally:
            response.close()
            response.release_conn()
    except S3Error as exc:
        if exc.code not in ("NoSuchKey", "NoSuchObject"):
            raise
    data = produce()
    client.put_object(bucket, key, io.BytesIO(data), len(data), content_type="image/png")
    return data


def series_thumbnail(*, user, study_pk: int, series_pk: int) -> bytes:
    """A PNG of the series' middle instance (Orthanc's preview), cached in object storage."""
    study = selectors.study_get(user=user, pk=study_pk)
    series = selectors.series_get(study=study, series_pk=series_pk)

    def produce() -> bytes:
        orthanc = get_orthanc_client()
        instances = orthanc.list_instances(series.orthanc_id)
        if not instances:
            raise NotFound(_("The series has no instances."))
        ordered = sorted(instances, key=lambda item: int(item.get("IndexInSeries") or 0))
        return orthanc.preview(ordered[len(ordered) // 2]["ID"])

    return _cached_png(f"series/{series.orthanc_id}/thumbnail.png", produce)


def rendered_frame(*, user, study_pk: int, series_pk: int, instance_id: str, frame: int) -> bytes:
    """One frame rendered to PNG by Orthanc, cached in object storage. The instance must be in the series."""
    study = selectors.study_get(user=user, pk=study_pk)
    series = selectors.series_get(study=study, series_pk=series_pk)

    def produce() -> bytes:
        orthanc = get_orthanc_client()
        if instance_id not in {item["ID"] for item in orthanc.list_instances(series.orthanc_id)}:
            raise NotFound(_("No instance %(id)s in this series.") % {"id": instance_id})
        return orthanc.rendered_frame(instance_id, frame)

    return _cached_png(f"series/{series.orthanc_id}/{instance_id}/frame-{frame}.png", produce)
