"""CDSS entities -> FHIR R4 resources: one pure function per resource, and the registry of entity types.

A transform takes the entity (a model instance, or anything with the same attributes) and `ref`, a
function that turns one of our entities into a FHIR Reference to the resource already written for it.
It returns a fhirclient R4 model; building it validates it (FHIRValidationError on a bad value or a
missing required element), and `as_json()` validates again before anything is sent. Coded elements use
standard code systems (docs/messaging.md, "Codes"); the few local codes are under the documented
`urn:cdss:` systems of LOCAL_CODE_SYSTEMS.

Entity types and the fields their transforms read (the models of radiology and ai are written by
other issues; until a model exists its entity type is registered but fails with a clear reason):

    emr.patient      emr.Patient: emr_uuid, family_name, given_name, birth_date, sex, mrn
    radiology.order  radiology.Order: pk, patient_id, status, modality, body_part, reason, requested_at (or
                     created_at), requested_by (or ordered_by)
    radiology.study  radiology.Study: pk, patient_id (a study not linked to a patient is refused),
                     order_id (or None), study_instance_uid, started_at (or study_date), description,
                     series (each: series_instance_uid, modality, body_part, number (or series_number),
                     description, instances (each: sop_instance_uid, sop_class_uid, number) or
                     number_of_instances)
    ai.result        ai.Result: pk, patient_id, study_id, order_id (or None), status, model_name,
                     model_version, metrics ({name: number} or {name: {"value", "unit"}}), conclusion,
                     created_at; optional report_status (e.g. "amended") and amended_at
    ai.observation   one metric of an ai.result, id "<result pk>:<metric name>" (written before the report)
    ai.course        one figure of a patient's tumour course (ai.course.figures), id "<result pk>:<kind>:<label>":
                     the label's volume, its change from baseline or nadir, or the response category, dated
                     by the study
    board.report     board.BoardReport: pk, patient_id, language, pdf (bytes), sha256, pending_signoffs, title,
                     created_at, created_by
    audit.event      audit.AuditEvent
"""

import base64
import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from django.apps import apps
from django.utils import translation
from fhirclient.models.fhirabstractresource import FHIRAbstractResource
from fhirclient.models.fhirelementfactory import FHIRElementFactory

from .identifiers import DICOM_UID_SYSTEM, SYSTEMS, USER_SYSTEM

Ref = Callable[[str, Any], dict]  # ref(entity_type, entity_id) -> {"reference": "Patient/123"}


class TransformError(Exception):
    """The entity cannot become a valid resource (a missing model, a value FHIR refuses): not retried."""


def build(resource_type: str, body: dict) -> FHIRAbstractResource:
    """The fhirclient model for `body`; invalid content raises TransformError with the model's reason."""
    try:
        resource = FHIRElementFactory.instantiate(resource_type, {"resourceType": resource_type, **body})
        resource.as_json()  # also checks the required elements
    except Exception as exc:  # FHIRValidationError and the TypeErrors fhirclient raises for wrong types
        raise TransformError(f"{resource_type} is not valid R4: {exc}") from exc
    return resource


def _instant(value: datetime | date | None) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds")
    return value.isoformat()


def _items(value: Any) -> list:
    """A related manager, a queryset or a plain list, as a list."""
    if value is None:
        return []
    if hasattr(value, "all"):
        return list(value.all())
    return list(value)


def _identifier(resource_type: str, value: Any) -> dict:
    return {"system": SYSTEMS[resource_type], "value": str(value)}


def _user(user: Any) -> dict | None:
    """An identifier-only reference to a person: HAPI checks literal references (HAPI-1094), people are
    not resources on the FHIR server."""
    if user is None:
        return None
    name = user if isinstance(user, str) else getattr(user, "username", "") or str(user)
    return {"identifier": {"system": USER_SYSTEM, "value": name}, "display": name}


def _clean(body: dict) -> dict:
    return {key: value for key, value in body.items() if value not in (None, "", [], {})}


