"""Validation of what the CDSS sends against the FHIR R4 (4.0.1) structure definitions, by a second library
(fhir.resources, a test dependency), and the coded elements of a resource, for the code-system checks."""

import importlib
from typing import Any

from fhir.resources import __fhir_version__


def valid_r4(resource: Any) -> dict:
    """The resource's JSON after fhir.resources has read it strictly: an unknown element, a wrong type or
    cardinality, or a missing required element raises FHIRValidationError. Takes a fhirclient model or a dict."""
    assert __fhir_version__ == "4.0.1"
    body = resource if isinstance(resource, dict) else resource.as_json()
    resource_type = body["resourceType"]
    module = importlib.import_module(f"fhir.resources.{resource_type.lower()}")
    model = getattr(module, resource_type)(body, strict=True)
    model.as_json()  # checks the required elements
    return body


def codings(body: Any, path: str = "") -> set[tuple[str, str]]:
    """(element path, system) of every Coding and coded Quantity in a resource: each dict with a `system`
    and a `code` (identifiers have a value, not a code). Paths leave out list positions: "code.coding"."""
    found: set[tuple[str, str]] = set()
    if isinstance(body, list):
        for item in body:
            found |= codings(item, path)
    elif isinstance(body, dict):
        if "system" in body and "code" in body:
            found.add((path, body["system"]))
        for key, value in body.items():
            found |= codings(value, f"{path}.{key}" if path else key)
    return found


def identifier_systems(body: Any) -> set[str]:
    """The system of every Identifier (a dict with a system and a value) in a resource."""
    found: set[str] = set()
    if isinstance(body, list):
        for item in body:
            found |= identifier_systems(item)
    elif isinstance(body, dict):
        if "system" in body and "value" in body and "code" not in body:
            found.add(body["system"])
        for value in body.values():
            found |= identifier_systems(value)
    return found
