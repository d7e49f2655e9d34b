"""Synthetic brain MR cases with lesions of known size, the augmentation the demo network is trained with,
and writers turning a volume into a DICOM MR series (one file per slice, or one Enhanced MR multi-frame).

Arrays are (slice, row, column) of an axial series: slices go inferior -> superior, rows anterior ->
posterior, columns patient right -> left (DICOM's LPS axes z, y, x). `spacing` follows the same order, in mm.
The MNI152 template comes from nilearn, a training/test dependency only: it is imported when first used.
Everything here is synthetic: nothing is patient data, and a lesion is a bright blob, not a tumour model.
"""

from __future__ import annotations

import io
from datetime import UTC, datetime
from functools import lru_cache
from typing import NamedTuple

import numpy as np
import pydicom
import torch
import torch.nn.functional as F
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

MR_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.4"
ENHANCED_MR_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.4.1"
TEMPLATE_SCALE = 1000.0  # template intensities (0..1) become scanner-like integers
# The template's 2 mm grid as an axial series: position of the first voxel (LPS mm), see template_volume().
TEMPLATE_ORIGIN = (-98.0, -98.0, -72.0)
# Width of the ramp at a lesion's edge. Kept far below the 2 mm voxel so that every voxel is clearly in or
# out: with a soft edge a network's volume depends on the lesion's contrast, and tests compare volumes
# with the truth within 10%. Real lesions are blurrier (a stated limitation of the demo model).
EDGE_MM = 0.25


class Case(NamedTuple):
    volume: np.ndarray  # float32 (slice, row, column)
    mask: np.ndarray  # uint8, 1 inside the lesion
    spacing: tuple[float, float, float]

    @property
    def lesion_ml(self) -> float:
        return lesion_ml(self.mask, self.spacing)


def lesion_ml(mask: np.ndarray, spacing: tuple[float, float, float]) -> float:
    return float(np.count_nonzero(mask) * np.prod(spacing) / 1000.0)


@lru_cache(maxsize=1)
def template_volume() -> np.ndarray:
    """The 2 mm MNI152 T1 template (99x117x95, RAS voxel order) as a 95-slice axial volume (95, 117, 99)."""
    from nilearn.datasets import load_mni152_template

    ras = load_mni152_template(resolution=2).get_fdata(dtype=np.float32)
    # RAS (x, y, z) -> LPS (z, y, x): flip x and y, then put z first.
    lps = np.ascontiguousarray(ras[::-1, ::-1, :].transpose(2, 1, 0)) * TEMPLATE_SCALE
    lps.flags.writeable = False
    return lps


def brain_mask(volume: np.ndarray) -> np.ndarray:
    """Voxels bright enough to be tissue: the template is skull-stripped, the other brain is a tissue crop."""
    return volume > 0.3 * np.percentile(volume[volume > volume.mean()], 95)


def insert_lesion(
    volume: np.ndarray,
    spacing: tuple[float, float, float],
    rng: np.random.Generator,
    radius_mm: float,
    contrast: float | None = None,
    irregularity: float = 0.25,
) -> tuple[np.ndarray, np.ndarray]:
    """A bright lesion (1.3-1.8x white matter) with an irregular outline and a soft edge (EDGE_MM), placed wholly
    inside tissue. Returns (new volume, mask); the mask is where the outline encloses the voxel centre."""
    tissue = brain_mask(volume)
    reference = float(np.percentile(volume[tissue], 95))
    contrast = contrast if contrast is not None else rng.uniform(1.3, 1.8)
    sp = np.asarray(spacing, dtype=np.float32)
    half = np.ceil(radius_mm * (1 + irregularity) / sp).astype(int) + 2
    # Random low-frequency outline: the radius varies with direction by a few plane waves on the sphere.
    waves = rng.normal(size=(3, 3))
    waves /= np.linalg.norm(waves, axis=1, keepdims=True)
    freqs, phases = rng.uniform(1.0, 3.0, 3), rng.uniform(0, 2 * np.pi, 3)
    grids = np.meshgrid(*[np.arange(-h, h + 1) * s for h, s in zip(half, sp, strict=True)], indexing="ij")
    offsets = np.stack(grids, axis=-1).astype(np.float32)
    dist = np.linalg.norm(offsets, axis=-1)
    unit = offsets / np.maximum(dist, 1e-6)[..., None]
    radius = radius_mm * (1 + irregularity * np.mean(np.cos(freqs * (unit @ waves.T) * np.pi + phases), axis=-1))
    inside = dist <= radius
    weight = np.clip((radius - dist) / EDGE_MM + 0.5, 0.0, 1.0)  # partial volume at the edge
    candidates = np.argwhere(tissue)
    for _ in range(200):
        centre = candidates[rng.integers(len(candidates))]
        lo, hi = centre - half, centre + half + 1
        if (lo < 0).any() or (hi > volume.shape).any():
            continue
        box = tuple(slice(a, b) for a, b in zip(lo, hi, strict=True))
        if tissue[box][weight > 0].all():
            break
    else:
        raise ValueError(f"no room for a {radius_mm} mm lesion inside this volume")
    out = volume.astype(np.float32, copy=True)
    texture = 1.0 + 0.05 * rng.standard_normal(weight.shape).astype(np.float32)
    out[box] = out[box] * (1 - weight) + weight * reference * contrast * texture
    mask = np.zeros(volume.shape, dtype=np.uint8)
    mask[box] = inside
    return out, mask