# --- code systems (docs/messaging.md, "Codes": each code with its source) -------------------------------
SNOMED = "http://snomed.info/sct"
LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
DCM = "http://dicom.nema.org/resources/ontology/DCM"
V2_0074 = "http://terminology.hl7.org/CodeSystem/v2-0074"  # diagnostic service section
OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
RESTFUL_INTERACTION = "http://hl7.org/fhir/restful-interaction"
AI_METRIC_SYSTEM = "urn:cdss:ai-metric"  # our CodeSystem: the ai-server's metric names (no standard code)
COURSE_SYSTEM = "urn:cdss:tumour-course"  # our CodeSystem: the changes and the category values (no standard code)
AUDIT_ACTION_SYSTEM = "urn:cdss:audit-action"  # our audit actions (LOGIN, EXPORT...) that FHIR has no code for
LOCAL_CODE_SYSTEMS = frozenset({AI_METRIC_SYSTEM, COURSE_SYSTEM, AUDIT_ACTION_SYSTEM})

IMAGING_CATEGORY = {"coding": [{"system": OBSERVATION_CATEGORY, "code": "imaging", "display": "Imaging"}]}
BRAIN = {"coding": [{"system": SNOMED, "code": "12738006", "display": "Brain structure"}]}
BODY_SITES = {"BRAIN": BRAIN["coding"][0]}  # DICOM BodyPartExamined (CID 4) -> SNOMED CT; others: none
# (modality, BodyPartExamined) -> the LOINC/RSNA radiology playbook procedure; contrast is not recorded in
# the order, so the "unspecified contrast" term. Other pairs are sent as text only (no code confirmed).
PROCEDURES = {("MR", "BRAIN"): {"system": LOINC, "code": "24590-2", "display": "MR Brain"}}
UCUM_UNITS = {"mL", "mm", "mm3", "%", "s"}  # the metric units ai.observations guesses, all valid UCUM codes


def procedure_code(modality: str | None, body_part: str | None) -> dict | None:
    """The LOINC coding of an imaging procedure, or None when we know no code for it."""
    return PROCEDURES.get(((modality or "").strip().upper(), (body_part or "").strip().upper()))


# --- Patient ---------------------------------------------------------------------------------------------
GENDERS = {"male": "male", "m": "male", "female": "female", "f": "female", "other": "other"}


def patient(p: Any, ref: Ref | None = None) -> FHIRAbstractResource:
    name = _clean({"family": p.family_name or None, "given": [p.given_name] if p.given_name else None})
    return build(
        "Patient",
        _clean(
            {
                "identifier": [_identifier("Patient", p.emr_uuid)],
                "name": [name] if name else None,
                "gender": GENDERS.get((p.sex or "").strip().lower(), "unknown"),
                "birthDate": _instant(p.birth_date),
            }
        ),
    )


# --- ServiceRequest (a radiology order) ------------------------------------------------------------------
ORDER_STATUS = {
    "draft": "draft",
    "requested": "active",
    "scheduled": "active",
    "in_progress": "active",
    "active": "active",
    "on_hold": "on-hold",
    "completed": "completed",
    "cancelled": "revoked",
    "canceled": "revoked",
    "entered_in_error": "entered-in-error",
}


def service_request(order: Any, ref: Ref) -> FHIRAbstractResource:
    status = ORDER_STATUS.get(str(getattr(order, "status", "") or "").lower(), "unknown")
    modality, body_part = getattr(order, "modality", ""), getattr(order, "body_part", "")
    procedure = procedure_code(modality, body_part)
    code = _clean(
        {
            "coding": [procedure] if procedure else None,
            "text": " ".join(filter(None, [modality, body_part])) or None,
        }
    )
    site = BODY_SITES.get((body_part or "").strip().upper())
    reason = getattr(order, "reason", "")
    return build(
        "ServiceRequest",
        _clean(
            {
                "identifier": [_identifier("ServiceRequest", order.pk)],
                "status": status,
                "intent": "order",
                # SNOMED CT 363679005 "Imaging": the R4 servicerequest-category example value set
                "category": [{"coding": [{"system": SNOMED, "code": "363679005", "display": "Imaging"}]}],
                "code": code or None,
                "bodySite": [{"coding": [site]}] if site else None,
                "subject": ref("emr.patient", order.patient_id),
                "authoredOn": _instant(getattr(order, "requested_at", None) or getattr(order, "created_at", None)),
                "requester": _user(getattr(order, "requested_by", None) or getattr(order, "ordered_by", None)),
                "reasonCode": [{"text": reason}] if reason else None,
            }
        ),
    )


