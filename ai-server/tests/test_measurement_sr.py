"""The measurement SR (ai_server.measurements): its content checked by reading it back with highdicom, its
conformance by dciodvfy (dicom3tools), and POST /measurement-reports against the real Orthanc."""

import io
import shutil
import subprocess

import highdicom as hd
import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_file
from pydicom.sr.codedict import codes
from pydicom.uid import generate_uid

from ai_server import measurements
from ai_server.app import create_app
from ai_server.orthanc import OrthancClient

TOKEN = {"Authorization": "Bearer test-service-token"}


def _image(**changes) -> pydicom.Dataset:
    """pydicom's small MR (64x64, 0.3125 mm pixels) with fresh UIDs."""
    ds = pydicom.dcmread(get_testdata_file("MR_small.dcm"))
    ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.SOPInstanceUID = generate_uid(), generate_uid(), generate_uid()
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    for keyword, value in changes.items():
        setattr(ds, keyword, value)
    return ds


def _request(ds, kind, points, instance="orthanc-id", **extra):
    return {"kind": kind, "sop_instance_uid": ds.SOPInstanceUID, "orthanc_instance_id": instance,
            "points": points, **extra}  # fmt: skip


def _report(ds, items):
    observer, requested = measurements.parse_request({"observer": {"name": "Kim^Minji", "login": "kim"},
                                                      "measurements": items})  # fmt: skip
    measured = [measurements.measure(item, ds) for item in requested]
    return measured, measurements.build_report(observer, measured, {ds.SOPInstanceUID: ds})


def _reread(report) -> hd.sr.ComprehensiveSR:
    buffer = io.BytesIO()
    report.save_as(buffer, enforce_file_format=True)
    return hd.sr.srread(io.BytesIO(buffer.getvalue()))


def _inside_mean(ds, centre, radii) -> float:
    """The mean of the rescaled pixels whose centres lie in the axis-aligned ellipse, pixel by pixel."""
    pixels, values = ds.pixel_array, []
    for row in range(ds.Rows):
        for column in range(ds.Columns):
            x, y = column + 0.5 - centre[0], row + 0.5 - centre[1]
            if (x / radii[0]) ** 2 + (y / radii[1]) ** 2 <= 1:
                values.append(float(pixels[row, column]) * float(ds.get("RescaleSlope", 1)) + float(
                    ds.get("RescaleIntercept", 0)))  # fmt: skip
    return sum(values) / len(values)


def test_the_report_holds_a_length_and_an_ellipse_with_codes_units_and_references():
    ds = _image()
    spacing = float(ds.PixelSpacing[0])
    # the ellipse given minor axis first: the SR must put the major axis' end points first
    measured, report = _report(ds, [
        _request(ds, "length", [[10, 10], [40, 50]]),
        _request(ds, "ellipse", [[32, 24], [32, 40], [20, 32], [44, 32]], label="lesion A"),
    ])  # fmt: skip
    sr = _reread(report)
    assert sr.SOPClassUID == pydicom.uid.ComprehensiveSRStorage and sr.Modality == "SR"
    assert sr.ConceptNameCodeSequence[0].CodeValue == "126000"  # Imaging Measurement Report (TID 1500)
    assert sr.StudyInstanceUID == ds.StudyInstanceUID and sr.PatientID == ds.PatientID
    evidence = sr.CurrentRequestedProcedureEvidenceSequence[0].ReferencedSeriesSequence[0].ReferencedSOPSequence
    assert [item.ReferencedSOPInstanceUID for item in evidence] == [ds.SOPInstanceUID]

    length, ellipse = sr.content.get_planar_roi_measurement_groups()
    assert length.roi.graphic_type == hd.sr.GraphicTypeValues.POLYLINE
    assert length.roi.value.tolist() == [[10, 10], [40, 50]]
    (source,) = length.roi.ContentSequence  # the IMAGE the region was drawn on
    assert source.ReferencedSOPSequence[0].ReferencedSOPInstanceUID == ds.SOPInstanceUID
    (number,) = length.get_measurements()
    assert number.name == codes.SCT.Length and number.unit == codes.UCUM.Millimeter
    assert number.value == pytest.approx(50 * spacing, rel=1e-4)  # a 30-40-50 triangle of pixels

    assert ellipse.roi.graphic_type == hd.sr.GraphicTypeValues.ELLIPSE
    assert ellipse.roi.value.tolist() == [[20, 32], [44, 32], [32, 24], [32, 40]]
    assert ellipse.tracking_identifier == "lesion A"
    area, mean = ellipse.get_measurements()
    assert area.name == codes.SCT.Area and area.unit == codes.UCUM.SquareMillimeter
    assert area.value == pytest.approx(np.pi * 12 * spacing * 8 * spacing, rel=1e-4)
    assert mean.name == codes.SCT.Mean and mean.unit.value == "[arb'U]"  # MR signal has no physical unit
    assert mean.value == pytest.approx(_inside_mean(ds, (32, 32), (12, 8)), rel=1e-4)
    observer = sr.content.get_observer_contexts()[0].observer_identifying_attributes
    assert observer.name == "Kim^Minji" and observer.login_name == "kim"
    assert measured[1].describe()["mean"] == pytest.approx(mean.value, rel=1e-4)


