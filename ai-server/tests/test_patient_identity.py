"""One StudyInstanceUID that also names another patient's images (a CONFLICT the CDSS keeps apart,
docs/radiology.md "Identity rules"): the segmentation pipeline reads only the job's patient's images, here
from the real Orthanc, where both patients' files sit under the very same study, series and instance UIDs."""

import uuid

import numpy as np
import pytest
from fake_context import FakeContext
from pydicom.uid import generate_uid
from test_segmentation import MODEL_DIR

from ai_server import synthetic
from ai_server.orthanc import OrthancClient
from ai_server.pipelines.base import InvalidJob
from ai_server.pipelines.segmentation import SegmentationPipeline
from ai_server.registry import load_model_directory


@pytest.fixture(scope="module")
def shared_uids(settings):
    """Patient "mine" with 4 slices and patient "theirs" with 6, both under one study and series UID."""
    study_uid, series_uid = generate_uid(), generate_uid()
    patients = {"mine": (f"ID-MINE-{uuid.uuid4().hex[:6]}", 4), "theirs": (f"ID-THEIRS-{uuid.uuid4().hex[:6]}", 6)}
    orthanc = OrthancClient(settings)
    for patient_id, slices in patients.values():
        for data in synthetic.write_series(
            np.zeros((slices, 16, 16)), (5.0, 4.0, 4.0), study_instance_uid=study_uid,
            series_instance_uid=series_uid, patient_id=patient_id,
        ):  # fmt: skip
            orthanc.store(data)
    yield study_uid, {name: patient_id for name, (patient_id, _) in patients.items()}
    orthanc.delete_study(study_uid)  # both patients' studies: Orthanc keys a study by PatientID too


def read(settings, study_uid: str, patient_id: str) -> list:
    pipeline, ctx = SegmentationPipeline(), FakeContext(OrthancClient(settings))
    job_input = {"kind": "dicom-study", "study_instance_uid": study_uid, "patient_id": patient_id}
    spec = load_model_directory(MODEL_DIR, "cpu").manifest["input"]
    return [pipeline.fetch(series, ctx) for series in pipeline.choose_series(job_input, spec, ctx)]


def test_each_patient_gets_only_their_own_images(settings, shared_uids):
    study_uid, ids = shared_uids
    for name, slices in (("mine", 4), ("theirs", 6)):
        [datasets] = read(settings, study_uid, ids[name])
        assert len(datasets) == slices
        assert {ds.PatientID for ds in datasets} == {ids[name]}


def test_a_patient_without_images_under_the_uid_is_an_invalid_job(settings, shared_uids):
    with pytest.raises(InvalidJob, match="not in the PACS"):
        read(settings, shared_uids[0], "ID-NOBODY")