# --- ImagingStudy ----------------------------------------------------------------------------------------


def imaging_study(study: Any, ref: Ref) -> FHIRAbstractResource:
    series = []
    instances_total = 0
    modalities: list[str] = []
    procedures: list[dict] = []
    for s in _items(getattr(study, "series", None)):
        instances = [
            _clean(
                {
                    "uid": i.sop_instance_uid,
                    "sopClass": {"system": "urn:ietf:rfc:3986", "code": f"urn:oid:{i.sop_class_uid}"},
                    "number": getattr(i, "number", None),
                }
            )
            for i in _items(getattr(s, "instances", None))
        ]
        count = len(instances) or getattr(s, "number_of_instances", 0) or 0
        instances_total += count
        if s.modality and s.modality not in modalities:
            modalities.append(s.modality)
        body_part = getattr(s, "body_part", "") or ""
        procedure = procedure_code(s.modality, body_part)
        if procedure and procedure not in procedures:
            procedures.append(procedure)
        site = BODY_SITES.get(body_part.strip().upper())
        series.append(
            _clean(
                {
                    "uid": s.series_instance_uid,
                    "number": getattr(s, "number", None) or getattr(s, "series_number", None),
                    "modality": {"system": DCM, "code": s.modality or "OT"},
                    "description": getattr(s, "description", "") or None,
                    "bodySite": site,
                    "numberOfInstances": count,
                    "instance": instances,
                }
            )
        )
    order_id = getattr(study, "order_id", None)
    if not getattr(study, "patient_id", None):
        raise TransformError(f"study {study.pk} is not linked to a patient yet (ImagingStudy.subject is required)")
    return build(
        "ImagingStudy",
        _clean(
            {
                "identifier": [
                    _identifier("ImagingStudy", study.pk),
                    {"system": DICOM_UID_SYSTEM, "value": f"urn:oid:{study.study_instance_uid}"},
                ],
                "status": "available" if series else "registered",
                "subject": ref("emr.patient", study.patient_id),
                "basedOn": [ref("radiology.order", order_id)] if order_id else None,
                "started": _instant(getattr(study, "started_at", None) or getattr(study, "study_date", None)),
                "description": getattr(study, "description", "") or None,
                "modality": [{"system": DCM, "code": m} for m in modalities] or None,
                "procedureCode": [{"coding": [p]} for p in procedures] or None,
                "numberOfSeries": len(series),
                "numberOfInstances": instances_total,
                "series": series or None,
            }
        ),
    )


# --- DiagnosticReport + Observation (AI results) ---------------------------------------------------------
REPORT_STATUS = {
    "preliminary": "preliminary",
    "final": "final",
    "amended": "amended",
    "corrected": "corrected",
    "cancelled": "cancelled",
    "entered_in_error": "entered-in-error",
}
# LOINC 18748-4 "Diagnostic imaging study": no AI-specific LOINC exists (STANDARDS.md §2)
AI_CODE = {
    "coding": [{"system": LOINC, "code": "18748-4", "display": "Diagnostic imaging study"}],
    "text": "CDSS AI analysis",
}
# a result without a study (an omics risk score from an expression profile): the genomics pattern, LOINC 51969-4
# "Genetic analysis report" in section GE (HL7 Genomics Reporting IG, MII molecular genetics profile)
OMICS_CODE = {
    "coding": [{"system": LOINC, "code": "51969-4", "display": "Genetic analysis report"}],
    "text": "CDSS AI analysis",
}
LABORATORY_CATEGORY = {"coding": [{"system": OBSERVATION_CATEGORY, "code": "laboratory", "display": "Laboratory"}]}
# metrics that are a lesion volume in mL: SNOMED CT 118565006 "Volume" beside our metric code
VOLUME = {"system": SNOMED, "code": "118565006", "display": "Volume"}


