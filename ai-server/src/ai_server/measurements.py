"""Measurements a user drew on images, saved as a DICOM SR Measurement Report (TID 1500) with highdicom.

The backend validates who may save and which images belong to the study; this module takes the geometry,
computes the values from the referenced images themselves (never trusting values a browser computed), and
builds the SR. Each measurement is one TID 1410 group (Planar ROI Measurements) whose Image Region is a
SCOORD on the source image (and frame):

- length: a two-point POLYLINE, one NUM Length (SCT 410668003) in UCUM "mm";
- ellipse: an ELLIPSE (major axis end points first, then the minor axis), NUM Area (SCT 42798000) in UCUM
  "mm2" and NUM Mean (SCT 373098007) of the pixel values inside, after the modality rescale, in the image's
  units: Hounsfield units ([hnsf'U]) for CT, arbitrary units ([arb'U]) otherwise (MR signal has none).

Points are DICOM image coordinates (column, row; 0,0 is the top left corner of the top left pixel, so the
first pixel's centre is 0.5,0.5), as SCOORD Graphic Data stores them.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass, field
from typing import Any

import highdicom as hd
import numpy as np
import pydicom
from pydicom import Dataset
from pydicom.sr.codedict import codes

from .dicom_series import _functional, _pixels, _rescale_parameters
from .orthanc import OrthancClient

LENGTH, ELLIPSE = "length", "ellipse"
POINTS = {LENGTH: 2, ELLIPSE: 4}
MAX_MEASUREMENTS = 100
SERIES_NUMBER = 990  # the CDSS's measurement reports, apart from the scanner's series and the AI SEG (900)
SERIES_DESCRIPTION = "CDSS measurements"
IMAGING_PROCEDURE = hd.sr.CodedConcept("363679005", "SCT", "Imaging")
HOUNSFIELD = hd.sr.CodedConcept("[hnsf'U]", "UCUM", "Hounsfield unit")
ARBITRARY = hd.sr.CodedConcept("[arb'U]", "UCUM", "arbitrary unit")


class MeasurementInvalid(ValueError):
    """The request cannot be measured (wrong shape, point off the image ...): answered 400 with this text."""


@dataclass
class Requested:
    kind: str
    sop_instance_uid: str
    orthanc_instance_id: str
    points: np.ndarray  # (n, 2): column, row
    frame: int | None = None
    label: str = ""


@dataclass
class Measured:
    requested: Requested
    values: dict[str, float] = field(default_factory=dict)
    mean_unit: hd.sr.CodedConcept | None = None

    def describe(self) -> dict[str, Any]:
        return {
            "kind": self.requested.kind,
            "sop_instance_uid": self.requested.sop_instance_uid,
            "frame": self.requested.frame,
            "points": self.requested.points.tolist(),
            **{name: round(value, 4) for name, value in self.values.items()},
            **({"mean_unit": self.mean_unit.value} if self.mean_unit is not None else {}),
        }


def parse_request(body: Any) -> tuple[dict[str, str], list[Requested]]:
    """The observer and the measurements of a POST /measurement-reports body, checked for shape."""
    if not isinstance(body, dict):
        raise MeasurementInvalid("the body must be a JSON object")
    observer = body.get("observer")
    if not isinstance(observer, dict) or not str(observer.get("name") or "").strip():
        raise MeasurementInvalid("observer.name is required")
    items = body.get("measurements")
    if not isinstance(items, list) or not 1 <= len(items) <= MAX_MEASUREMENTS:
        raise MeasurementInvalid(f"measurements must be a list of 1 to {MAX_MEASUREMENTS} items")
    requested = []
    for index, item in enumerate(items):
        where = f"measurements[{index}]"
        if not isinstance(item, dict) or item.get("kind") not in POINTS:
            raise MeasurementInvalid(f"{where}.kind must be one of {sorted(POINTS)}")
        try:
            points = np.asarray(item.get("points"), dtype=float)
        except (TypeError, ValueError) as exc:
            raise MeasurementInvalid(f"{where}.points must be [column, row] pairs") from exc
        if points.shape != (POINTS[item["kind"]], 2) or not np.isfinite(points).all():
            raise MeasurementInvalid(f"{where}.points must be {POINTS[item['kind']]} [column, row] pairs")
        frame = item.get("frame")
        if frame is not None and (not isinstance(frame, int) or isinstance(frame, bool) or frame < 1):
            raise MeasurementInvalid(f"{where}.frame must be a frame number from 1")
        uid, instance = item.get("sop_instance_uid"), item.get("orthanc_instance_id")
        if not isinstance(uid, str) or not uid or not isinstance(instance, str) or not instance:
            raise MeasurementInvalid(f"{where} needs sop_instance_uid and orthanc_instance_id")
        requested.append(Requested(item["kind"], uid, instance, points, frame, str(item.get("label") or "")[:64]))
    return {"name": str(observer["name"])[:64], "login": str(observer.get("login") or "")[:64]}, requested


def _geometry(ds: Dataset, frame: int | None) -> tuple[np.ndarray, tuple[float, float]]:
    """The frame's pixel values after the modality rescale, and its pixel spacing (between rows, columns)."""
    frames = int(ds.get("NumberOfFrames") or 1)
    if frames > 1 and frame is None:
        raise MeasurementInvalid(f"instance {ds.SOPInstanceUID} has {frames} frames: say which")
    if frame is not None and frame > frames:
        raise MeasurementInvalid(f"instance {ds.SOPInstanceUID} has no frame {frame}")
    spacing = ds.get("PixelSpacing")
    if frames > 1:
        shared = ds.SharedFunctionalGroupsSequence[0] if "SharedFunctionalGroupsSequence" in ds else None
        per_frame = ds.get("PerFrameFunctionalGroupsSequence")
        groups = per_frame[frame - 1] if per_frame else None
        spacing = _functional(groups, shared, "PixelMeasuresSequence", "PixelSpacing") or spacing
    if not spacing:
        raise MeasurementInvalid(f"instance {ds.SOPInstanceUID} has no pixel spacing: lengths cannot be in mm")
    try:
        pixels = _pixels(ds, ds.get("SeriesInstanceUID", "?"))
    except Exception as exc:
        raise MeasurementInvalid(str(exc)) from exc
    if pixels.ndim == 3 and frames > 1:
        pixels = pixels[(frame or 1) - 1]
    if pixels.ndim != 2:
        raise MeasurementInvalid(f"instance {ds.SOPInstanceUID} is not a greyscale image")
    slope, intercept = _rescale_parameters(ds)
    return pixels * slope + intercept, (float(spacing[0]), float(spacing[1]))


