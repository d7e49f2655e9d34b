"""The segmentation pipeline with the shipped demo model, on a synthetic 95-slice series served by an in-memory
stand-in for Orthanc (the transport is faked, the DICOM is real)."""

from __future__ import annotations

import gzip
import io
from pathlib import Path

import highdicom as hd
import nibabel as nib
import numpy as np
import pydicom
import pytest
import torch
from fake_context import FakeContext, FakeOrthanc
from PIL import Image

from ai_server import synthetic
from ai_server.pipelines.base import DEMO_DISCLAIMER, InvalidJob, JobFailed
from ai_server.pipelines.segmentation import SegmentationPipeline, guess_sequence, resample
from ai_server.registry import LoadedModel, load_model_directory

# The registry loads TorchScript too; its deprecation in favour of torch.export is not this test's concern.

MODEL_DIR = Path(__file__).resolve().parents[1] / "models" / "mri-lesion-demo" / "1.1.0"
STUDY_UID = "1.2.826.0.1.3680043.8.498.1001"


@pytest.fixture(scope="module")
def model() -> LoadedModel:
    return load_model_directory(MODEL_DIR, "cpu")


@pytest.fixture(scope="module")
def case() -> synthetic.Case:
    return synthetic.make_case(seed=42, lesion_radius_mm=15.0)


@pytest.fixture(scope="module")
def series(case) -> list[bytes]:
    return synthetic.write_series(
        case.volume, case.spacing, study_instance_uid=STUDY_UID, series_description="T1 AX", series_number=3
    )


def job(**input_fields) -> dict:
    return {
        "job_id": "job-1",
        "attempt": 1,
        "model": "mri-lesion-demo",
        "model_version": "1.1.0",
        "input": {"kind": "dicom-study", "study_instance_uid": STUDY_UID, "series_instance_uids": [], **input_fields},
    }


@pytest.fixture(scope="module")
def result(model, series):
    """One run on a study holding a localiser, a T2 and the T1 series: the input spec must pick the T1."""
    localiser = synthetic.write_series(
        np.zeros((1, 16, 16)),
        (5.0, 4.0, 4.0),
        study_instance_uid=STUDY_UID,
        series_description="LOCALIZER",
        series_number=1,
    )
    t2 = synthetic.write_series(
        np.zeros((3, 16, 16)),
        (5.0, 4.0, 4.0),
        study_instance_uid=STUDY_UID,
        series_description="T2 TSE AX",
        series_number=2,
    )
    ctx = FakeContext(FakeOrthanc([*localiser, *t2, *series]))
    outcome = SegmentationPipeline().run(job(), model, ctx)
    return outcome, ctx


def test_reported_lesion_volume_is_within_10_percent_of_the_truth(result, case, series):
    outcome, _ = result
    truth_uid = pydicom.dcmread(io.BytesIO(series[0]), stop_before_pixels=True).SeriesInstanceUID
    assert outcome.metrics["series_instance_uid"] == truth_uid
    assert outcome.metrics["volume_ml"]["lesion"] == pytest.approx(case.lesion_ml, rel=0.10)
    lesion = outcome.metrics["labels"]["lesion"]
    truth_slices = np.flatnonzero(case.mask.any(axis=(1, 2)))
    assert abs(lesion["bounding_box"]["slice"][0] - truth_slices[0]) <= 1
    assert abs(lesion["bounding_box"]["slice"][1] - truth_slices[-1]) <= 1
    assert lesion["slices"] == sorted(lesion["slices"]) and len(lesion["slices"]) >= len(truth_slices) - 2
    assert "lesion" in outcome.summary and DEMO_DISCLAIMER in outcome.summary
    assert outcome.disclaimer == DEMO_DISCLAIMER