def _report_status(result: Any) -> str:
    return REPORT_STATUS.get(str(getattr(result, "status", "") or "").lower(), "preliminary")


def metric_names(result: Any) -> list[str]:
    return sorted((getattr(result, "metrics", None) or {}).keys())


def observation(result: Any, metric: str, ref: Ref) -> FHIRAbstractResource:
    raw = (result.metrics or {})[metric]
    model = f"{getattr(result, 'model_name', '')} {getattr(result, 'model_version', '')}".strip()
    value, unit = (raw.get("value"), raw.get("unit", "")) if isinstance(raw, dict) else (raw, "")
    if isinstance(value, bool) or not isinstance(value, int | float):
        value_part = {"valueString": str(value)}
    else:
        coded = {"system": UCUM, "code": unit} if unit in UCUM_UNITS else {}
        quantity = _clean({"value": float(value), "unit": unit or None, **coded})
        value_part = {"valueQuantity": quantity}
    coding = [{"system": AI_METRIC_SYSTEM, "code": metric, "display": metric}]
    if "volume" in metric.lower() and unit == "mL":
        coding.insert(0, VOLUME)
    return build(
        "Observation",
        _clean(
            {
                "identifier": [_identifier("Observation", f"{result.pk}-{metric}")],
                "status": _report_status(result),
                "category": [IMAGING_CATEGORY if getattr(result, "study_id", None) else LABORATORY_CATEGORY],
                "code": {"coding": coding, "text": metric},
                "subject": ref("emr.patient", result.patient_id),
                "method": {"text": model} if model else None,
                "effectiveDateTime": _instant(getattr(result, "created_at", None)),
                **value_part,
            }
        ),
    )


def diagnostic_report(result: Any, ref: Ref) -> FHIRAbstractResource:
    # `report_status` when the entity has it: an amended result is still FINAL to us, `amended` to FHIR
    status = REPORT_STATUS.get(str(getattr(result, "report_status", "") or "").lower()) or _report_status(result)
    study_id = getattr(result, "study_id", None)
    order_id = getattr(result, "order_id", None)
    model = f"{getattr(result, 'model_name', '')} {getattr(result, 'model_version', '')}".strip()
    return build(
        "DiagnosticReport",
        _clean(
            {
                "identifier": [_identifier("DiagnosticReport", result.pk)],
                "status": status,
                "category": [
                    {"coding": [{"system": V2_0074, "code": "RAD", "display": "Radiology"}]}
                    if study_id
                    else {"coding": [{"system": V2_0074, "code": "GE", "display": "Genetics"}]}
                ],
                "code": AI_CODE if study_id else OMICS_CODE,
                "subject": ref("emr.patient", result.patient_id),
                "basedOn": [ref("radiology.order", order_id)] if order_id else None,
                "imagingStudy": [ref("radiology.study", study_id)] if study_id else None,
                # when this version was made (STANDARDS.md §3): the amendment, else the result
                "issued": _instant(getattr(result, "amended_at", None) or getattr(result, "created_at", None)),
                "result": [ref("ai.observation", f"{result.pk}:{name}") for name in metric_names(result)] or None,
                "conclusion": " ".join(
                    filter(None, [getattr(result, "conclusion", "") or "", f"({model})" if model else ""])
                )
                or None,
            }
        ),
    )


# --- the tumour course (docs/ai.md, "Tumour course"; codes from STANDARDS.md §2) --------------------------------
COURSE_CODES = {
    "volume": {"system": SNOMED, "code": "118565006", "display": "Volume"},
    "baseline": {
        "system": COURSE_SYSTEM,
        "code": "volume-change-from-baseline",
        "display": "Volume change from baseline",
    },
    "nadir": {"system": COURSE_SYSTEM, "code": "volume-change-from-nadir", "display": "Volume change from nadir"},
    # mCODE's CancerDiseaseStatus code; the value is ours (CR/PR/SD/PD have no standard codes)
    "response": {"system": LOINC, "code": "97509-4", "display": "Cancer disease progression"},
}