def _mean_unit(ds: Dataset) -> hd.sr.CodedConcept:
    rescale_type = str(ds.get("RescaleType", "")).upper()
    return HOUNSFIELD if rescale_type == "HU" or (ds.get("Modality") == "CT" and not rescale_type) else ARBITRARY


def measure(requested: Requested, ds: Dataset) -> Measured:
    values, spacing = _geometry(ds, requested.frame)
    rows, columns = values.shape
    points = requested.points
    off = (points < 0).any(axis=1) | (points[:, 0] > columns) | (points[:, 1] > rows)
    if off.any():
        column, row = points[off][0]
        raise MeasurementInvalid(
            f"point ({column:g}, {row:g}) lies outside the {columns}x{rows} image {requested.sop_instance_uid}"
        )
    to_mm = np.array([spacing[1], spacing[0]])  # column step, row step
    mm = points * to_mm
    if requested.kind == LENGTH:
        return Measured(requested, {"length_mm": float(np.linalg.norm(mm[1] - mm[0]))})
    first, second = np.linalg.norm(mm[1] - mm[0]), np.linalg.norm(mm[3] - mm[2])
    if first < second:  # SCOORD ELLIPSE: the major axis' end points come first
        requested.points = points = points[[2, 3, 0, 1]]
        mm, (first, second) = mm[[2, 3, 0, 1]], (second, first)
    a, b = first / 2, second / 2
    if b <= 0:
        raise MeasurementInvalid(f"an ellipse on {requested.sop_instance_uid} has no area")
    centre = (mm[0] + mm[1]) / 2
    major = (mm[1] - mm[0]) / first
    minor = np.array([-major[1], major[0]])
    row_index, column_index = np.mgrid[0:rows, 0:columns]
    offset_x = (column_index + 0.5) * to_mm[0] - centre[0]
    offset_y = (row_index + 0.5) * to_mm[1] - centre[1]
    inside = ((offset_x * major[0] + offset_y * major[1]) / a) ** 2 + (
        (offset_x * minor[0] + offset_y * minor[1]) / b
    ) ** 2 <= 1
    if not inside.any():
        raise MeasurementInvalid(f"an ellipse on {requested.sop_instance_uid} holds no pixel centre")
    return Measured(
        requested,
        {"area_mm2": math.pi * a * b, "mean": float(values[inside].mean())},
        mean_unit=_mean_unit(ds),
    )


