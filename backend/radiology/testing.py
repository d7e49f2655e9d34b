"""Real DICOM for tests and benchmarks (outside tests/ so benchmarks need not import a test module):
pydicom's bundled files, re-identified with fresh UIDs so each study is new to the (shared, persistent)
Orthanc."""

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


def series_instances(
    count: int,
    *,
    description: str = "AX T1",
    patient_id: str = "CDSS-TEST",
    study_uid: str | None = None,
    series_number: int = 1,
    accession_number: str = "",
    size: int | None = None,
) -> list[pydicom.Dataset]:
    """A multi-slice MR series built from MR_small: one study, one series, `count` slices with their own
    positions. `size` (pixels per side) makes larger slices (for the benchmark)."""
    import numpy as np

    study_uid = study_uid or generate_uid()
    series_uid = generate_uid()
    slices = []
    for index in range(count):
        dataset = fresh_instance(patient_id=patient_id, study_uid=study_uid, series_uid=series_uid)
        dataset.SeriesDescription = description
        dataset.SeriesNumber = series_number
        dataset.InstanceNumber = index + 1
        dataset.AccessionNumber = accession_number
        dataset.ImagePositionPatient = [0.0, 0.0, float(index)]
        dataset.SliceLocation = float(index)
        if size:
            pixels = (np.random.default_rng(index).integers(0, 4000, (size, size))).astype(np.uint16)
            dataset.Rows = dataset.Columns = size
            dataset.BitsAllocated, dataset.BitsStored, dataset.HighBit = 16, 16, 15
            dataset.PixelRepresentation = 0
            dataset.PixelData = pixels.tobytes()
        slices.append(dataset)
    return slices