@dataclass(frozen=True)
class CourseFigure:
    """One figure of a patient's tumour course: the entity behind a course Observation."""

    result: Any
    kind: str
    label: str
    row: dict
    aid: str  # "volumetric, RANO-style aid; not a RANO assessment"
    source: str  # the thresholds' source

    @property
    def pk(self) -> str:
        return f"{self.result.pk}:{self.kind}:{self.label}"

    @property
    def patient_id(self) -> Any:
        return self.result.patient_id


def _load_course_figure(spec: "EntitySpec", entity_id: str) -> CourseFigure | None:
    """The figure as the patient's course has it now, or None when it is no longer part of it (the result
    is not signed any more, or a later signed result of its study took its place)."""
    from ai import course, selectors  # here, not at the top: the ai app's models load after this module

    result = REGISTRY["ai.result"].load(entity_id.split(":", 1)[0])
    if result is None:
        return None
    with translation.override("en"):  # FHIR resources are written in English, whoever asked
        found = course.figures(selectors.patient_course(result.patient_id))
        aid = str(course.AID_LABEL)
    for figure_id, kind, label, row in found:
        if figure_id == entity_id:
            return CourseFigure(result, kind, label, row, aid, course.SOURCE)
    return None


def _course_deps(figure: CourseFigure) -> list[tuple[str, Any]]:
    deps = [*_patient_dep(figure), ("radiology.study", figure.row["study_id"])]
    if figure.kind != "volume":
        deps.append(("ai.course", f"{figure.result.pk}:volume:{figure.label}"))
    return deps


def _percent(value: float) -> dict:
    return {"value": value, "unit": "%", "system": UCUM, "code": "%"}


def course_observation(figure: CourseFigure, ref: Ref) -> FHIRAbstractResource:
    row, label, kind = figure.row, figure.label, figure.kind
    model = f"{getattr(figure.result, 'model_name', '')} {getattr(figure.result, 'model_version', '')}".strip()
    body: dict[str, Any] = {
        "identifier": [_identifier("Observation", f"{figure.result.pk}-course-{kind}-{label}")],
        "status": _report_status(figure.result),
        "category": [IMAGING_CATEGORY],
        "code": {"coding": [COURSE_CODES[kind]], "text": f"{COURSE_CODES[kind]['display']}: {label}"},
        "subject": ref("emr.patient", figure.patient_id),
        "effectiveDateTime": row["study_date"],  # when the images were taken, not when the AI ran
        "bodySite": BRAIN,
        "derivedFrom": [ref("radiology.study", row["study_id"])],
    }
    if kind == "volume":
        body["valueQuantity"] = {"value": row["volume_ml"], "unit": "mL", "system": UCUM, "code": "mL"}
        body["method"] = {"text": f"Volume from voxel summation (IBSI YEKZ) of an AI segmentation, {model}"}
    else:
        body["derivedFrom"].append(ref("ai.course", f"{figure.result.pk}:volume:{label}"))
        if kind == "baseline":
            body["valueQuantity"] = _percent(row["change_from_baseline_percent"])
            body["note"] = [{"text": f"Baseline {row['baseline_ml']} mL."}]
        elif kind == "nadir":
            body["valueQuantity"] = _percent(row["change_from_nadir_percent"])
            body["note"] = [{"text": f"Nadir before this study {row['nadir_ml']} mL."}]
        else:
            body["code"]["coding"].append(
                {"system": COURSE_SYSTEM, "code": "volumetric-response", "display": "Volumetric response category"}
            )
            body["valueCodeableConcept"] = {
                "coding": [{"system": COURSE_SYSTEM, "code": row["category"], "display": row["category_display"]}],
                "text": f"{row['category_display']} ({figure.aid})",
            }
            body["note"] = [{"text": f"{figure.aid}. Thresholds: {figure.source}"}]
    return build("Observation", _clean(body))


# --- DiagnosticReport (a tumour-board summary, the PDF in presentedForm) ----------------------------------
# LOINC 85232-7 "Tumor board Consult note" (document ontology: kind Consultation note, method Tumor board)
BOARD_CODE = {
    "coding": [{"system": LOINC, "code": "85232-7", "display": "Tumor board Consult note"}],
    "text": "Tumour board summary",
}