def test_a_ct_mean_is_in_hounsfield_units_after_the_rescale():
    ds = _image(Modality="CT", SOPClassUID=pydicom.uid.CTImageStorage, RescaleSlope=2, RescaleIntercept=-1024)
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
    measured, _ = _report(ds, [_request(ds, "ellipse", [[20, 32], [44, 32], [32, 24], [32, 40]])])
    assert measured[0].mean_unit.value == "[hnsf'U]"
    assert measured[0].values["mean"] == pytest.approx(_inside_mean(ds, (32, 32), (12, 8)), rel=1e-4)


@pytest.mark.parametrize(
    "items, message",
    [
        ([], "1 to"),
        ([{"kind": "angle"}], "kind"),
        ([{"kind": "length", "points": [[1, 1]]}], r"must be 2 \[column"),
        ([{"kind": "length", "points": [[1, 1], [2, "x"]]}], "pairs"),
        ([{"kind": "length", "points": [[1, 1], [2, 2]], "sop_instance_uid": "1.2"}], "orthanc_instance_id"),
        ([{"kind": "length", "points": [[1, 1], [2, 2]], "frame": 0, "sop_instance_uid": "1",
           "orthanc_instance_id": "a"}], "frame"),
    ],
)  # fmt: skip
def test_malformed_requests_are_refused_with_the_reason(items, message):
    with pytest.raises(measurements.MeasurementInvalid, match=message):
        measurements.parse_request({"observer": {"name": "A"}, "measurements": items})


def test_geometry_off_the_image_or_without_area_is_refused():
    ds = _image()
    with pytest.raises(measurements.MeasurementInvalid, match=r"point \(65, 1\) lies outside the 64x64"):
        _report(ds, [_request(ds, "length", [[1, 1], [65, 1]])])
    with pytest.raises(measurements.MeasurementInvalid, match="no area"):
        _report(ds, [_request(ds, "ellipse", [[1, 1], [9, 1], [5, 1], [5, 1]])])


def test_the_sr_passes_dciodvfy(tmp_path):
    """dicom3tools' validator of the IOD: no Error line (its warnings are printed for the record)."""
    dciodvfy = shutil.which("dciodvfy")
    assert dciodvfy, "dciodvfy is missing: `make install` installs the Debian package dicom3tools"
    ds = _image()
    _, report = _report(ds, [_request(ds, "length", [[10, 10], [40, 50]]),
                             _request(ds, "ellipse", [[20, 32], [44, 32], [32, 24], [32, 40]])])  # fmt: skip
    path = tmp_path / "measurements.dcm"
    report.save_as(path, enforce_file_format=True)
    result = subprocess.run([dciodvfy, str(path)], capture_output=True, text=True, timeout=60, check=False)
    output = (result.stdout + result.stderr).splitlines()
    print("\n".join(output))
    assert "ComprehensiveSR" in output  # it recognised the IOD it checked
    assert [line for line in output if line.startswith("Error")] == []


# --- POST /measurement-reports on the real Orthanc -------------------------------------------------------
@pytest.fixture
def stored_image(settings):
    orthanc = OrthancClient(settings)
    ds = _image(PatientID="CDSS-AI-SR-TEST")
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    stored = orthanc.store(buffer.getvalue())
    yield ds, stored["ID"]
    orthanc.delete_study(ds.StudyInstanceUID)


def test_the_report_is_stored_in_orthanc(settings, stored_image):
    ds, instance = stored_image
    body = {"observer": {"name": "Kim^Minji"},
            "measurements": [_request(ds, "length", [[10, 10], [40, 50]], instance)]}  # fmt: skip
    client = create_app(settings).test_client()
    response = client.post("/measurement-reports", json=body, headers=TOKEN)
    assert response.status_code == 201, response.get_json()
    saved = response.get_json()
    assert saved["study_instance_uid"] == ds.StudyInstanceUID
    assert saved["measurements"][0]["length_mm"] == pytest.approx(50 * float(ds.PixelSpacing[0]), rel=1e-4)
    stored = pydicom.dcmread(io.BytesIO(OrthancClient(settings).instance_file(saved["orthanc_instance_id"])))
    assert stored.SOPInstanceUID == saved["sop_instance_uid"] and stored.Modality == "SR"


def test_the_endpoint_needs_the_token_and_names_what_is_wrong(settings, stored_image):
    ds, _ = stored_image
    client = create_app(settings).test_client()
    assert client.post("/measurement-reports", json={}).status_code == 401
    wrong = {"observer": {"name": "A"}, "measurements": [_request(ds, "length", [[1, 1], [2, 2]], "0" * 8)]}
    response = client.post("/measurement-reports", json=wrong, headers=TOKEN)
    assert response.status_code == 400 and "no longer in the PACS" in response.get_json()["error"]


def test_a_down_pacs_answers_503(settings):
    away = settings.model_copy(update={"orthanc_url": "http://127.0.0.1:1"})
    ds = _image()
    body = {"observer": {"name": "A"}, "measurements": [_request(ds, "length", [[1, 1], [2, 2]])]}
    response = create_app(away).test_client().post("/measurement-reports", json=body, headers=TOKEN)
    assert response.status_code == 503 and "Orthanc is unreachable" in response.get_json()["reason"]
