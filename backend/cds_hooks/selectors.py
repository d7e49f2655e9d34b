"""What the hooks read: the CDSS patient behind a hook's FHIR patient id, and that patient's AI results
awaiting sign-off, tumour course, omics risk group and recent MR studies. Not audited here: the one
audited event of a call is written by services.hook_call, naming the patient and what was read."""

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone

from ai.course import Category, course
from ai.models import AIJob, AIResult
from ai.selectors import course_points
from emr.models import Patient
from fhir_sync.identifiers import SYSTEMS
from fhir_sync.models import FhirMapping
from radiology.models import Study

PENDING_LISTED = 5
PATIENT_ENTITY = "emr.patient"  # fhir_sync's entity type for emr.Patient (its FhirMapping rows)
STUDY_SYSTEM = SYSTEMS["ImagingStudy"]
# MR of the brain / head: LOINC (STANDARDS.md §2), and the brain's SNOMED CT code for bodySite.
BRAIN_MR_LOINC = frozenset({"24587-8", "30657-1", "24589-4", "24590-2"})
LOINC = "http://loinc.org"
BRAIN_SNOMED = "12738006"
DCM = "http://dicom.nema.org/resources/ontology/DCM"


def patient_for(fhir_patient_id: str, resource: Any) -> Patient | None:
    """The CDSS patient the EHR's Patient is: by the identifier the CDSS gives the patients it writes to FHIR
    (urn:cdss:fhir:patient, the EMR uuid), else by fhir_sync's record of the Patient it wrote under that id."""
    if isinstance(resource, dict) and resource.get("resourceType") == "Patient":
        for identifier in resource.get("identifier") or []:
            if (
                isinstance(identifier, dict)
                and identifier.get("system") == SYSTEMS["Patient"]
                and identifier.get("value")
            ):
                found = Patient.objects.filter(emr_uuid=str(identifier["value"])).first()
                if found is not None:
                    return found
    mapping = (
        FhirMapping.objects.filter(entity_type=PATIENT_ENTITY, resource_type="Patient", fhir_id=fhir_patient_id)
        .only("entity_id")
        .first()
    )
    if mapping is None:
        return None
    return Patient.objects.filter(pk=mapping.entity_id).first()


# --- patient-view ---------------------------------------------------------------------------------------------
def pending_sign_offs(patient: Patient) -> tuple[int, list[AIResult]]:
    results = AIResult.objects.awaiting_sign_off().filter(job__patient=patient)
    listed = list(results.order_by("created_at", "id")[:PENDING_LISTED])
    count = len(listed) if len(listed) < PENDING_LISTED else results.count()
    return count, listed


@dataclass(frozen=True)
class VolumeChange:
    label: str
    direction: str  # "increase" (from the nadir) or "decrease" (from the baseline)
    percent: float
    row: dict  # the label's course row at the latest study (ai.course.label_course)


def volume_changes(patient: Patient) -> list[VolumeChange]:
    """Labels whose volume at their latest signed study changed past CDS_HOOKS_VOLUME_CHANGE_PERCENT: up from
    the nadir, or down from the baseline (ai.course's references for progression and response)."""
    points, _undated = course_points(patient.pk)
    threshold = settings.CDS_HOOKS_VOLUME_CHANGE_PERCENT
    changes = []
    for label, rows in course(points)["labels"].items():
        latest = rows[-1]
        if latest["category"] == Category.BASELINE:
            continue
        from_nadir, from_baseline = latest["change_from_nadir_percent"], latest["change_from_baseline_percent"]
        if from_nadir is not None and from_nadir >= threshold:
            changes.append(VolumeChange(label, "increase", from_nadir, latest))
        elif from_baseline is not None and from_baseline <= -threshold:
            changes.append(VolumeChange(label, "decrease", from_baseline, latest))
    return changes