def board_report_identifier(report: Any) -> str:
    """Not a bare number: the AI results' reports use the same identifier system with their primary keys."""
    return f"board-{report.pk}"


def board_report(report: Any, ref: Ref) -> FHIRAbstractResource:
    data = bytes(report.pdf)
    return build(
        "DiagnosticReport",
        _clean(
            {
                "identifier": [_identifier("DiagnosticReport", board_report_identifier(report))],
                # partial: some of the results it summarises still wait for radiology sign-off
                "status": "partial" if getattr(report, "pending_signoffs", 0) else "final",
                "category": [{"text": "tumour board"}],
                "code": BOARD_CODE,
                "subject": ref("emr.patient", report.patient_id),
                "issued": _instant(getattr(report, "created_at", None)),
                "performer": [_user(getattr(report, "created_by", None))]
                if getattr(report, "created_by", None)
                else None,
                "presentedForm": [
                    {
                        "contentType": "application/pdf",
                        "language": report.language,
                        "data": base64.b64encode(data).decode("ascii"),
                        "size": len(data),
                        "hash": base64.b64encode(hashlib.sha1(data).digest()).decode("ascii"),  # noqa: S324 (R4 says SHA-1)
                        "title": getattr(report, "title", "") or "Tumour board summary",
                        "creation": _instant(getattr(report, "created_at", None)),
                    }
                ],
            }
        ),
    )


# --- AuditEvent ------------------------------------------------------------------------------------------
AUDIT_ACTIONS = {"CREATE": "C", "READ": "R", "EXPORT": "R", "UPDATE": "U", "DELETE": "D"}
AUDIT_OUTCOMES = {"SUCCESS": "0", "DENIED": "4", "FAILURE": "8"}
# R4: an AuditEvent of type `rest` has a restful-interaction subtype; our other actions keep a local code
AUDIT_INTERACTIONS = {"CREATE": "create", "READ": "read", "UPDATE": "update", "DELETE": "delete"}


def _audit_subtype(action: str) -> dict:
    if action in AUDIT_INTERACTIONS:
        return {"system": RESTFUL_INTERACTION, "code": AUDIT_INTERACTIONS[action]}
    return {"system": AUDIT_ACTION_SYSTEM, "code": action}


def audit_event_id(pk: Any) -> str:
    """Client-assigned id (R4 AuditEvent has no identifier): PUT to it is idempotent; not all digits
    (HAPI's ALPHANUMERIC client-id strategy)."""
    return f"cdss-audit-{pk}"


def audit_event(event: Any, ref: Ref | None = None) -> FHIRAbstractResource:
    who = event.actor_username or event.actor_type
    entities = []
    if event.patient_id:
        entities.append({"what": {"identifier": _identifier("Patient", event.patient_id)}, "name": "patient"})
    if event.resource_type:
        entities.append(
            _clean(
                {
                    "what": {
                        "identifier": {"system": f"urn:cdss:{event.resource_type}", "value": str(event.resource_id)}
                    }
                    if event.resource_id
                    else None,
                    "name": event.resource_type,
                }
            )
        )
    resource = build(
        "AuditEvent",
        _clean(
            {
                "id": audit_event_id(event.pk),
                "type": {
                    "system": "http://terminology.hl7.org/CodeSystem/audit-event-type",
                    "code": "rest",
                    "display": "RESTful Operation",
                },
                "subtype": [_audit_subtype(str(event.action))],
                "action": AUDIT_ACTIONS.get(str(event.action), "E"),
                "recorded": _instant(event.occurred_at),
                "outcome": AUDIT_OUTCOMES.get(str(event.outcome), "8"),
                "agent": [
                    _clean(
                        {
                            "requestor": True,
                            "who": {"identifier": {"system": USER_SYSTEM, "value": who}, "display": who},
                            "network": {"address": event.source_ip, "type": "2"} if event.source_ip else None,
                        }
                    )
                ],
                "source": {"observer": {"display": "cdss-backend"}, "site": "cdss"},
                "entity": entities or None,
            }
        ),
    )
    return resource


