"""Writes to the patient cache and the timeline. The EMR remains the source of truth: reading it refreshes
the cache, so the EMR reads that return cached patients live here, not in the selectors."""

import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from audit.client import AuditClient
from audit.models import Action
from core import outbox
from core.messaging import names
from emr.clients.openemr_client import get_openemr_client

from .models import CacheRefreshState, Patient, TimelineEvent

logger = logging.getLogger(__name__)
CACHE_COLUMNS = ("emr_pid", "mrn", "family_name", "given_name", "birth_date", "sex", "record", "fetched_at")


@transaction.atomic
def patient_upsert_from_emr(record: dict) -> Patient:
    """Store one OpenEMR patient object (all values are strings there) in the cache; a new or changed
    patient is queued for FHIR sync in the same transaction (core.outbox)."""
    previous = Patient.objects.filter(emr_uuid=record["uuid"]).values_list("record", flat=True).first()
    patient, _ = Patient.objects.update_or_create(
        emr_uuid=record["uuid"],
        defaults={
            "emr_pid": str(record.get("pid") or ""),
            "mrn": record.get("pubpid") or "",
            "family_name": record.get("lname") or "",
            "given_name": record.get("fname") or "",
            "birth_date": parse_date(record.get("DOB")),
            "sex": record.get("sex") or "",
            "record": record,
            "fetched_at": timezone.now(),
        },
    )
    if previous != record:
        outbox.enqueue_task(names.FHIR_SYNC_TASK, "emr.patient", patient.pk)
    return patient


def patient_refresh(*, puuid: str) -> Patient:
    return patient_upsert_from_emr(get_openemr_client().get_patient(puuid))


def patient_fresh(*, puuid: str) -> Patient:
    """The cached patient while fresh (EMR_PATIENT_CACHE_TTL_SECONDS); a missing or stale one is re-read
    from the EMR first, which may answer 404 (ExternalNotFound) or be down."""
    patient = Patient.objects.filter(emr_uuid=puuid).first()
    fresh_after = timezone.now() - timedelta(seconds=settings.EMR_PATIENT_CACHE_TTL_SECONDS)
    if patient is None or patient.fetched_at < fresh_after:
        patient = patient_refresh(puuid=puuid)
    return patient


def patient_search_emr(*, user, family_name: str = "", given_name: str = "", limit: int = 50) -> list[Patient]:
    """Search the EMR itself (not the cache) and refresh the cache with what it returns; audited as a read."""
    fields = {name: value for name, value in (("lname", family_name), ("fname", given_name)) if value}
    records, _ = get_openemr_client().search_patients(limit=limit, **fields)
    AuditClient.log_event(Action.READ, actor=user, resource_type="patient_list", detail={"emr_search": fields})
    return [patient_upsert_from_emr(record) for record in records]


@transaction.atomic
def patients_store_page(records: list[dict]) -> int:
    """Store a page of OpenEMR patient objects in the cache with one bulk upsert (INSERT ... ON DUPLICATE
    KEY UPDATE on emr_uuid); the new or changed ones are queued for FHIR sync with one bulk insert into
    the outbox. Returns how many were new or changed."""
    if not records:
        return 0
    now = timezone.now()
    uuids = [record["uuid"] for record in records]
    previous = dict(Patient.objects.filter(emr_uuid__in=uuids).values_list("emr_uuid", "record"))
    rows = [
        Patient(
            emr_uuid=record["uuid"],
            emr_pid=str(record.get("pid") or ""),
            mrn=record.get("pubpid") or "",
            family_name=record.get("lname") or "",
            given_name=record.get("fname") or "",
            birth_date=parse_date(record.get("DOB")),
            sex=record.get("sex") or "",
            record=record,
            fetched_at=now,
        )
        for record in records
    ]
    Patient.objects.bulk_create(rows, update_conflicts=True, update_fields=CACHE_COLUMNS)
    changed = [record["uuid"] for record in records if previous.get(record["uuid"]) != record]
    if changed:
        pks = Patient.objects.filter(emr_uuid__in=changed).values_list("pk", flat=True)
        outbox.enqueue_tasks(names.FHIR_SYNC_TASK, [("emr.patient", pk) for pk in pks])
    return len(changed)


