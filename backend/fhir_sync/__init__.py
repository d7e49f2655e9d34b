"""FHIR sync: the HAPI FHIR client, entity -> FHIR R4 transforms, sync tasks, mapping and dead letters.

Not named `fhir`: that name belongs to the FHIR model packages.
"""
