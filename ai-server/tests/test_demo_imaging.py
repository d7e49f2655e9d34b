"""The demo imaging make run loads (ai_server.demo_imaging): known volumes that make a trend, the same UIDs on
every run and in every checkout, and a complete directory left as it is."""

import json

import pydicom
import pytest

from ai_server import demo_imaging


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
    assert len(study["files"]) == study["instances"] == 95
    first = pydicom.dcmread(out / study["files"][0])
    assert (first.PatientID, first.StudyDate, first.StudyInstanceUID, first.SeriesInstanceUID) == (
        study["mrn"],
        study["study_date"].replace("-", ""),
        study["study_instance_uid"],
        study["series_instance_uid"],
    )
    assert "T1" in first.SeriesDescription.split()  # what the demo model's input spec selects
    assert (out / manifest["expression"][0]["file"]).read_bytes() == demo_imaging.EXAMPLE_PROFILE.read_bytes()


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
