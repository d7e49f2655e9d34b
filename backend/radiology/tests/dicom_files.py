"""Real DICOM for tests: pydicom's bundled files, re-identified with fresh UIDs so each test's study is
new to the (shared, persistent) Orthanc."""

import io

import pydicom
from pydicom.data import get_testdata_file
from pydicom.uid import generate_uid


def fresh_instance(
    name: str = "MR_small.dcm",
    *,
    patient_id: str = "CDSS-TEST",
    study_uid: str | None = None,
    series_uid: str | None = None,
) -> pydicom.Dataset:
    dataset = pydicom.dcmread(get_testdata_file(name))
    dataset.StudyInstanceUID = study_uid or generate_uid()
    dataset.SeriesInstanceUID = series_uid or generate_uid()
    dataset.SOPInstanceUID = generate_uid()
    dataset.file_meta.MediaStorageSOPInstanceUID = dataset.SOPInstanceUID
    dataset.PatientID = patient_id
    return dataset


def to_bytes(dataset: pydicom.Dataset) -> bytes:
    buffer = io.BytesIO()
    dataset.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()