def latest_omics(patient: Patient) -> AIResult | None:
    """The patient's newest omics risk result that radiology did not reject and that names a risk group."""
    result = (
        AIResult.objects.filter(job__patient=patient, job__task=AIJob.Task.OMICS_RISK)
        .exclude(status=AIResult.Status.CANCELLED)
        .order_by("-created_at", "-id")
        .first()
    )
    if result is None or not (result.raw_metrics or {}).get("risk_group"):
        return None
    return result


# --- order-select / order-sign ----------------------------------------------------------------------------------
def _codings(concept: Any) -> list[dict]:
    return [c for c in (concept or {}).get("coding") or [] if isinstance(c, dict)] if isinstance(concept, dict) else []


def is_brain_mr_order(resource: dict) -> bool:
    """A ServiceRequest for an MR of the brain: coded with one of the LOINC brain MR codes, or (uncoded) its
    text naming MR and brain or head."""
    if resource.get("resourceType") != "ServiceRequest":
        return False
    code = resource.get("code") or {}
    if any(c.get("system") == LOINC and c.get("code") in BRAIN_MR_LOINC for c in _codings(code)):
        return True
    words = " ".join([str(code.get("text") or ""), *(str(c.get("display") or "") for c in _codings(code))]).lower()
    return ("mr" in words.split() or "mri" in words or "magnetic resonance" in words) and (
        "brain" in words or "head" in words
    )


@dataclass(frozen=True)
class PriorStudy:
    when: date
    description: str
    source: str  # "cdss" (a study the CDSS holds) or "fhir" (the EHR's ImagingStudy)
    study_id: int | None = None  # the CDSS study, for a link into the web UI
    reference: str = ""  # ImagingStudy/<id> on the FHIR server


def recent_brain_mr(patient: Patient | None, resources: list[dict]) -> list[PriorStudy]:
    """MR studies of the brain within CDS_HOOKS_RECENT_IMAGING_DAYS, newest first: the CDSS's own (every
    study the CDSS holds is a brain MR pipeline's input, so any MR) and the FHIR server's ImagingStudies
    of the brain (an ImagingStudy the CDSS wrote itself counts once)."""
    since = timezone.localdate() - timedelta(days=settings.CDS_HOOKS_RECENT_IMAGING_DAYS)
    found: list[PriorStudy] = []
    ours: set[str] = set()
    if patient is not None:
        studies = Study.objects.filter(
            patient=patient, status=Study.Status.LINKED, modality__contains="MR", study_date__gte=since
        ).order_by("-study_date", "-id")[:20]
        for study in studies:
            ours.add(str(study.pk))
            found.append(PriorStudy(study.study_date, study.description, "cdss", study_id=study.pk))
    for resource in resources:
        values = {i.get("value") for i in resource.get("identifier") or [] if i.get("system") == STUDY_SYSTEM}
        if values & ours or not _brain_mr_study(resource):
            continue
        started = _date(resource.get("started"))
        if started is None or started < since:
            continue
        found.append(
            PriorStudy(
                started, str(resource.get("description") or ""), "fhir", reference=f"ImagingStudy/{resource.get('id')}"
            )
        )
    return sorted(found, key=lambda prior: prior.when, reverse=True)


def _brain_mr_study(resource: dict) -> bool:
    if resource.get("status") in ("cancelled", "entered-in-error"):
        return False
    modalities = [c for c in resource.get("modality") or [] if isinstance(c, dict)]
    modalities += [s.get("modality") or {} for s in resource.get("series") or [] if isinstance(s, dict)]
    if not any(m.get("code") == "MR" for m in modalities):
        return False
    procedures = [c for concept in resource.get("procedureCode") or [] for c in _codings(concept)]
    if any(c.get("system") == LOINC and c.get("code") in BRAIN_MR_LOINC for c in procedures):
        return True
    sites = [s.get("bodySite") or {} for s in resource.get("series") or [] if isinstance(s, dict)]
    if any(site.get("code") == BRAIN_SNOMED for site in sites):
        return True
    text = str(resource.get("description") or "").lower()
    return "brain" in text or "head" in text


def _date(value: Any) -> date | None:
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError:
        return None
