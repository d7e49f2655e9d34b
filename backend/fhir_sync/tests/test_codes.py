"""Every resource the CDSS builds is valid R4 for a second library (fhir.resources), and its coded elements
use the standard code systems of docs/messaging.md ("Codes"): a table of the expected systems per element.
A coding under a system not in the table, or a `urn:cdss:` system that is not one of the documented local
ones, fails here."""

from dataclasses import dataclass
from datetime import UTC, datetime

import pytest

from fhir_sync import transforms
from fhir_sync.identifiers import DICOM_UID_SYSTEM, SYSTEMS, USER_SYSTEM

from .r4 import codings, identifier_systems, valid_r4
from .test_transforms import Audit, Instance, Order, PatientRow, Result, Series, Study, ref

SNOMED, LOINC, UCUM, DCM = transforms.SNOMED, transforms.LOINC, transforms.UCUM, transforms.DCM
V2_0074 = "http://terminology.hl7.org/CodeSystem/v2-0074"
OBS_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
RFC3986 = "urn:ietf:rfc:3986"
DOCUMENTED_LOCAL = {"urn:cdss:ai-metric", "urn:cdss:tumour-course", "urn:cdss:audit-action"}


def course_ref(entity_type, entity_id):
    if entity_type == "ai.course":
        return {"reference": f"Observation/{str(entity_id).replace(':', '-')}"}
    return ref(entity_type, entity_id)


@dataclass
class Board:
    pk: int = 51
    patient_id: int = 7
    language: str = "ko"
    pdf: bytes = b"%PDF-1.7 test"
    pending_signoffs: int = 0
    title: str = "Tumour board summary"
    created_at: datetime = datetime(2026, 1, 4, 8, 0, tzinfo=UTC)
    created_by: str = "doctor"


ROW = {
    "study_id": 21,
    "study_date": "2026-05-04",
    "volume_ml": 4.9,
    "baseline_ml": 10.0,
    "nadir_ml": 3.5,
    "change_from_baseline_percent": -51.0,
    "change_from_nadir_percent": 40.0,
    "category": "PD",
    "category_display": "Progression",
}


def _figure(kind: str) -> transforms.CourseFigure:
    aid = "volumetric, RANO-style aid; not a RANO assessment"
    return transforms.CourseFigure(Result(status="FINAL"), kind, "lesion", ROW, aid, "RANO 2010")


def _study():
    mr = Series("1.2.3.4.1", "MR", [Instance("1.2.3.4.1.1")])
    mr.body_part = "BRAIN"
    seg = Series("1.2.3.4.2", "SEG", [Instance("1.2.3.4.2.1", "1.2.840.10008.5.1.4.1.1.66.4")], 2)
    return Study(series=[mr, seg])


# what each builder makes, and the system expected at each coded element (docs/messaging.md, "Codes")
CASES = {
    "Patient": (lambda: transforms.patient(PatientRow()), set()),
    "ServiceRequest": (
        lambda: transforms.service_request(Order(), ref),
        {("category.coding", SNOMED), ("code.coding", LOINC), ("bodySite.coding", SNOMED)},
    ),
    "ImagingStudy": (
        lambda: transforms.imaging_study(_study(), ref),
        {
            ("modality", DCM),
            ("procedureCode.coding", LOINC),
            ("series.modality", DCM),
            ("series.bodySite", SNOMED),
            ("series.instance.sopClass", RFC3986),
        },
    ),
    "DiagnosticReport (AI result)": (
        lambda: transforms.diagnostic_report(Result(), ref),
        {("category.coding", V2_0074), ("code.coding", LOINC)},
    ),
    "DiagnosticReport (amended AI result)": (
        lambda: transforms.diagnostic_report(
            Result(status="FINAL", report_status="amended", amended_at=datetime(2026, 2, 1, tzinfo=UTC)), ref
        ),
        {("category.coding", V2_0074), ("code.coding", LOINC)},
    ),
    "Observation (AI volume metric)": (
        lambda: transforms.observation(Result(), "tumour_volume_ml", ref),
        {
            ("category.coding", OBS_CATEGORY),
            ("code.coding", SNOMED),
            ("code.coding", "urn:cdss:ai-metric"),
            ("valueQuantity", UCUM),
        },
    ),
    "DiagnosticReport (omics result, no study)": (
        lambda: transforms.diagnostic_report(Result(study_id=None, metrics={"risk_score": 0.7}), ref),
        {("category.coding", V2_0074), ("code.coding", LOINC)},
    ),
    "Observation (omics metric)": (
        lambda: transforms.observation(Result(study_id=None, metrics={"risk_score": 0.7}), "risk_score", ref),
        {("category.coding", OBS_CATEGORY), ("code.coding", "urn:cdss:ai-metric")},
    ),
    "Observation (AI other metric)": (
        lambda: transforms.observation(Result(), "slices", ref),
        {("category.coding", OBS_CATEGORY), ("code.coding", "urn:cdss:ai-metric")},
    ),
    "Observation (course volume)": (
        lambda: transforms.course_observation(_figure("volume"), course_ref),
        {
            ("category.coding", OBS_CATEGORY),
            ("code.coding", SNOMED),
            ("bodySite.coding", SNOMED),
            ("valueQuantity", UCUM),
        },
    ),
    "Observation (course change from baseline)": (
        lambda: transforms.course_observation(_figure("baseline"), course_ref),
        {
            ("category.coding", OBS_CATEGORY),
            ("code.coding", "urn:cdss:tumour-course"),
            ("bodySite.coding", SNOMED),
            ("valueQuantity", UCUM),
        },
    ),
    "Observation (course response)": (
        lambda: transforms.course_observation(_figure("response"), course_ref),
        {
            ("category.coding", OBS_CATEGORY),
            ("code.coding", LOINC),
            ("code.coding", "urn:cdss:tumour-course"),
            ("bodySite.coding", SNOMED),
            ("valueCodeableConcept.coding", "urn:cdss:tumour-course"),
        },
    ),
    "DiagnosticReport (tumour board, presentedForm)": (
        lambda: transforms.board_report(Board(), ref),
        {("code.coding", LOINC)},
    ),
    "AuditEvent (read)": (
        lambda: transforms.audit_event(Audit()),
        {
            ("type", "http://terminology.hl7.org/CodeSystem/audit-event-type"),
            ("subtype", "http://hl7.org/fhir/restful-interaction"),
        },
    ),
    "AuditEvent (login)": (
        lambda: transforms.audit_event(Audit(action="LOGIN", resource_type="", patient_id="")),
        {("type", "http://terminology.hl7.org/CodeSystem/audit-event-type"), ("subtype", "urn:cdss:audit-action")},
    ),
}


