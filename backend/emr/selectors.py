"""Reads of patient data for clinical staff: they read the cache and the live EMR record and write
nothing but the audit trail (refreshing the cache is emr.services'). Every read is audited with the
patient it concerns; the API checks the role before calling these (IsStaffRole)."""

from django.db.models import Q, QuerySet

from audit.client import AuditClient
from audit.models import Action
from emr.clients.openemr_client import get_openemr_client

from .models import Patient, TimelineEvent
from .services import parse_date


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


def patient_get(*, user, puuid: str) -> Patient:
    """The cached patient; the caller brings a missing or stale one in first (services.patient_fresh)."""
    patient = Patient.objects.get(emr_uuid=puuid)
    AuditClient.log_event(Action.READ, actor=user, resource_type="patient", resource_id=puuid, patient_id=puuid)
    return patient


def patient_record_section(*, user, patient: Patient, section: str) -> list[dict]:
    """One section of the live EMR record (see emr.api.views.SECTIONS). The encounters read here are put
    on the timeline by the caller (services.timeline_record_encounters)."""
    emr = get_openemr_client()
    puuid = patient.emr_uuid
    if section == "encounters":
        rows = emr.encounters(puuid)
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
