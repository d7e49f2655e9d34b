"""Our identifier systems: one per FHIR resource type, so `system|value` names one CDSS entity.

Conditional creates match on these; changing a system would make every resource look new, so these
strings are part of the data contract with the hospital's FHIR server.
"""

SYSTEMS = {
    "Patient": "urn:cdss:fhir:patient",  # value: the EMR's patient uuid (stable across cache rebuilds)
    "ServiceRequest": "urn:cdss:fhir:service-request",  # value: the order's primary key
    "ImagingStudy": "urn:cdss:fhir:imaging-study",  # value: the study's primary key
    "DiagnosticReport": "urn:cdss:fhir:diagnostic-report",  # value: the AI result's primary key, or board-<pk>
    "Observation": "urn:cdss:fhir:observation",  # value: "<AI result pk>-<metric name>"
    "AuditEvent": "urn:cdss:fhir:audit-event",  # R4 AuditEvent has no identifier: used in the client id
}
USER_SYSTEM = "urn:cdss:user"  # identifier-only references to people (they are not FHIR resources)
DICOM_UID_SYSTEM = "urn:dicom:uid"
