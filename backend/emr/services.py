"""Writes to the patient cache and the timeline. The EMR remains the source of truth."""

from datetime import date, datetime

from django.db import transaction
from django.utils import timezone

from core import outbox
from emr.clients.openemr_client import get_openemr_client

from .models import Patient, TimelineEvent


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
        outbox.enqueue_task("fhir_sync.sync_entity", "emr.patient", patient.pk)
    return patient


def patient_refresh(*, puuid: str) -> Patient:
    return patient_upsert_from_emr(get_openemr_client().get_patient(puuid))


def patient_cache_refresh_all() -> int:
    """Re-read every EMR patient into the cache (the periodic task). Returns how many were stored."""
    count = 0
    for record in get_openemr_client().iter_patients():
        patient_upsert_from_emr(record)
        count += 1
    return count


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
