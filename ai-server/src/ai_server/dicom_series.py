"""The instances of one DICOM series -> a 3-D volume with its geometry.

Single-frame images are sorted by their position along the slice normal; an Enhanced (multi-frame) image
is read from its functional groups. Anything that does not make one regular grid (mixed orientations or
matrix sizes, duplicate positions, missing slices) raises JobFailed naming the series, because a volume
measured on such a grid would be wrong without anyone noticing.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from pydicom.dataset import Dataset
from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian

from ai_server.pipelines.base import JobFailed

ORIENTATION_TOLERANCE = 1e-3  # direction cosines
SPACING_TOLERANCE = 0.01  # relative spread of slice gaps accepted as one spacing


@dataclass
class Volume:
    array: np.ndarray  # float32 (slice, row, column), rescale slope and intercept applied
    affine: np.ndarray  # 4x4: (slice, row, column, 1) index -> LPS patient position in mm
    spacing: tuple[float, float, float]  # mm along (slice, row, column)
    datasets: list[Dataset]  # single-frame: sorted like `array`; multi-frame: the one instance
    frame_order: np.ndarray  # source frame index of each slice (identity for single-frame series)
    series_uid: str

    def in_source_order(self, array: np.ndarray) -> np.ndarray:
        """A (slice, row, column) array in the source's frame order: what a DICOM SEG's frames follow."""
        out = np.empty_like(array)
        out[self.frame_order] = array
        return out

    @property
    def ras_affine(self) -> np.ndarray:
        """The affine in NIfTI's RAS convention."""
        return np.diag([-1.0, -1.0, 1.0, 1.0]) @ self.affine


@dataclass
class _Frame:
    position: np.ndarray
    orientation: np.ndarray
    pixel_spacing: tuple[float, float]
    thickness: float | None


def _require(ds: Dataset, keyword: str, series: str):
    value = ds.get(keyword)
    if value is None:
        raise JobFailed(f"series {series}: an image has no {keyword}, so it cannot be placed in 3-D")
    return value


def _single_frame(ds: Dataset, series: str) -> _Frame:
    spacing = _require(ds, "PixelSpacing", series)
    thickness = ds.get("SliceThickness")
    return _Frame(
        np.asarray(_require(ds, "ImagePositionPatient", series), dtype=float),
        np.asarray(_require(ds, "ImageOrientationPatient", series), dtype=float),
        (float(spacing[0]), float(spacing[1])),
        float(thickness) if thickness else None,
    )


def _functional(groups: Dataset | None, shared: Dataset | None, sequence: str, keyword: str):
    """A value from the per-frame functional group, else the shared one."""
    for group in (groups, shared):
        if group is not None and sequence in group and keyword in group[sequence].value[0]:
            return group[sequence].value[0][keyword].value
    return None


def _multi_frames(ds: Dataset, series: str) -> list[_Frame]:
    shared = ds.SharedFunctionalGroupsSequence[0] if "SharedFunctionalGroupsSequence" in ds else None
    per_frame = ds.get("PerFrameFunctionalGroupsSequence") or [None] * int(ds.NumberOfFrames)
    frames = []
    for groups in per_frame:
        position = _functional(groups, shared, "PlanePositionSequence", "ImagePositionPatient")
        orientation = _functional(groups, shared, "PlaneOrientationSequence", "ImageOrientationPatient")
        spacing = _functional(groups, shared, "PixelMeasuresSequence", "PixelSpacing")
        thickness = _functional(groups, shared, "PixelMeasuresSequence", "SliceThickness")
        if position is None or orientation is None or spacing is None:
            raise JobFailed(
                f"series {series}: a frame of the multi-frame image has no plane position, orientation or pixel spacing"
            )
        frames.append(
            _Frame(
                np.asarray(position, float),
                np.asarray(orientation, float),
                (float(spacing[0]), float(spacing[1])),
                float(thickness) if thickness else None,
            )
        )
    return frames


def _rescale_parameters(ds: Dataset) -> tuple[float, float]:
    slope, intercept = float(ds.get("RescaleSlope", 1) or 1), float(ds.get("RescaleIntercept", 0) or 0)
    if "SharedFunctionalGroupsSequence" in ds:  # Enhanced objects keep it in a functional group
        shared = ds.SharedFunctionalGroupsSequence[0]
        slope = float(_functional(None, shared, "PixelValueTransformationSequence", "RescaleSlope") or slope)
        intercept = float(
            _functional(None, shared, "PixelValueTransformationSequence", "RescaleIntercept") or intercept
        )
    return slope, intercept


# Native little-endian pixel data of one plain greyscale frame is read straight from its bytes: pydicom's
# general decoder costs about a millisecond per slice, a tenth of a job's non-model time on a 95-slice series.
_NATIVE_LITTLE_ENDIAN = {ExplicitVRLittleEndian, ImplicitVRLittleEndian}


