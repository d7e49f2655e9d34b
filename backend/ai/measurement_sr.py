"""Reading a DICOM SR Measurement Report (TID 1500) back into the measurements the viewer redraws.

The ai-server builds these reports with highdicom (ai-server/src/ai_server/measurements.py); the backend
has no highdicom, so this walks the content tree with pydicom. It reads what the CDSS writes (TID 1410
groups with a SCOORD image region: a two-point POLYLINE for a length, an ELLIPSE with area and mean) and
skips, rather than refuses, groups of other shapes that another system may have put in a report.
"""

from datetime import datetime
from typing import Any

import pydicom

# (scheme, value) of the concepts read; the same codes the ai-server writes (docs/radiology.md).
MEASUREMENT_REPORT = ("DCM", "126000")
IMAGING_MEASUREMENTS = ("DCM", "126010")
MEASUREMENT_GROUP = ("DCM", "125007")
IMAGE_REGION = ("DCM", "111030")
TRACKING_IDENTIFIER = ("DCM", "112039")
TRACKING_UID = ("DCM", "112040")
PERSON_OBSERVER_NAME = ("DCM", "121008")
PERSON_OBSERVER_LOGIN = ("DCM", "128774")
VALUES = {("SCT", "410668003"): "length_mm", ("SCT", "42798000"): "area_mm2", ("SCT", "373098007"): "mean"}
KINDS = {"POLYLINE": "length", "ELLIPSE": "ellipse"}


def _concept(item) -> tuple[str, str]:
    code = item.get("ConceptNameCodeSequence")
    return (str(code[0].CodingSchemeDesignator), str(code[0].CodeValue)) if code else ("", "")


def _children(item, concept: tuple[str, str]) -> list:
    return [child for child in item.get("ContentSequence", []) if _concept(child) == concept]


def _text(item, concept: tuple[str, str], keyword: str) -> str:
    found = _children(item, concept)
    return str(found[0].get(keyword, "")) if found else ""


def is_measurement_report(ds: pydicom.Dataset) -> bool:
    return ds.get("Modality") == "SR" and _concept(ds) == MEASUREMENT_REPORT


def _created_at(ds: pydicom.Dataset) -> str | None:
    date, time = str(ds.get("ContentDate", "")), str(ds.get("ContentTime", ""))
    try:
        return datetime.strptime(date + time.split(".")[0].ljust(6, "0"), "%Y%m%d%H%M%S").isoformat()
    except ValueError:
        return None


def _series_of(ds: pydicom.Dataset) -> dict[str, str]:
    """The referenced images' series, from the evidence sequence."""
    found = {}
    for study in ds.get("CurrentRequestedProcedureEvidenceSequence", []):
        for series in study.get("ReferencedSeriesSequence", []):
            for image in series.get("ReferencedSOPSequence", []):
                found[str(image.ReferencedSOPInstanceUID)] = str(series.SeriesInstanceUID)
    return found


def _measurement(group, series_of: dict[str, str]) -> dict[str, Any] | None:
    regions = _children(group, IMAGE_REGION)
    if len(regions) != 1 or str(regions[0].get("GraphicType", "")) not in KINDS:
        return None
    region = regions[0]
    images = [child for child in region.get("ContentSequence", []) if child.get("ValueType") == "IMAGE"]
    if not images or "ReferencedSOPSequence" not in images[0]:
        return None
    image = images[0].ReferencedSOPSequence[0]
    frames = image.get("ReferencedFrameNumber")
    coordinates = [float(value) for value in region.GraphicData]
    uid = str(image.ReferencedSOPInstanceUID)
    found: dict[str, Any] = {
        "kind": KINDS[str(region.GraphicType)],
        "label": _text(group, TRACKING_IDENTIFIER, "TextValue"),
        "tracking_uid": _text(group, TRACKING_UID, "UID"),
        "sop_instance_uid": uid,
        "series_instance_uid": series_of.get(uid, ""),
        "frame": int(frames[0] if isinstance(frames, pydicom.multival.MultiValue) else frames) if frames else None,
        "points": [coordinates[index : index + 2] for index in range(0, len(coordinates), 2)],
    }
    for item in group.get("ContentSequence", []):
        name = VALUES.get(_concept(item))
        if name and item.get("ValueType") == "NUM" and item.get("MeasuredValueSequence"):
            value = item.MeasuredValueSequence[0]
            found[name] = float(value.NumericValue)
            if name == "mean":
                found["mean_unit"] = str(value.MeasurementUnitsCodeSequence[0].CodeValue)
    return found


def report_parse(ds: pydicom.Dataset) -> dict[str, Any]:
    """The report's author, time and measurements (with the image each was drawn on)."""
    series_of = _series_of(ds)
    measurements = []
    for container in _children(ds, IMAGING_MEASUREMENTS):
        for group in _children(container, MEASUREMENT_GROUP):
            measurement = _measurement(group, series_of)
            if measurement is not None:
                measurements.append(measurement)
    return {
        "sop_instance_uid": str(ds.SOPInstanceUID),
        "series_instance_uid": str(ds.SeriesInstanceUID),
        "observer": str(_text(ds, PERSON_OBSERVER_NAME, "PersonName")).replace("^", " ").strip(),
        "observer_login": _text(ds, PERSON_OBSERVER_LOGIN, "TextValue"),
        "created_at": _created_at(ds),
        "measurements": measurements,
    }
