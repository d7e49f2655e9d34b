"""What the HAPI stand-in knows of FHIR R4: the resource types, the bindings HAPI's parser enforces, the
required elements of A.16, the reference targets it checks, the search parameters served, and pure helpers
on resources."""

from __future__ import annotations

import re
from typing import Any

from ..common import words
from .outcomes import fail

JSON_MEDIA_TYPES = {"application/fhir+json", "application/json", "application/json+fhir"}
HAPI_VERSION = "8.4.0"

FHIR_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")

# Every R4 resource type; HAPI serves them all, so does the emulator (storage is type-agnostic).
RESOURCE_TYPES = frozenset(
    words(
        """Account ActivityDefinition AdverseEvent AllergyIntolerance Appointment AppointmentResponse AuditEvent
    Basic Binary BiologicallyDerivedProduct BodyStructure Bundle CapabilityStatement CarePlan CareTeam
    CatalogEntry ChargeItem ChargeItemDefinition Claim ClaimResponse ClinicalImpression CodeSystem Communication
    CommunicationRequest CompartmentDefinition Composition ConceptMap Condition Consent Contract Coverage
    CoverageEligibilityRequest CoverageEligibilityResponse DetectedIssue Device DeviceDefinition DeviceMetric
    DeviceRequest DeviceUseStatement DiagnosticReport DocumentManifest DocumentReference EffectEvidenceSynthesis
    Encounter Endpoint EnrollmentRequest EnrollmentResponse EpisodeOfCare EventDefinition Evidence
    EvidenceVariable ExampleScenario ExplanationOfBenefit FamilyMemberHistory Flag Goal GraphDefinition Group
    GuidanceResponse HealthcareService ImagingStudy Immunization ImmunizationEvaluation ImmunizationRecommendation
    ImplementationGuide InsurancePlan Invoice Library Linkage List Location Measure MeasureReport Media Medication
    MedicationAdministration MedicationDispense MedicationKnowledge MedicationRequest MedicationStatement
    MedicinalProduct MedicinalProductAuthorization MedicinalProductContraindication MedicinalProductIndication
    MedicinalProductIngredient MedicinalProductInteraction MedicinalProductManufactured MedicinalProductPackaged
    MedicinalProductPharmaceutical MedicinalProductUndesirableEffect MessageDefinition MessageHeader
    MolecularSequence NamingSystem NutritionOrder Observation ObservationDefinition OperationDefinition
    OperationOutcome Organization OrganizationAffiliation Parameters Patient PaymentNotice PaymentReconciliation
    Person PlanDefinition Practitioner PractitionerRole Procedure Provenance Questionnaire QuestionnaireResponse
    RelatedPerson RequestGroup ResearchDefinition ResearchElementDefinition ResearchStudy ResearchSubject
    RiskAssessment RiskEvidenceSynthesis Schedule SearchParameter ServiceRequest Slot Specimen SpecimenDefinition
    StructureDefinition StructureMap Subscription Substance SubstanceNucleicAcid SubstancePolymer SubstanceProtein
    SubstanceReferenceInformation SubstanceSourceMaterial SubstanceSpecification SupplyDelivery SupplyRequest Task
    TerminologyCapabilities TestReport TestScript ValueSet VerificationResult VisionPrescription"""
    )
)

# Required bindings HAPI's parser enforces even without validation (bad code -> 400 HAPI-0450/1821).
CODE_BINDINGS: dict[tuple[str, str], tuple[str, frozenset[str]]] = {
    ("Patient", "gender"): ("AdministrativeGender", frozenset(words("male female other unknown"))),
    ("Observation", "status"): (
        "ObservationStatus",
        frozenset(words("registered preliminary final amended corrected cancelled entered-in-error unknown")),
    ),
    ("DiagnosticReport", "status"): (
        "DiagnosticReportStatus",
        frozenset(
            words("registered partial preliminary final amended corrected appended cancelled entered-in-error unknown")
        ),
    ),
    ("ServiceRequest", "status"): (
        "RequestStatus",
        frozenset(words("draft active on-hold revoked completed entered-in-error unknown")),
    ),
    ("ServiceRequest", "intent"): (
        "RequestIntent",
        frozenset(
            words("proposal plan directive order original-order reflex-order filler-order instance-order option")
        ),
    ),
    ("ImagingStudy", "status"): (
        "ImagingStudyStatus",
        frozenset(words("registered available cancelled entered-in-error unknown")),
    ),
    ("AuditEvent", "action"): ("AuditEventAction", frozenset(words("C R U D E"))),
    ("AuditEvent", "outcome"): ("AuditEventOutcome", frozenset(words("0 4 8 12"))),
}