def _native_frame(ds: Dataset) -> np.ndarray | None:
    if ds.file_meta.get("TransferSyntaxUID") not in _NATIVE_LITTLE_ENDIAN or "NumberOfFrames" in ds:
        return None
    bits, signed = ds.get("BitsAllocated"), ds.get("PixelRepresentation", 0)
    if ds.get("SamplesPerPixel", 1) != 1 or bits not in (8, 16):
        return None
    if signed and ds.get("BitsStored") != bits:
        return None  # let pydicom decode it: signed samples needing sign extension
    rows, columns = ds.Rows, ds.Columns
    dtype = np.dtype(f"<{'i' if signed else 'u'}{bits // 8}")
    data = ds.PixelData
    if len(data) < rows * columns * dtype.itemsize:
        return None  # let pydicom decode (or reject) it: too short
    return np.frombuffer(data, dtype=dtype, count=rows * columns).reshape(rows, columns)


def _pixels(ds: Dataset, series: str) -> np.ndarray:
    try:
        native = _native_frame(ds)
        return native if native is not None else ds.pixel_array
    except Exception as exc:  # pydicom raises many types for truncated or undecodable pixel data
        raise JobFailed(
            f"series {series}: pixel data of instance {ds.get('SOPInstanceUID', '?')} cannot be decoded ({exc})"
        ) from exc


def read_series(datasets: list[Dataset]) -> Volume:
    if not datasets:
        raise JobFailed("the series has no instances")
    series = str(datasets[0].get("SeriesInstanceUID", "?"))
    if any(str(ds.get("SeriesInstanceUID", "?")) != series for ds in datasets):
        raise JobFailed(f"series {series}: the instances belong to more than one series")
    multi = [
        ds for ds in datasets if int(ds.get("NumberOfFrames", 1) or 1) > 1 or "PerFrameFunctionalGroupsSequence" in ds
    ]
    if multi and len(datasets) > 1:
        raise JobFailed(
            f"series {series}: mixes a multi-frame image with other instances; "
            "only one multi-frame image per series is supported"
        )
    if any(ds.get("SamplesPerPixel", 1) != 1 for ds in datasets):
        raise JobFailed(f"series {series}: colour images cannot be segmented")
    sizes = {(int(ds.Rows), int(ds.Columns)) for ds in datasets}
    if len(sizes) > 1:
        listed = ", ".join(f"{r}x{c}" for r, c in sorted(sizes))
        raise JobFailed(f"series {series}: images have different matrix sizes ({listed})")

    if multi:
        ds = multi[0]
        frames = _multi_frames(ds, series)
        slope, intercept = _rescale_parameters(ds)
        stack = _pixels(ds, series).reshape(len(frames), *sizes.pop()).astype(np.float32) * slope + intercept
    else:
        frames = [_single_frame(ds, series) for ds in datasets]
    orientation = frames[0].orientation
    if not np.allclose(np.stack([f.orientation for f in frames]), orientation, atol=ORIENTATION_TOLERANCE):
        raise JobFailed(f"series {series}: slices have different orientations, so they do not form one volume")
    if any(f.pixel_spacing != frames[0].pixel_spacing for f in frames):
        raise JobFailed(f"series {series}: slices have different pixel spacings")

    row_dir, col_dir = orientation[:3], orientation[3:]
    normal = np.cross(row_dir, col_dir)
    positions = np.stack([f.position for f in frames])
    distance = positions @ normal
    order = np.argsort(distance, kind="stable")
    distance, positions = distance[order], positions[order]
    gaps = np.diff(distance)
    if len(frames) > 1:
        if gaps.min() < 1e-3:
            at = distance[int(np.argmin(gaps))]
            raise JobFailed(f"series {series}: two slices lie at the same position ({at:.2f} mm along the normal)")
        step = float(np.median(gaps))
        if gaps.max() - gaps.min() > SPACING_TOLERANCE * step:
            raise JobFailed(
                f"series {series}: slice spacing varies from {gaps.min():.2f} to {gaps.max():.2f} mm "
                "(a slice is missing or the series is not one regular volume)"
            )
        in_plane = positions - np.outer(distance - distance[0], normal)
        if np.abs(in_plane - in_plane[0]).max() > 0.01 * step + 1e-3:
            raise JobFailed(f"series {series}: slices are not stacked along their normal (tilted or shifted)")
    else:
        step = frames[0].thickness or 1.0

    if multi:
        array, sources = stack[order], [multi[0]]
    else:
        sources = [datasets[i] for i in order]
        array = np.empty((len(sources), *sizes.pop()), dtype=np.float32)
        for k, ds in enumerate(sources):
            array[k] = _pixels(ds, series)  # converted to float32 as it is copied in
        # Slope and intercept applied to the whole stack at once, in float32 as they were slice by slice.
        rescale = np.array([_rescale_parameters(ds) for ds in sources], dtype=np.float32)[:, :, None, None]
        if (rescale[:, 0] != 1).any() or rescale[:, 1].any():
            array *= rescale[:, 0]
            array += rescale[:, 1]
        order = np.arange(len(sources))
    row_spacing, col_spacing = frames[0].pixel_spacing
    affine = np.eye(4)
    affine[:3, 0] = normal * step
    affine[:3, 1] = col_dir * row_spacing  # moving down a row follows the column direction cosine
    affine[:3, 2] = row_dir * col_spacing
    affine[:3, 3] = positions[0]
    return Volume(np.ascontiguousarray(array), affine, (step, row_spacing, col_spacing), sources, order, series)
