"""The transforms are pure: entities in (here simple stand-in objects), valid R4 resources out, with
the exact identifiers and references the sync relies on."""

from dataclasses import dataclass, field
from datetime import UTC, date, datetime

import pytest

from fhir_sync import transforms
from fhir_sync.identifiers import SYSTEMS, USER_SYSTEM


def ref(entity_type, entity_id):
    kind = {"emr.patient": "Patient", "radiology.order": "ServiceRequest", "radiology.study": "ImagingStudy",
            "ai.observation": "Observation"}[entity_type]  # fmt: skip
    return {"reference": f"{kind}/{str(entity_id).replace(':', '-')}"}


@dataclass
class PatientRow:
    pk: int = 7
    emr_uuid: str = "9f1c-uuid"
    family_name: str = "Kim"
    given_name: str = "Minji"
    birth_date: date | None = date(1980, 2, 3)
    sex: str = "Female"
    mrn: str = "MRN7"


@dataclass
class Order:
    pk: int = 11
    patient_id: int = 7
    status: str = "REQUESTED"
    modality: str = "MR"
    body_part: str = "BRAIN"
    reason: str = "suspected glioma"
    requested_at: datetime = datetime(2026, 1, 2, 9, 30, tzinfo=UTC)
    requested_by: str = "doctor"


@dataclass
class Instance:
    sop_instance_uid: str
    sop_class_uid: str = "1.2.840.10008.5.1.4.1.1.4"
    number: int = 1


@dataclass
class Series:
    series_instance_uid: str
    modality: str
    instances: list = field(default_factory=list)
    number: int = 1
    description: str = "T1"


@dataclass
class Study:
    pk: int = 21
    patient_id: int = 7
    order_id: int | None = 11
    study_instance_uid: str = "1.2.3.4"
    started_at: datetime = datetime(2026, 1, 3, 10, 0, tzinfo=UTC)
    description: str = "MRI brain"
    series: list = field(default_factory=list)


@dataclass
class Result:
    pk: int = 31
    patient_id: int = 7
    study_id: int | None = 21
    order_id: int | None = 11
    status: str = "PRELIMINARY"
    model_name: str = "brain-seg"
    model_version: str = "1.0"
    metrics: dict = field(default_factory=lambda: {"tumour_volume_ml": {"value": 12.5, "unit": "mL"}, "slices": 14})
    conclusion: str = "Enhancing lesion, left frontal."
    created_at: datetime = datetime(2026, 1, 3, 11, 0, tzinfo=UTC)
    report_status: str = ""
    amended_at: datetime | None = None


@dataclass
class Audit:
    pk: int = 41
    occurred_at: datetime = datetime(2026, 1, 3, 12, 0, tzinfo=UTC)
    actor_type: str = "user"
    actor_username: str = "doctor"
    action: str = "READ"
    resource_type: str = "patient"
    resource_id: str = "9f1c-uuid"
    patient_id: str = "9f1c-uuid"
    outcome: str = "SUCCESS"
    source_ip: str | None = "10.0.0.5"


def test_patient_from_the_emr_cache():
    body = transforms.patient(PatientRow()).as_json()
    assert body["identifier"] == [{"system": SYSTEMS["Patient"], "value": "9f1c-uuid"}]
    assert body["name"] == [{"family": "Kim", "given": ["Minji"]}]
    assert body["gender"] == "female" and body["birthDate"] == "1980-02-03"
    assert transforms.patient(PatientRow(sex="", birth_date=None)).as_json()["gender"] == "unknown"


def test_service_request_references_the_patient():
    body = transforms.service_request(Order(), ref).as_json()
    assert body["identifier"] == [{"system": SYSTEMS["ServiceRequest"], "value": "11"}]
    assert body["status"] == "active" and body["intent"] == "order"
    assert body["subject"] == {"reference": "Patient/7"}
    assert body["requester"]["identifier"] == {"system": USER_SYSTEM, "value": "doctor"}
    assert "reference" not in body["requester"], "people are identifier-only references (HAPI-1094)"
    assert body["code"] == {"coding": [transforms.PROCEDURES[("MR", "BRAIN")]], "text": "MR BRAIN"}
    assert transforms.service_request(Order(status="cancelled"), ref).as_json()["status"] == "revoked"


