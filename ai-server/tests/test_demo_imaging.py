"""The demo imaging make run loads (ai_server.demo_imaging): known volumes that make a trend, the same UIDs on
every run and in every checkout, and a complete directory left as it is."""

import io
import json
from pathlib import Path

import numpy as np
import pydicom
import pytest
from fake_context import FakeContext, FakeOrthanc

from ai_server import demo_imaging
from ai_server.pipelines.segmentation import SegmentationPipeline, guess_sequence

MODEL_MANIFEST = Path(__file__).resolve().parents[1] / "models" / "mri-lesion-demo" / "1.1.0" / "manifest.json"


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo") / "imaging"
    manifest, wrote = demo_imaging.generate(out)
    return out, manifest, wrote


def test_three_dates_of_one_patient_fall_then_rise_by_the_stated_thresholds(written):
    out, manifest, wrote = written
    assert wrote and json.loads((out / demo_imaging.MANIFEST).read_text()) == manifest
    followed = sorted((s for s in manifest["studies"] if s["mrn"] == "MRN100012"), key=lambda s: s["study_date"])
    assert [s["study_date"] for s in followed] == ["2026-06-02", "2026-09-01", "2026-11-24"]
    baseline, nadir, last = (s["lesion_ml"] for s in followed)
    assert nadir <= 0.35 * baseline  # >= 65 % decrease: partial response (shared/STANDARDS.md section 4)
    assert last >= 1.4 * nadir  # >= 40 % increase from the nadir: progression
    assert all(s["sign_off"] for s in followed)
    assert [s["sign_off"] for s in manifest["studies"] if s["mrn"] != "MRN100012"] == [False, False]
    assert len({s["study_instance_uid"] for s in manifest["studies"]}) == len(manifest["studies"])


def test_files_carry_the_patient_the_date_and_the_uids_of_the_manifest(written):
    out, manifest, _ = written
    study = manifest["studies"][1]
    assert len(study["files"]) == study["instances"] == 4 * 95
    assert [(s["sequence"], s["instances"]) for s in study["series"]] == [("T1", 95), ("T1C", 95), ("T2", 95),
                                                                         ("FLAIR", 95)]  # fmt: skip
    first = pydicom.dcmread(out / study["files"][0])
    assert (first.PatientID, first.StudyDate, first.StudyInstanceUID, first.SeriesInstanceUID) == (
        study["mrn"],
        study["study_date"].replace("-", ""),
        study["study_instance_uid"],
        study["series_instance_uid"],
    )
    assert "T1" in first.SeriesDescription.split()  # what the demo model's input spec selects
    # The T1 keeps the one-series demo's UID (its analyses stay valid); the others have their own.
    assert study["series_instance_uid"] == demo_imaging._uid(study["mrn"], study["study_date"], "series")
    assert study["series"][0]["series_instance_uid"] == study["series_instance_uid"]
    assert len({s["series_instance_uid"] for s in study["series"]}) == 4
    assert (out / manifest["expression"][0]["file"]).read_bytes() == demo_imaging.EXAMPLE_PROFILE.read_bytes()


def test_the_four_series_share_one_grid_and_the_segmentation_reads_the_t1(written):
    out, manifest, _ = written
    study = manifest["studies"][0]
    files = [(out / name).read_bytes() for name in study["files"]]
    headers = [pydicom.dcmread(io.BytesIO(data), stop_before_pixels=True) for data in files]
    geometry = {(h.SeriesInstanceUID, str(h.ImagePositionPatient), h.FrameOfReferenceUID) for h in headers}
    assert len({g[1:] for g in geometry}) == 95  # the same 95 positions and frame of reference in each series
    spec = json.loads(MODEL_MANIFEST.read_text())["input"]
    ctx = FakeContext(FakeOrthanc(files))
    job_input = {"study_instance_uid": study["study_instance_uid"], "series_instance_uids": []}
    [chosen] = SegmentationPipeline().choose_series(job_input, spec, ctx)
    assert chosen["MainDicomTags"]["SeriesInstanceUID"] == study["series_instance_uid"]
    descriptions = [s["description"] for s in study["series"]]
    by_sequence = {description: guess_sequence(description) for description in descriptions}
    assert sorted(by_sequence.values()) == ["FLAIR", "T1", "T1C", "T2"], by_sequence


def test_the_derived_sequences_look_their_part():
    """A demo picture, not physics: fluid bright in the T2 and dark in the FLAIR, the lesion bright in both,
    its rim brighter after contrast."""
    from ai_server import demo_contrasts, synthetic

    spec = demo_imaging.STUDIES[0]
    case = synthetic.make_case(seed=spec.seed, lesion_radius_mm=spec.lesion_radius_mm)
    base = synthetic.template_volume()
    volumes = demo_contrasts.exam(case, base)
    assert list(volumes) == [s.name for s in demo_contrasts.SEQUENCES]
    assert np.array_equal(volumes["T1"], case.volume)
    level = np.percentile(base[synthetic.brain_mask(base)], 95)
    lesion = case.mask.astype(bool)
    white = (base > 0.9 * level) & ~lesion
    fluid = (base > 0.1 * level) & (base < 0.25 * level) & ~lesion
    mean = {name: {"white": v[white].mean(), "fluid": v[fluid].mean(), "lesion": v[lesion].mean()}
            for name, v in volumes.items()}  # fmt: skip
    assert mean["T2"]["fluid"] > 2 * mean["T2"]["white"] and mean["T2"]["lesion"] > 2 * mean["T2"]["white"]
    assert mean["FLAIR"]["fluid"] < 0.5 * mean["FLAIR"]["white"] < mean["FLAIR"]["lesion"] / 2
    gain = volumes["T1C"][lesion] / volumes["T1"][lesion]  # after / before "contrast": a bright rim, a darker core
    assert np.allclose(sorted({round(float(g), 3) for g in gain}), [demo_contrasts.CORE_GAIN, demo_contrasts.RIM_GAIN])
    assert np.array_equal(volumes["T1C"][~lesion], volumes["T1"][~lesion])
    assert all((v[base == 0] == 0).all() for v in volumes.values())  # background stays black


def test_uids_are_the_same_on_every_run_and_a_complete_directory_is_kept(written):
    out, manifest, _ = written
    study = manifest["studies"][0]
    assert demo_imaging._uid(study["mrn"], study["study_date"], "study") == study["study_instance_uid"]
    stamp = (out / study["files"][0]).stat().st_mtime_ns
    again, wrote = demo_imaging.generate(out)
    assert (again, wrote) == (manifest, False)
    assert (out / study["files"][0]).stat().st_mtime_ns == stamp
    (out / study["files"][3]).unlink()  # incomplete: written again
    assert demo_imaging.generate(out)[1] is True