def patient_cache_refresh_all() -> int:
    """Re-read every EMR patient into the cache, a page at a time (the rare full pass). Returns how many
    were read."""
    count = 0
    for page in get_openemr_client().iter_patient_pages():
        patients_store_page(page)
        count += len(page)
    return count


def patient_cache_refresh_changed(since: datetime) -> int:
    """Re-read only the patients the EMR updated at or after `since` (FHIR `_lastUpdated`), a page at a
    time, each through the Standard API (the cache keeps its record shape). Returns how many were read."""
    client, count = get_openemr_client(), 0
    for uuids in client.iter_changed_patient_uuids(since):
        patients_store_page([client.get_patient(puuid) for puuid in uuids])
        count += len(uuids)
    return count


@dataclass
class RefreshResult:
    full: bool
    read: int
    changed_since: datetime | None


def patient_cache_refresh(*, full: bool | None = None) -> RefreshResult:
    """The periodic task: what changed since the high-water mark, or a full pass when there is no mark yet,
    the last one is older than EMR_FULL_REFRESH_INTERVAL_SECONDS, or `full` asks for one. The mark (this
    run's start less EMR_REFRESH_OVERLAP_SECONDS) is saved only after the run succeeded: a failure raises
    and the next run asks again from the old mark, so no change is missed."""
    started = timezone.now()
    state, _ = CacheRefreshState.objects.get_or_create(name="patients")
    full_due = state.last_full_at is None or state.last_full_at < started - timedelta(
        seconds=settings.EMR_FULL_REFRESH_INTERVAL_SECONDS
    )
    if full is None:
        full = state.changed_since is None or full_due
    since = state.changed_since
    read = patient_cache_refresh_all() if full else patient_cache_refresh_changed(since)
    state.changed_since = started - timedelta(seconds=settings.EMR_REFRESH_OVERLAP_SECONDS)
    if full:
        state.last_full_at = started
    state.save(update_fields=["changed_since", "last_full_at"])
    logger.info("patient cache refresh (%s): %d patients read", "full" if full else f"since {since}", read)
    return RefreshResult(full=full, read=read, changed_since=None if full else since)


@transaction.atomic
def timeline_record(
    *,
    patient: Patient,
    kind: str,
    occurred_at: datetime,
    title: str,
    source_type: str = "",
    source_id: str = "",
    detail: dict | None = None,
) -> TimelineEvent:
    """Add an event once: recording the same source again updates it instead of duplicating it."""
    event, _ = TimelineEvent.objects.update_or_create(
        patient=patient,
        kind=kind,
        source_type=source_type,
        source_id=source_id,
        defaults={"occurred_at": occurred_at, "title": title[:255], "detail": detail or {}},
    )
    return event


def timeline_record_encounters(*, patient: Patient, encounters: list[dict]) -> None:
    for encounter in encounters:
        when = _datetime(encounter.get("date"))
        if when is None:
            continue
        timeline_record(
            patient=patient,
            kind=TimelineEvent.Kind.ENCOUNTER,
            occurred_at=when,
            title=encounter.get("reason") or encounter.get("class_code") or "Encounter",
            source_type="encounter",
            source_id=str(encounter.get("uuid") or encounter.get("encounter") or ""),
            detail={key: encounter.get(key) for key in ("class_code", "facility", "provider_id") if encounter.get(key)},
        )


def parse_date(value: str | None) -> date | None:
    try:
        return date.fromisoformat(value[:10]) if value else None
    except ValueError:
        return None


def _datetime(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace(" ", "T"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else timezone.make_aware(parsed)
