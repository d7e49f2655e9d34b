"""Real DICOM for tests and benchmarks (outside tests/ so benchmarks need not import a test module):
pydicom's bundled files, re-identified with fresh UIDs so each study is new to the (shared, persistent)
Orthanc."""

import copy
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


# The brain-tumour MR exam: (description, intensity scale of the head, of the lesion) per series.
EXAM_SERIES = [("AX T1", 1.0, 0.6), ("AX T1 POST GD", 1.0, 2.2), ("AX T2", 0.7, 1.8), ("AX FLAIR", 0.8, 2.0)]


def exam_instances(
    *,
    slices: int = 12,
    size: int = 64,
    study_date: str = "20260101",
    patient_id: str = "CDSS-TEST",
    z_offset: float = 0.0,
    spacing_mm: float = 5.0,
    study_uid: str | None = None,
    accession_number: str = "",
) -> list[pydicom.Dataset]:
    """A brain-tumour MR exam: one study, four axial series (T1, T1 post-contrast, T2, FLAIR by their
    SeriesDescription) of `slices` slices of `size` x `size` pixels each, sharing positions, orientation and
    FrameOfReferenceUID (the viewer's synchronised scrolling lines them up), with a head and a lesion drawn
    in. `z_offset` shifts the slices (a prior study lying elsewhere). Built from MR_small read once, pixels
    by numpy: fast enough for a 4 x 150-slice benchmark exam."""
    import numpy as np

    template = fresh_instance(patient_id=patient_id)
    study_uid = study_uid or generate_uid()
    frame_of_reference = generate_uid()
    pixel_mm = 220.0 / size
    axis = (np.arange(size) - size / 2 + 0.5) * pixel_mm  # mm from the centre
    y, x = np.meshgrid(axis, axis, indexing="ij")
    series_uids = [generate_uid() for _ in EXAM_SERIES]
    by_series: list[list[pydicom.Dataset]] = [[] for _ in EXAM_SERIES]
    for index in range(slices):
        z = (index - (slices - 1) / 2) * spacing_mm
        depth = 80 * (index - (slices - 1) / 2) / max(slices / 2, 1)  # the head spans the exam, however many slices
        head = np.clip(1 - (x / 80) ** 2 - (y / 95) ** 2 - (depth / 90) ** 2, 0, None) ** 0.25
        lesion = ((x - 25) ** 2 + (y + 20) ** 2 + depth**2) < 18**2
        for number, (description, head_scale, lesion_scale) in enumerate(EXAM_SERIES, start=1):
            dataset = copy.deepcopy(template)
            dataset.StudyInstanceUID, dataset.SeriesInstanceUID = study_uid, series_uids[number - 1]
            dataset.SOPInstanceUID = dataset.file_meta.MediaStorageSOPInstanceUID = generate_uid()
            dataset.FrameOfReferenceUID = frame_of_reference
            dataset.StudyDate = dataset.SeriesDate = dataset.ContentDate = study_date
            dataset.AccessionNumber = accession_number
            dataset.SeriesDescription, dataset.SeriesNumber, dataset.InstanceNumber = description, number, index + 1
            dataset.ImageOrientationPatient = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0]
            dataset.ImagePositionPatient = [float(axis[0]), float(axis[0]), z + z_offset]
            dataset.SliceLocation = z + z_offset
            dataset.SliceThickness = spacing_mm
            dataset.PixelSpacing = [pixel_mm, pixel_mm]
            dataset.Rows = dataset.Columns = size
            dataset.BitsAllocated, dataset.BitsStored, dataset.HighBit, dataset.PixelRepresentation = 16, 16, 15, 0
            dataset.WindowCenter, dataset.WindowWidth = 800, 1600
            pixels = 1500 * head * head_scale * np.where(lesion, lesion_scale, 1.0)
            dataset.PixelData = pixels.astype(np.uint16).tobytes()
            by_series[number - 1].append(dataset)
    return [dataset for series in by_series for dataset in series]