@pytest.mark.parametrize("kind", CASES)
def test_every_resource_is_valid_r4_with_standard_codes(kind):
    build, expected = CASES[kind]
    body = valid_r4(build())
    assert codings(body) == expected
    local = {system for _, system in codings(body) if system.startswith("urn:cdss:")}
    assert local <= DOCUMENTED_LOCAL
    assert local <= transforms.LOCAL_CODE_SYSTEMS


@pytest.mark.parametrize("kind", CASES)
def test_identifier_systems_are_the_documented_ones(kind):
    body = valid_r4(CASES[kind][0]())
    audit_entities = {f"urn:cdss:{Audit.resource_type}"}  # AuditEvent.entity: the audited row, by its table
    assert identifier_systems(body) <= {*SYSTEMS.values(), USER_SYSTEM, DICOM_UID_SYSTEM, *audit_entities}


def test_the_codes_sent_are_the_cited_ones():
    """The exact codes docs/messaging.md cites (a typo in a code would pass the system checks above)."""
    order = valid_r4(transforms.service_request(Order(), ref))
    assert order["category"][0]["coding"][0]["code"] == "363679005"
    assert order["code"]["coding"] == [{"system": LOINC, "code": "24590-2", "display": "MR Brain"}]
    study = valid_r4(transforms.imaging_study(_study(), ref))
    assert study["procedureCode"][0]["coding"][0]["code"] == "24590-2"
    assert study["series"][0]["bodySite"]["code"] == "12738006" and "bodySite" not in study["series"][1]
    assert valid_r4(transforms.diagnostic_report(Result(), ref))["code"]["coding"][0]["code"] == "18748-4"
    omics = valid_r4(transforms.diagnostic_report(Result(study_id=None), ref))
    assert omics["code"]["coding"][0]["code"] == "51969-4" and omics["category"][0]["coding"][0]["code"] == "GE"
    assert valid_r4(transforms.diagnostic_report(Result(), ref))["category"][0]["coding"][0]["code"] == "RAD"
    risk = valid_r4(transforms.observation(Result(study_id=None, metrics={"risk_score": 0.7}), "risk_score", ref))
    assert risk["category"][0]["coding"][0]["code"] == "laboratory"
    volume = valid_r4(transforms.observation(Result(), "tumour_volume_ml", ref))
    assert volume["code"]["coding"][0]["code"] == "118565006"
    assert volume["valueQuantity"] == {"value": 12.5, "unit": "mL", "system": UCUM, "code": "mL"}
    assert valid_r4(transforms.board_report(Board(), ref))["code"]["coding"][0]["code"] == "85232-7"
    assert valid_r4(transforms.audit_event(Audit()))["subtype"] == [
        {"system": "http://hl7.org/fhir/restful-interaction", "code": "read"}
    ]


def test_a_procedure_without_a_known_code_is_text_only():
    body = valid_r4(transforms.service_request(Order(modality="CT", body_part="CHEST"), ref))
    assert body["code"] == {"text": "CT CHEST"} and "bodySite" not in body


def test_the_validator_refuses_what_r4_refuses():
    with pytest.raises(Exception, match="Superfluous entry"):
        valid_r4({"resourceType": "Observation", "status": "final", "code": {"text": "x"}, "valuee": 1})
    with pytest.raises(Exception, match="Wrong type"):
        valid_r4({"resourceType": "Observation", "status": "final", "code": {"text": "x"}, "category": {"text": "x"}})
    with pytest.raises(Exception, match="code"):
        valid_r4({"resourceType": "DiagnosticReport", "status": "final"})