def _group(measured: Measured, ds: Dataset, number: int) -> hd.sr.PlanarROIMeasurementsAndQualitativeEvaluations:
    requested = measured.requested
    source = hd.sr.SourceImageForRegion(
        referenced_sop_class_uid=ds.SOPClassUID,
        referenced_sop_instance_uid=ds.SOPInstanceUID,
        referenced_frame_numbers=[requested.frame] if requested.frame is not None else None,
    )
    graphic = hd.sr.GraphicTypeValues.POLYLINE if requested.kind == LENGTH else hd.sr.GraphicTypeValues.ELLIPSE
    region = hd.sr.ImageRegion(graphic_type=graphic, graphic_data=requested.points, source_image=source)
    if requested.kind == LENGTH:
        numbers = [hd.sr.Measurement(codes.SCT.Length, measured.values["length_mm"], codes.UCUM.Millimeter)]
    else:
        numbers = [
            hd.sr.Measurement(codes.SCT.Area, measured.values["area_mm2"], codes.UCUM.SquareMillimeter),
            hd.sr.Measurement(codes.SCT.Mean, measured.values["mean"], measured.mean_unit),
        ]
    label = requested.label or f"{requested.kind.capitalize()} {number}"
    return hd.sr.PlanarROIMeasurementsAndQualitativeEvaluations(
        tracking_identifier=hd.sr.TrackingIdentifier(uid=hd.UID(), identifier=label),
        referenced_region=region,
        measurements=numbers,
    )


def build_report(
    observer: dict[str, str], measured: list[Measured], sources: dict[str, Dataset]
) -> hd.sr.ComprehensiveSR:
    """The Measurement Report of `measured`, whose images are `sources` (by SOP Instance UID)."""
    person = hd.sr.PersonObserverIdentifyingAttributes(name=observer["name"], login_name=observer["login"] or None)
    context = hd.sr.ObservationContext(
        observer_person_context=hd.sr.ObserverContext(
            observer_type=codes.DCM.Person, observer_identifying_attributes=person
        )
    )
    groups = [_group(item, sources[item.requested.sop_instance_uid], n) for n, item in enumerate(measured, 1)]
    report = hd.sr.MeasurementReport(
        observation_context=context, procedure_reported=IMAGING_PROCEDURE, imaging_measurements=groups
    )
    evidence = [sources[uid] for uid in dict.fromkeys(item.requested.sop_instance_uid for item in measured)]
    studies = {ds.StudyInstanceUID for ds in evidence}
    if len(studies) != 1:
        raise MeasurementInvalid("the measured images belong to more than one study")
    sr = hd.sr.ComprehensiveSR(
        evidence=evidence,
        content=report,
        series_instance_uid=hd.UID(),
        series_number=SERIES_NUMBER,
        sop_instance_uid=hd.UID(),
        instance_number=1,
        manufacturer="CDSS",
        series_description=SERIES_DESCRIPTION,
        is_complete=True,
        is_final=False,  # a user's measurements, not a verified report
    )
    sr.SpecificCharacterSet = "ISO_IR 192"  # observer names and labels may be Korean (UTF-8)
    return sr


def report_save(orthanc: OrthancClient, body: Any) -> dict[str, Any]:
    """POST /measurement-reports: read the referenced images, measure, build the SR, store it in Orthanc.
    Raises MeasurementInvalid (400), InvalidJob (an image is gone: 400) or DependencyDown (503)."""
    observer, requested = parse_request(body)
    sources: dict[str, Dataset] = {}
    for item in requested:
        if item.sop_instance_uid not in sources:
            ds = pydicom.dcmread(io.BytesIO(orthanc.instance_file(item.orthanc_instance_id)))
            if ds.SOPInstanceUID != item.sop_instance_uid:
                raise MeasurementInvalid(
                    f"Orthanc instance {item.orthanc_instance_id} is not SOP instance {item.sop_instance_uid}"
                )
            sources[item.sop_instance_uid] = ds
    measured = [measure(item, sources[item.sop_instance_uid]) for item in requested]
    report = build_report(observer, measured, sources)
    buffer = io.BytesIO()
    report.save_as(buffer, enforce_file_format=True)
    stored = orthanc.store(buffer.getvalue())
    return {
        "sop_instance_uid": report.SOPInstanceUID,
        "series_instance_uid": report.SeriesInstanceUID,
        "study_instance_uid": report.StudyInstanceUID,
        "orthanc_instance_id": stored.get("ID", ""),
        "measurements": [item.describe() for item in measured],
    }