# --- the registry ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class EntitySpec:
    entity_type: str
    resource_type: str
    model_label: str  # "app_label.ModelName"
    transform: Callable[[Any, Ref], FHIRAbstractResource]
    dependencies: Callable[[Any], Iterable[tuple[str, Any]]] = lambda obj: ()
    identifier_value: Callable[[Any], str] = lambda obj: str(obj.pk)
    client_id: Callable[[Any], str] | None = None  # written by PUT to this id instead of a conditional create
    loader: Callable[["EntitySpec", str], Any] | None = None  # custom loading (entities that are not rows)
    extra: dict = field(default_factory=dict)

    def model(self):
        return apps.get_model(self.model_label)

    def load(self, entity_id: Any) -> Any:
        """The entity, or None when its row is gone."""
        if self.loader is not None:
            return self.loader(self, str(entity_id))
        model = self.model()
        return model._default_manager.filter(pk=entity_id).first()


def _patient_dep(obj: Any) -> list[tuple[str, Any]]:
    return [("emr.patient", obj.patient_id)] if getattr(obj, "patient_id", None) else []


def _study_deps(study: Any) -> list[tuple[str, Any]]:
    deps = _patient_dep(study)
    if getattr(study, "order_id", None):
        deps.append(("radiology.order", study.order_id))
    return deps


def _result_deps(result: Any) -> list[tuple[str, Any]]:
    deps = _patient_dep(result)
    if getattr(result, "order_id", None):
        deps.append(("radiology.order", result.order_id))
    if getattr(result, "study_id", None):
        deps.append(("radiology.study", result.study_id))
    deps += [("ai.observation", f"{result.pk}:{name}") for name in metric_names(result)]
    return deps


@dataclass(frozen=True)
class Metric:
    """One metric of an AI result, the entity behind an Observation."""

    result: Any
    name: str

    @property
    def pk(self) -> str:
        return f"{self.result.pk}:{self.name}"

    @property
    def patient_id(self) -> Any:
        return self.result.patient_id


def _load_metric(spec: EntitySpec, entity_id: str) -> Metric | None:
    result_id, _, name = entity_id.partition(":")
    result = REGISTRY["ai.result"].load(result_id)
    if result is None or name not in (result.metrics or {}):
        return None
    return Metric(result, name)


REGISTRY: dict[str, EntitySpec] = {
    spec.entity_type: spec
    for spec in (
        EntitySpec("emr.patient", "Patient", "emr.Patient", patient, identifier_value=lambda p: str(p.emr_uuid)),
        EntitySpec(
            "radiology.order",
            "ServiceRequest",
            "radiology.Order",
            service_request,
            dependencies=_patient_dep,
        ),
        EntitySpec(
            "radiology.study",
            "ImagingStudy",
            "radiology.Study",
            imaging_study,
            dependencies=_study_deps,
        ),
        EntitySpec(
            "ai.observation",
            "Observation",
            "ai.AIResult",
            lambda metric, ref: observation(metric.result, metric.name, ref),
            dependencies=_patient_dep,
            identifier_value=lambda metric: f"{metric.result.pk}-{metric.name}",
            loader=_load_metric,
        ),
        EntitySpec(
            "ai.course",
            "Observation",
            "ai.AIResult",
            course_observation,
            dependencies=_course_deps,
            identifier_value=lambda figure: f"{figure.result.pk}-course-{figure.kind}-{figure.label}",
            loader=_load_course_figure,
        ),
        EntitySpec(
            "ai.result",
            "DiagnosticReport",
            "ai.AIResult",
            diagnostic_report,
            dependencies=_result_deps,
        ),
        EntitySpec(
            "board.report",
            "DiagnosticReport",
            "board.BoardReport",
            board_report,
            dependencies=_patient_dep,
            identifier_value=board_report_identifier,
        ),
        EntitySpec(
            "audit.event",
            "AuditEvent",
            "audit.AuditEvent",
            audit_event,
            client_id=lambda event: audit_event_id(event.pk),
        ),
    )
}


def get_spec(entity_type: str) -> EntitySpec:
    try:
        return REGISTRY[entity_type]
    except KeyError:
        raise TransformError(f"unknown entity type {entity_type!r}; known: {', '.join(sorted(REGISTRY))}") from None