def test_seg_is_readable_references_the_source_images_and_is_stored_in_orthanc(result, series):
    outcome, ctx = result
    _, data, content_type = ctx.artifacts["seg"]
    assert content_type == "application/dicom"
    seg = hd.seg.segread(io.BytesIO(data))
    assert "NOT FOR CLINICAL USE" in seg.SeriesDescription
    sources = {pydicom.dcmread(io.BytesIO(f), stop_before_pixels=True).SOPInstanceUID for f in series}
    referenced = {
        item.ReferencedSOPInstanceUID for ref in seg.ReferencedSeriesSequence for item in ref.ReferencedInstanceSequence
    }
    assert referenced == sources
    assert seg.get_segment_description(1).segment_label == "lesion"
    # The SEG's voxels are the reported ones.
    source_uids = [pydicom.dcmread(io.BytesIO(f), stop_before_pixels=True).SOPInstanceUID for f in series]
    labels = seg.get_pixels_by_source_instance(source_uids, assert_missing_frames_are_empty=True)
    assert int(labels.sum()) == outcome.metrics["labels"]["lesion"]["voxels"]
    assert ctx.orthanc.stored == [data]
    assert outcome.orthanc == {
        "seg_instance_id": list(ctx.orthanc.files)[-1],
        "seg_series_instance_uid": seg.SeriesInstanceUID,
    }


def test_nifti_mask_matches_the_source_grid(result, case):
    outcome, ctx = result
    _, data, _ = ctx.artifacts["mask"]
    image = nib.Nifti1Image.from_bytes(gzip.decompress(data))
    mask = np.asarray(image.dataobj)
    assert mask.shape == case.volume.shape
    assert int(mask.sum()) == outcome.metrics["labels"]["lesion"]["voxels"]
    dice = 2 * np.count_nonzero(mask & case.mask) / (np.count_nonzero(mask) + np.count_nonzero(case.mask))
    assert dice > 0.8
    # The first voxel sits at the series' first position, in RAS (LPS with x and y negated).
    np.testing.assert_allclose(image.affine[:3, 3], [98.0, 98.0, -72.0])


def test_overlays_decode_and_show_the_largest_lesion_slices(result, case):
    outcome, ctx = result
    overlays = sorted(name for name in ctx.artifacts if name.startswith("overlay-"))
    assert 1 <= len(overlays) <= 3
    largest = int(np.argmax(case.mask.sum(axis=(1, 2)))) + 1
    assert any(abs(int(name.split("-")[1]) - largest) <= 1 for name in overlays)
    for name in overlays:
        _, data, content_type = ctx.artifacts[name]
        assert content_type == "image/png"
        image = Image.open(io.BytesIO(data))
        image.load()
        pixels = np.asarray(image.convert("RGB")).astype(int)
        assert image.width >= 2 * case.volume.shape[2]
        assert ((pixels[..., 0] - pixels[..., 1]) > 60).any()  # red-tinted lesion voxels are drawn
    assert {a.name for a in outcome.artifacts} == {"seg", "mask", *overlays}


def test_stages_and_progress_are_reported(result):
    _, ctx = result
    assert ctx.stages == ["fetch", "volume", "preprocessing", "forward", "postprocessing", "writing"]
    stages = [stage for stage, _ in ctx.progressed]
    assert stages[0] == "fetching" and stages[-1] == "writing"
    assert {"fetching", "preprocessing", "inference", "writing"} <= set(stages)
    assert ctx.progressed[-1] == ("writing", 1.0)


def test_enhanced_multi_frame_series_gives_the_same_volume(model, case, result):
    enhanced = synthetic.write_enhanced(case.volume, case.spacing, study_instance_uid=STUDY_UID)
    ctx = FakeContext(FakeOrthanc([enhanced]))
    outcome = SegmentationPipeline().run(job(), model, ctx)
    assert outcome.metrics["volume_ml"] == result[0].metrics["volume_ml"]
    seg = hd.seg.segread(io.BytesIO(ctx.artifacts["seg"][1]))
    assert (
        seg.ReferencedSeriesSequence[0].ReferencedInstanceSequence[0].ReferencedSOPInstanceUID
        == pydicom.dcmread(io.BytesIO(enhanced), stop_before_pixels=True).SOPInstanceUID
    )


def test_study_without_a_t1_series_is_an_invalid_job(model):
    t2 = synthetic.write_series(
        np.zeros((3, 16, 16)), (5.0, 4.0, 4.0), study_instance_uid=STUDY_UID, series_description="T2 TSE AX"
    )
    with pytest.raises(InvalidJob, match=r"no MR series for channel 'T1' \(sequence T1 or description .*'T2 TSE AX'"):
        SegmentationPipeline().run(job(), model, FakeContext(FakeOrthanc(t2)))


