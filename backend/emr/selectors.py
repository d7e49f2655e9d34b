"""Reads of patient data for clinical staff. Every read is audited with the patient it concerns;
the API checks the role before calling these (IsStaffRole)."""

from datetime import timedelta

from django.conf import settings
from django.db.models import Q, QuerySet
from django.utils import timezone

from audit.client import AuditClient
from audit.models import Action
from core.http import SystemUnavailable
from emr.clients.openemr_client import get_openemr_client

from .models import Patient, TimelineEvent
from .services import parse_date, patient_refresh, patient_upsert_from_emr, timeline_record_encounters


def _emr():
    if not settings.EMR_BASE_URL:
        raise SystemUnavailable("emr", "no EMR is configured (EMR_BASE_URL is empty)")
    return get_openemr_client()


def patient_list(*, user, query: str = "") -> QuerySet[Patient]:
    """Patients in the cache matching `query` (name, record number or birth date)."""
    patients = Patient.objects.all()
    for term in query.split():
        match = Q(family_name__icontains=term) | Q(given_name__icontains=term) | Q(mrn__iexact=term)
        match |= Q(emr_uuid__iexact=term)
        if (birth_date := parse_date(term)) is not None:
            match |= Q(birth_date=birth_date)
        patients = patients.filter(match)
    AuditClient.log_event(Action.READ, actor=user, resource_type="patient_list", detail={"query": query[:200]})
    return patients


def patient_search_emr(*, user, family_name: str = "", given_name: str = "", limit: int = 50) -> list[Patient]:
    """Search the EMR itself (not the cache) and refresh the cache with what it returns."""
    fields = {name: value for name, value in (("lname", family_name), ("fname", given_name)) if value}
    records, _ = _emr().search_patients(limit=limit, **fields)
    AuditClient.log_event(Action.READ, actor=user, resource_type="patient_list", detail={"emr_search": fields})
    return [patient_upsert_from_emr(record) for record in records]


def patient_get(*, user, puuid: str) -> Patient:
    """The cached patient while fresh; otherwise re-read from the EMR (which may answer 404 or be down)."""
    patient = Patient.objects.filter(emr_uuid=puuid).first()
    fresh_after = timezone.now() - timedelta(seconds=settings.EMR_PATIENT_CACHE_TTL_SECONDS)
    if patient is None or patient.fetched_at < fresh_after:
        _emr()
        patient = patient_refresh(puuid=puuid)
    AuditClient.log_event(Action.READ, actor=user, resource_type="patient", resource_id=puuid, patient_id=puuid)
    return patient


def patient_record_section(*, user, patient: Patient, section: str) -> list[dict]:
    """One section of the live EMR record (see emr.api.views.SECTIONS)."""
    emr = _emr()
    puuid = patient.emr_uuid
    if section == "encounters":
        rows = emr.encounters(puuid)
        timeline_record_encounters(patient=patient, encounters=rows)
    elif section == "problems":
        rows = emr.medical_problems(puuid)
    elif section == "medications":
        rows = emr.medications(patient.emr_pid, puuid)
    elif section == "prescriptions":
        rows = emr.prescriptions(patient.emr_pid, puuid)
    elif section == "allergies":
        rows = emr.allergies(puuid)
    elif section == "vitals":
        rows = []
        for encounter in emr.encounters(puuid)[:10]:  # the latest encounters carry the vitals that matter
            eid = str(encounter.get("encounter") or encounter.get("eid") or encounter.get("id") or "")
            rows += [{**vital, "encounter": eid} for vital in emr.vitals(patient.emr_pid, eid, puuid)] if eid else []
    else:
        raise ValueError(f"unknown record section {section!r}")
    AuditClient.log_event(
        Action.READ, actor=user, resource_type=f"patient_{section}", resource_id=puuid, patient_id=puuid
    )
    return rows


def patient_timeline(*, user, patient: Patient) -> QuerySet[TimelineEvent]:
    AuditClient.log_event(
        Action.READ,
        actor=user,
        resource_type="patient_timeline",
        resource_id=patient.emr_uuid,
        patient_id=patient.emr_uuid,
    )
    return patient.timeline.all()
