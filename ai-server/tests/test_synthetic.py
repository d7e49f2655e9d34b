"""Synthetic cases, augmentation and the DICOM writers that the project's end-to-end tests rely on."""

import io

import numpy as np
import pydicom
import pytest

from ai_server import synthetic


@pytest.fixture(scope="module")
def case() -> synthetic.Case:
    return synthetic.make_case(seed=11, lesion_radius_mm=10.0)


def test_template_is_the_95_slice_axial_mni_volume():
    template = synthetic.template_volume()
    assert template.shape == (95, 117, 99)
    assert 900 < template.max() < 1000  # scaled to scanner-like integers


def test_case_is_reproducible_and_lesion_has_the_requested_size(case):
    again = synthetic.make_case(seed=11, lesion_radius_mm=10.0)
    np.testing.assert_array_equal(case.mask, again.mask)
    np.testing.assert_array_equal(case.volume, again.volume)
    sphere_ml = 4 / 3 * np.pi * 10.0**3 / 1000
    assert case.lesion_ml == pytest.approx(sphere_ml, rel=0.2)  # irregular outline, same order of volume
    assert case.lesion_ml == synthetic.lesion_ml(case.mask, case.spacing)
    assert synthetic.make_case(seed=12, lesion_radius_mm=10.0).mask.tolist() != case.mask.tolist()


def test_lesion_is_bright_and_inside_tissue(case):
    template = synthetic.template_volume()
    lesion = case.mask.astype(bool)
    assert synthetic.brain_mask(template)[lesion].all()
    white_matter = np.percentile(template[synthetic.brain_mask(template)], 95)
    assert case.volume[lesion].mean() > 1.2 * white_matter
    np.testing.assert_array_equal(case.volume[case.volume.shape[0] // 2 - 40], template[template.shape[0] // 2 - 40])


def test_case_without_lesion_is_the_template():
    empty = synthetic.make_case(seed=1, lesion_radius_mm=None)
    assert not empty.mask.any()
    assert empty.lesion_ml == 0
    np.testing.assert_array_equal(empty.volume, synthetic.template_volume())


def test_augmented_patch_keeps_the_label_with_the_image(case):
    image, mask = synthetic.augment(case.volume, case.mask, np.random.default_rng(5), patch=(48, 48, 48))
    assert image.shape == mask.shape == (48, 48, 48)
    assert set(np.unique(mask)) <= {0, 1}
    if mask.any():  # the label still marks the bright voxels
        assert image[mask == 1].mean() > image[mask == 0].mean() * 1.5


def test_augmented_volume_changes_intensities_but_not_much_the_lesion_size(case):
    image, mask = synthetic.augment(case.volume, case.mask, np.random.default_rng(6))
    assert image.shape == case.volume.shape
    assert not np.allclose(image, case.volume)
    assert 0.6 < mask.sum() / case.mask.sum() < 1.5  # scale 0.9-1.1 per axis


def test_series_has_one_mr_file_per_slice_with_the_given_ids(case):
    files = synthetic.write_series(
        case.volume,
        case.spacing,
        patient_id="P-42",
        patient_name="Doe^Jane",
        study_instance_uid="1.2.3.4",
        accession_number="ACC-1",
        series_description="T1 AX",
    )
    assert len(files) == 95
    first, last = (pydicom.dcmread(io.BytesIO(files[k])) for k in (0, -1))
    assert first.SOPClassUID == synthetic.MR_IMAGE_STORAGE
    assert first.file_meta.TransferSyntaxUID == pydicom.uid.ExplicitVRLittleEndian
    assert (first.PatientID, str(first.PatientName), first.StudyInstanceUID, first.AccessionNumber) == (
        "P-42",
        "Doe^Jane",
        "1.2.3.4",
        "ACC-1",
    )
    assert first.SeriesDescription == "T1 AX"
    assert (first.Rows, first.Columns) == (117, 99)
    assert [float(v) for v in first.PixelSpacing] == [2.0, 2.0]
    assert float(last.ImagePositionPatient[2]) - float(first.ImagePositionPatient[2]) == 94 * 2.0
    assert first.SeriesInstanceUID == last.SeriesInstanceUID
    uids = {pydicom.dcmread(io.BytesIO(f), stop_before_pixels=True).SOPInstanceUID for f in files}
    assert len(uids) == 95
    np.testing.assert_array_equal(first.pixel_array, np.rint(case.volume[0]))


def test_enhanced_writer_makes_one_multi_frame_instance(case):
    ds = pydicom.dcmread(io.BytesIO(synthetic.write_enhanced(case.volume, case.spacing)))
    assert ds.SOPClassUID == synthetic.ENHANCED_MR_IMAGE_STORAGE
    assert ds.NumberOfFrames == 95
    assert ds.pixel_array.shape == (95, 117, 99)
