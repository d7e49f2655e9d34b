"""DICOM instances -> volume: sorting, geometry, Enhanced multi-frame, and inconsistent series rejected."""

import io
import random

import highdicom as hd
import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_file

from ai_server import synthetic
from ai_server.dicom_series import read_series
from ai_server.pipelines.base import JobFailed

SPACING = (3.0, 1.5, 1.25)


@pytest.fixture(scope="module")
def volume() -> np.ndarray:
    return np.random.default_rng(0).integers(0, 2000, (7, 12, 10)).astype(np.float32)


def parse(files: list[bytes]) -> list[pydicom.Dataset]:
    return [pydicom.dcmread(io.BytesIO(data)) for data in files]


@pytest.fixture
def datasets(volume) -> list[pydicom.Dataset]:
    return parse(synthetic.write_series(volume, SPACING, series_instance_uid="1.2.826.0.1.3680043.8.498.77"))


def test_round_trip_keeps_pixels_and_geometry(volume, datasets):
    result = read_series(datasets)
    np.testing.assert_array_equal(result.array, volume)
    assert result.spacing == SPACING
    assert result.series_uid == "1.2.826.0.1.3680043.8.498.77"
    # (slice, row, column) -> LPS: columns along +x, rows along +y, slices along +z from the first position.
    expected = np.array([[0, 0, 1.25, -98], [0, 1.5, 0, -98], [3, 0, 0, -72], [0, 0, 0, 1]])
    np.testing.assert_allclose(result.affine, expected)


def test_shuffled_slices_are_sorted_by_position(volume, datasets):
    shuffled = datasets[:]
    random.Random(3).shuffle(shuffled)
    result = read_series(shuffled)
    np.testing.assert_array_equal(result.array, volume)
    assert [ds.InstanceNumber for ds in result.datasets] == list(range(1, len(volume) + 1))


def test_rescale_slope_and_intercept_are_applied(volume, datasets):
    for ds in datasets:
        ds.RescaleSlope, ds.RescaleIntercept = 2, -100
    np.testing.assert_array_equal(read_series(datasets).array, volume * 2 - 100)


def test_mixed_orientation_is_rejected(datasets):
    datasets[3].ImageOrientationPatient = [1, 0, 0, 0, 0.8, 0.6]
    with pytest.raises(JobFailed, match=r"series 1\.2\.826\.0\.1\.3680043\.8\.498\.77: .*different orientations"):
        read_series(datasets)


def test_missing_slice_is_rejected(datasets):
    del datasets[4]
    with pytest.raises(JobFailed, match=r"slice spacing varies from 3\.00 to 6\.00 mm"):
        read_series(datasets)


def test_duplicate_slice_is_rejected(datasets):
    with pytest.raises(JobFailed, match="two slices lie at the same position"):
        read_series([*datasets, datasets[2]])


def test_different_matrix_size_is_rejected(datasets):
    small = datasets[1]
    small.Rows, small.Columns = 6, 5
    small.PixelData = np.zeros((6, 5), np.uint16).tobytes()
    with pytest.raises(JobFailed, match=r"different matrix sizes \(6x5, 12x10\)"):
        read_series(datasets)


def test_missing_position_is_rejected(datasets):
    del datasets[0].ImagePositionPatient
    with pytest.raises(JobFailed, match="has no ImagePositionPatient"):
        read_series(datasets)


def test_slices_shifted_in_plane_are_rejected(datasets):
    position = datasets[2].ImagePositionPatient
    datasets[2].ImagePositionPatient = [position[0] + 5, position[1], position[2]]
    with pytest.raises(JobFailed, match="not stacked along their normal"):
        read_series(datasets)


def test_truncated_pixel_data_is_rejected():
    broken = pydicom.dcmread(get_testdata_file("MR_truncated.dcm"))
    with pytest.raises(JobFailed, match="cannot be decoded"):
        read_series([broken])


def test_compressed_single_slice_reads_like_the_uncompressed_one():
    plain = read_series([pydicom.dcmread(get_testdata_file("MR_small.dcm"))])
    rle = read_series([pydicom.dcmread(get_testdata_file("MR_small_RLE.dcm"))])
    assert plain.array.shape == (1, 64, 64)
    np.testing.assert_array_equal(plain.array, rle.array)


def test_enhanced_multi_frame_reads_like_the_single_frame_series(volume, datasets):
    enhanced = pydicom.dcmread(io.BytesIO(synthetic.write_enhanced(volume, SPACING)))
    result = read_series([enhanced])
    single = read_series(datasets)
    np.testing.assert_array_equal(result.array, volume)
    np.testing.assert_allclose(result.affine, single.affine)
    assert result.datasets == [enhanced]


def test_legacy_converted_multi_frame_with_reversed_frames(volume, datasets):
    """A multi-frame object built by highdicom from the slices in reverse order: frames are re-sorted by
    position, and in_source_order() puts a label map back in the object's own frame order."""
    for ds in datasets:
        ds.ImageType = ["ORIGINAL", "PRIMARY", "M", "ND"]  # what the legacy conversion expects of MR images
    converted = hd.legacy.LegacyConvertedEnhancedMRImage(
        datasets[::-1], series_instance_uid=hd.UID(), series_number=2, sop_instance_uid=hd.UID(), instance_number=1
    )
    reread = pydicom.dcmread(io.BytesIO(_to_bytes(converted)))
    result = read_series([reread])
    np.testing.assert_array_equal(result.array, volume)
    np.testing.assert_array_equal(result.in_source_order(result.array), reread.pixel_array)


def test_multi_frame_mixed_with_single_frames_is_rejected(volume, datasets):
    enhanced = pydicom.dcmread(io.BytesIO(synthetic.write_enhanced(volume, SPACING, series_instance_uid="1.2.3")))
    for ds in datasets:
        ds.SeriesInstanceUID = "1.2.3"
    with pytest.raises(JobFailed, match="mixes a multi-frame image"):
        read_series([enhanced, *datasets])


def test_empty_series_is_rejected():
    with pytest.raises(JobFailed, match="no instances"):
        read_series([])


def _to_bytes(ds: pydicom.Dataset) -> bytes:
    buffer = io.BytesIO()
    ds.save_as(buffer)
    return buffer.getvalue()