def test_imaging_study_with_series_instances_and_sop_classes():
    mr = Series("1.2.3.4.1", "MR", [Instance("1.2.3.4.1.1"), Instance("1.2.3.4.1.2", number=2)])
    seg = Series("1.2.3.4.2", "SEG", [Instance("1.2.3.4.2.1", "1.2.840.10008.5.1.4.1.1.66.4")], 2)
    study = Study(series=[mr, seg])
    body = transforms.imaging_study(study, ref).as_json()
    assert body["identifier"] == [
        {"system": SYSTEMS["ImagingStudy"], "value": "21"},
        {"system": "urn:dicom:uid", "value": "urn:oid:1.2.3.4"},
    ]
    assert body["subject"] == {"reference": "Patient/7"}
    assert body["basedOn"] == [{"reference": "ServiceRequest/11"}]
    assert body["numberOfSeries"] == 2 and body["numberOfInstances"] == 3
    assert [m["code"] for m in body["modality"]] == ["MR", "SEG"]
    first = body["series"][0]
    assert first["uid"] == "1.2.3.4.1" and first["modality"]["code"] == "MR"
    assert first["instance"][0]["sopClass"] == {
        "system": "urn:ietf:rfc:3986",
        "code": "urn:oid:1.2.840.10008.5.1.4.1.1.4",
    }
    assert "basedOn" not in transforms.imaging_study(Study(order_id=None), ref).as_json()


def test_diagnostic_report_and_observations_of_an_ai_result():
    result = Result()
    report = transforms.diagnostic_report(result, ref).as_json()
    assert report["identifier"] == [{"system": SYSTEMS["DiagnosticReport"], "value": "31"}]
    assert report["status"] == "preliminary"
    assert report["subject"] == {"reference": "Patient/7"}
    assert report["basedOn"] == [{"reference": "ServiceRequest/11"}]
    assert report["imagingStudy"] == [{"reference": "ImagingStudy/21"}]
    assert report["result"] == [
        {"reference": "Observation/31-slices"},
        {"reference": "Observation/31-tumour_volume_ml"},
    ]
    volume = transforms.observation(result, "tumour_volume_ml", ref).as_json()
    assert volume["identifier"] == [{"system": SYSTEMS["Observation"], "value": "31-tumour_volume_ml"}]
    assert volume["valueQuantity"] == {"value": 12.5, "unit": "mL", "system": "http://unitsofmeasure.org", "code": "mL"}
    assert volume["status"] == "preliminary" and volume["subject"] == {"reference": "Patient/7"}
    assert transforms.diagnostic_report(Result(status="FINAL"), ref).as_json()["status"] == "final"


def test_an_amended_result_is_an_amended_report_issued_when_amended():
    amended_at = datetime(2026, 2, 1, 9, 30, tzinfo=UTC)
    result = Result(status="FINAL", report_status="amended", amended_at=amended_at)
    report = transforms.diagnostic_report(result, ref).as_json()
    assert report["status"] == "amended" and report["issued"] == "2026-02-01T09:30:00+00:00"
    assert transforms.observation(result, "slices", ref).as_json()["status"] == "final"  # values unchanged


def test_audit_event_uses_identifier_only_references_and_a_client_id():
    body = transforms.audit_event(Audit()).as_json()
    assert body["id"] == "cdss-audit-41"
    assert body["action"] == "R" and body["outcome"] == "0" and body["recorded"] == "2026-01-03T12:00:00+00:00"
    assert body["agent"][0]["requestor"] is True
    assert body["agent"][0]["who"]["identifier"] == {"system": USER_SYSTEM, "value": "doctor"}
    assert body["source"]["observer"] == {"display": "cdss-backend"}
    assert body["entity"][0]["what"] == {"identifier": {"system": SYSTEMS["Patient"], "value": "9f1c-uuid"}}
    assert all("reference" not in e["what"] for e in body["entity"])


def test_an_invalid_value_is_refused_before_sending():
    with pytest.raises(transforms.TransformError, match="not valid R4"):
        transforms.build("Observation", {"code": {"text": "x"}})  # status is required


def test_one_identifier_system_per_resource_type():
    assert len(set(SYSTEMS.values())) == len(SYSTEMS)
    assert {spec.resource_type for spec in transforms.REGISTRY.values()} <= SYSTEMS.keys()