def make_case(
    seed: int,
    lesion_radius_mm: float | None = 10.0,
    contrast: float | None = 1.6,
    volume: np.ndarray | None = None,
    spacing: tuple[float, float, float] = (2.0, 2.0, 2.0),
) -> Case:
    """One synthetic case: the template (or `volume`) with one lesion; no lesion when the radius is None.
    The default contrast (1.6x white matter, the middle of the training range) keeps test cases comparable;
    None draws it like training does."""
    base = template_volume() if volume is None else volume
    if lesion_radius_mm is None:
        return Case(base.astype(np.float32), np.zeros(base.shape, np.uint8), spacing)
    rng = np.random.default_rng(seed)
    image, mask = insert_lesion(base, spacing, rng, lesion_radius_mm, contrast)
    return Case(image, mask, spacing)


def augment(
    volume: np.ndarray,
    mask: np.ndarray,
    rng: np.random.Generator,
    patch: tuple[int, int, int] | None = None,
    reference: float | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Training augmentation: a small affine (rotation up to 10 degrees, scale 0.9-1.1, shift) sampled into
    `patch` (default: the whole grid; a patch is centred near the lesion or on random tissue), then intensity
    scale and gamma, a smooth multiplicative bias field and Rician noise. A third of the patches are exact
    crops, without interpolation, so that the network also learns edges as sharp as the ones it will see.
    `reference` is the white-matter level (default: measured). Assumes isotropic voxels."""
    shape = np.array(volume.shape)
    out = np.array(patch if patch is not None else volume.shape)
    if patch is not None:
        pool = np.argwhere(mask) if mask.any() and rng.random() < 0.7 else np.argwhere(brain_mask(volume))
        centre = pool[rng.integers(len(pool))] + rng.integers(-out // 4, out // 4 + 1)
    else:
        centre = (shape - 1) / 2 + rng.uniform(-4, 4, 3)
    matrix = np.eye(3)
    if patch is None or rng.random() < 2 / 3:
        a, b, c = np.deg2rad(rng.uniform(-10, 10, 3))
        rot = (
            np.array([[1, 0, 0], [0, np.cos(a), -np.sin(a)], [0, np.sin(a), np.cos(a)]])
            @ np.array([[np.cos(b), 0, np.sin(b)], [0, 1, 0], [-np.sin(b), 0, np.cos(b)]])
            @ np.array([[np.cos(c), -np.sin(c), 0], [np.sin(c), np.cos(c), 0], [0, 0, 1]])
        )
        matrix = rot * rng.uniform(0.9, 1.1)
    grid = np.stack(np.meshgrid(*[np.arange(n) - n // 2 for n in out], indexing="ij"), axis=-1)
    src = grid @ matrix.T + centre  # source voxel index of every output voxel (integers for an exact crop)
    norm = (2 * src / (shape - 1) - 1).astype(np.float32)  # [-1, 1] over the whole volume
    grid_t = torch.from_numpy(norm[..., ::-1].copy())[None]  # grid_sample wants (column, row, slice)
    stack = torch.from_numpy(np.stack([volume, mask]).astype(np.float32))[None]
    image = F.grid_sample(stack[:, :1], grid_t, mode="bilinear", align_corners=True)[0, 0].numpy()
    label = F.grid_sample(stack[:, 1:], grid_t, mode="nearest", align_corners=True)[0, 0].numpy()

    top = reference if reference is not None else float(np.percentile(volume[brain_mask(volume)], 95))
    z, y, x = norm[..., 0], norm[..., 1], norm[..., 2]
    k = rng.normal(0, 0.15, 9)
    bias = np.exp(
        k[0] * z
        + k[1] * y
        + k[2] * x
        + k[3] * z * y
        + k[4] * y * x
        + k[5] * z * x
        + k[6] * (z * z - 0.33)
        + k[7] * (y * y - 0.33)
        + k[8] * (x * x - 0.33)
    )
    image = top * (np.clip(image, 0, None) / top) ** rng.uniform(0.7, 1.4) * bias * rng.uniform(0.7, 1.3)
    sigma = rng.uniform(0.0, 0.06) * top
    image = np.hypot(image + rng.normal(0, sigma, image.shape), rng.normal(0, sigma, image.shape))
    return image.astype(np.float32), label.astype(np.uint8)


def _base_dataset(sop_class: str, ids: dict[str, str], series_description: str, now: datetime) -> Dataset:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = sop_class
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = sop_class
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.ImageType = ["DERIVED", "SECONDARY", "OTHER"]  # synthetic, never acquired
    ds.StudyDate = ds.SeriesDate = ds.ContentDate = now.strftime("%Y%m%d")
    ds.StudyTime = ds.SeriesTime = ds.ContentTime = now.strftime("%H%M%S")
    ds.Modality = "MR"
    ds.Manufacturer = "CDSS synthetic"
    ds.ReferringPhysicianName = ""
    ds.PatientName = ids["patient_name"]
    ds.PatientID = ids["patient_id"]
    ds.PatientBirthDate = ""
    ds.PatientSex = "O"
    ds.StudyInstanceUID = ids["study_instance_uid"]
    ds.SeriesInstanceUID = ids["series_instance_uid"]
    ds.FrameOfReferenceUID = ids["frame_of_reference_uid"]
    ds.StudyID = "1"
    ds.AccessionNumber = ids["accession_number"]
    ds.SeriesNumber = ids["series_number"]
    ds.SeriesDescription = series_description
    ds.BodyPartExamined = "BRAIN"
    ds.PositionReferenceIndicator = ""
    ds.ScanningSequence = "GR"
    ds.SequenceVariant = "SP"
    ds.ScanOptions = ""
    ds.MRAcquisitionType = "3D"
    ds.RepetitionTime = 8.2
    ds.EchoTime = 3.2
    ds.FlipAngle = 8
    ds.MagneticFieldStrength = 3
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated = 16
    ds.BitsStored = 16
    ds.HighBit = 15
    ds.PixelRepresentation = 0
    return ds


ID_KEYS = {
    "patient_id",
    "patient_name",
    "study_instance_uid",
    "series_instance_uid",
    "accession_number",
    "series_number",
    "frame_of_reference_uid",
}


def _ids(ids: dict[str, str | int | None]) -> dict[str, str]:
    if unknown := set(ids) - ID_KEYS:
        raise TypeError(f"unknown DICOM id argument(s): {', '.join(sorted(unknown))}")
    out = {
        "patient_id": ids.get("patient_id") or "SYNTH-0001",
        "patient_name": ids.get("patient_name") or "Synthetic^Lesion",
        "study_instance_uid": ids.get("study_instance_uid") or generate_uid(),
        "series_instance_uid": ids.get("series_instance_uid") or generate_uid(),
        "accession_number": ids.get("accession_number") or "",
        "series_number": str(ids.get("series_number") or 1),
    }
    out["frame_of_reference_uid"] = ids.get("frame_of_reference_uid") or generate_uid(
        entropy_srcs=[out["study_instance_uid"], "frame-of-reference"]
    )
    return out


def _to_bytes(ds: Dataset) -> bytes:
    buffer = io.BytesIO()
    pydicom.dcmwrite(buffer, ds, enforce_file_format=True)
    return buffer.getvalue()


def _pixels(volume: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(volume), 0, 65535).astype(np.uint16)


def write_series(
    volume: np.ndarray,
    spacing: tuple[float, float, float],
    *,
    origin: tuple[float, float, float] = TEMPLATE_ORIGIN,
    series_description: str = "T1 AX",
    when: datetime | None = None,
    **ids: str | int | None,
) -> list[bytes]:
    """One MR Image Storage file per slice of an axial volume (slice, row, column); `origin` is the LPS
    position (x, y, z) of the first voxel. `ids`: patient_id, patient_name, study_instance_uid,
    series_instance_uid, accession_number, series_number, frame_of_reference_uid (generated when left out).
    Instance UIDs derive from the series UID, so equal ids give equal files except for the date and time;
    `when` (default: now) is the study, series and content date and time."""
    ids = _ids(ids)
    now = when or datetime.now(UTC)
    pixels = _pixels(volume)
    dz, dr, dc = spacing
    files = []
    for k, plane in enumerate(pixels):
        ds = _base_dataset(MR_IMAGE_STORAGE, ids, series_description, now)
        ds.SOPInstanceUID = generate_uid(entropy_srcs=[ids["series_instance_uid"], str(k)])
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        ds.InstanceNumber = k + 1
        ds.ImagePositionPatient = [origin[0], origin[1], origin[2] + k * dz]
        ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
        ds.SliceLocation = origin[2] + k * dz
        ds.PixelSpacing = [dr, dc]
        ds.SliceThickness = dz
        ds.SpacingBetweenSlices = dz
        ds.Rows, ds.Columns = plane.shape
        ds.WindowCenter, ds.WindowWidth = 500, 1200
        ds.PixelData = plane.tobytes()
        files.append(_to_bytes(ds))
    return files


def write_enhanced(
    volume: np.ndarray,
    spacing: tuple[float, float, float],
    *,
    origin: tuple[float, float, float] = TEMPLATE_ORIGIN,
    series_description: str = "T1 AX enhanced",
    **ids: str | int | None,
) -> bytes:
    """The same volume as one Enhanced MR Image Storage instance (multi-frame, per-frame plane positions);
    `ids` as for write_series()."""
    ids = _ids(ids)
    ds = _base_dataset(ENHANCED_MR_IMAGE_STORAGE, ids, series_description, datetime.now(UTC))
    for tag in ("ScanningSequence", "SequenceVariant", "ScanOptions", "RepetitionTime", "EchoTime", "FlipAngle"):
        delattr(ds, tag)  # these live in functional groups in the enhanced object; the reader does not need them
    ds.ImageType = ["DERIVED", "SECONDARY", "VOLUME", "NONE"]
    ds.SOPInstanceUID = generate_uid(entropy_srcs=[ids["series_instance_uid"], "enhanced"])
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.InstanceNumber = 1
    ds.ContentQualification = "RESEARCH"
    ds.AcquisitionDateTime = ds.ContentDate + ds.ContentTime
    ds.NumberOfFrames = len(volume)
    ds.Rows, ds.Columns = volume.shape[1:]
    dz, dr, dc = spacing
    measures, orientation = Dataset(), Dataset()
    measures.PixelSpacing = [dr, dc]
    measures.SliceThickness = dz
    measures.SpacingBetweenSlices = dz
    orientation.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
    shared = Dataset()
    shared.PixelMeasuresSequence = [measures]
    shared.PlaneOrientationSequence = [orientation]
    ds.SharedFunctionalGroupsSequence = [shared]
    frames = []
    for k in range(len(volume)):
        position, content, frame = Dataset(), Dataset(), Dataset()
        position.ImagePositionPatient = [origin[0], origin[1], origin[2] + k * dz]
        content.DimensionIndexValues = [k + 1]
        frame.PlanePositionSequence = [position]
        frame.FrameContentSequence = [content]
        frames.append(frame)
    ds.PerFrameFunctionalGroupsSequence = frames
    ds.PixelData = _pixels(volume).tobytes()
    return _to_bytes(ds)