# A.16 required elements; checked only with validation on (stock HAPI validates nothing: 422 needs the
# RequestValidatingInterceptor). Dotted paths walk into every element of a list.
REQUIRED_ELEMENTS: dict[str, tuple[str, ...]] = {
    "ServiceRequest": ("status", "intent", "subject"),
    "ImagingStudy": (
        "status",
        "subject",
        "series.uid",
        "series.modality",
        "series.instance.uid",
        "series.instance.sopClass",
    ),
    "DiagnosticReport": ("status", "code"),
    "Observation": ("status", "code"),
    "AuditEvent": ("type", "recorded", "agent", "agent.requestor", "source", "source.observer"),
}

# Reference paths whose target type HAPI checks against the search parameter (422 HAPI-0931).
REFERENCE_TARGETS: dict[str, frozenset[str]] = {
    "Observation.subject": frozenset({"Patient", "Group", "Device", "Location"}),
    "ServiceRequest.subject": frozenset({"Patient", "Group", "Location", "Device"}),
    "ImagingStudy.subject": frozenset({"Patient", "Device", "Group"}),
    "DiagnosticReport.subject": frozenset({"Patient", "Group", "Device", "Location"}),
    "DiagnosticReport.basedOn": frozenset(
        {"CarePlan", "ImmunizationRecommendation", "MedicationRequest", "NutritionOrder", "ServiceRequest"}
    ),
    "DiagnosticReport.imagingStudy": frozenset({"ImagingStudy"}),
    "DiagnosticReport.result": frozenset({"Observation"}),
    "Patient.managingOrganization": frozenset({"Organization"}),
}

SEARCH_PARAMS = ("_id", "identifier", "status", "subject", "patient")
REFERENCE_PARAMS = frozenset({"subject", "patient"})  # both search Type.subject; `patient` means Patient/<id>

RESULT_PARAMS = frozenset({"_count", "_offset", "_format", "_pretty", "_total"})  # shape the answer, match nothing


def known_type(rtype: str) -> None:
    if rtype not in RESOURCE_TYPES:
        raise fail(404, "unknown_type", rtype=rtype, known=sorted(RESOURCE_TYPES))


def content_of(resource: dict) -> dict:
    """What a no-op update compares: the resource without id and server-managed meta."""
    meta = {k: v for k, v in (resource.get("meta") or {}).items() if k not in {"versionId", "lastUpdated", "source"}}
    stripped = {k: v for k, v in resource.items() if k not in {"id", "meta"}}
    return {**stripped, "meta": meta} if meta else stripped


def walk_references(node: Any, path: str):
    """(path, reference dict) for every Reference with a literal `reference`, outside contained and extensions."""
    if isinstance(node, list):
        for item in node:
            yield from walk_references(item, path)
    elif isinstance(node, dict):
        if isinstance(node.get("reference"), str):
            yield path, node
        for key, value in node.items():
            if key not in {"contained", "extension", "modifierExtension"}:
                yield from walk_references(value, f"{path}.{key}")


def missing_required(resource: dict, path: str, location: str) -> list[str]:
    """Locations (FHIRPath-ish) where the dotted `path` has no value."""
    head, _, rest = path.partition(".")
    value = resource.get(head)
    if value in (None, "", [], {}):
        return [f"{location}.{head}"]
    if not rest:
        return []
    items = value if isinstance(value, list) else [value]
    found = []
    for index, item in enumerate(items):
        if isinstance(item, dict):
            found += missing_required(item, rest, f"{location}.{head}[{index}]")
    return found