def test_the_t1_is_chosen_over_a_post_contrast_t1_whose_description_also_says_t1(model):
    """The input spec's description pattern \\bT1\\b fits "T1 post GD" too: the sequence type decides, not
    the lower series number or the order."""
    grid = (np.ones((4, 8, 8)), (2.0, 2.0, 2.0))
    post = synthetic.write_series(*grid, study_instance_uid=STUDY_UID, series_description="T1 AX post GD",
                                  series_number=1)  # fmt: skip
    plain = synthetic.write_series(*grid, study_instance_uid=STUDY_UID, series_description="T1 AX", series_number=2)
    ctx = FakeContext(FakeOrthanc([*post, *plain]))
    [chosen] = SegmentationPipeline().choose_series(job()["input"], model.manifest["input"], ctx)
    assert chosen["MainDicomTags"]["SeriesDescription"] == "T1 AX"


def test_requested_series_missing_from_the_study_is_an_invalid_job(model, series):
    with pytest.raises(InvalidJob, match=r"has no series 9\.9\.9"):
        SegmentationPipeline().run(job(series_instance_uids=["9.9.9"]), model, FakeContext(FakeOrthanc(series)))


def test_series_with_a_missing_slice_fails_with_the_reason(model, series):
    with pytest.raises(JobFailed, match="slice spacing varies"):
        SegmentationPipeline().run(job(), model, FakeContext(FakeOrthanc(series[:40] + series[41:])))


def test_sequence_is_guessed_from_description_then_from_acquisition_parameters():
    assert guess_sequence("T1 AX") == "T1"
    assert guess_sequence("Sag MPRAGE") == "T1"
    assert guess_sequence("AX T1 POST GAD") == "T1C"
    assert guess_sequence("T2 FLAIR AX") == "FLAIR"
    assert guess_sequence("T2 TSE") == "T2"
    assert guess_sequence("series 5") is None
    header = pydicom.Dataset()
    header.ScanningSequence, header.RepetitionTime, header.EchoTime = "SE", 4500, 95
    assert guess_sequence("series 5", header) == "T2"
    header.ScanningSequence, header.RepetitionTime, header.EchoTime = "GR", 8, 3
    assert guess_sequence("series 5", header) == "T1"


def test_resample_puts_each_voxel_at_its_physical_position():
    """A ramp along patient z, resampled from 2 mm to 3 mm slices, still reads z at every new voxel."""
    src_affine = np.diag([2.0, 1.0, 1.0, 1.0])
    src_affine[:3, 3] = [10.0, 0, 0]  # (slice, row, column) -> (x, y, z) is only a scaling here
    z = 10.0 + 2.0 * np.arange(20, dtype=np.float32)
    image = torch.from_numpy(np.broadcast_to(z[:, None, None], (20, 4, 4)).copy())[None]
    dst_affine = np.diag([3.0, 1.0, 1.0, 1.0])
    dst_affine[:3, 3] = [10.0, 0, 0]
    out = resample(image, src_affine, dst_affine, (13, 4, 4))[0].numpy()
    np.testing.assert_allclose(out[:, 2, 2], 10.0 + 3.0 * np.arange(13), atol=1e-3)


def test_remembered_iod_lookups_answer_as_highdicom_tables_do():
    """The pipeline remembers highdicom's IOD table lookups (a speed-up): the answers stay the tables' ones."""
    from highdicom import _standard_utils

    remembered = _standard_utils.is_attribute_in_iod
    sop_classes = [synthetic.MR_IMAGE_STORAGE, synthetic.ENHANCED_MR_IMAGE_STORAGE, pydicom.uid.SegmentationStorage]
    for _ in range(2):  # the second time from memory
        for sop_class in sop_classes:
            for attribute in ("NumberOfFrames", "PixelData", "IconImageSequence", "ContentDate"):
                for exclude in (None, ["IconImageSequence"]):
                    expected = remembered.__wrapped__(attribute, sop_class, exclude)
                    assert remembered(attribute, pydicom.uid.UID(sop_class), exclude) == expected
        with pytest.raises(KeyError, match="No IOD found"):
            remembered("Rows", "1.2.3.4")
    mr = pydicom.Dataset()
    mr.SOPClassUID = synthetic.MR_IMAGE_STORAGE
    assert not _standard_utils.is_multiframe_image(mr)
