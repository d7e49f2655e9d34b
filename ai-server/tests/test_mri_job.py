"""MRI segmentation jobs end to end on the real servers: a generated 95-slice series with a lesion of
known size goes to Orthanc, the job goes through RabbitMQ, the result comes back with its artifacts."""

import os
import signal
import subprocess
import sys
import time
import uuid

import pydicom
import pytest
from conftest import drain, new_job, publish_job
from test_consumer import consume

from ai_server import synthetic
from ai_server.orthanc import OrthancClient

MODEL = "mri-lesion-demo"


def upload(settings, files: list[bytes]) -> None:
    orthanc = OrthancClient(settings)
    for data in files:
        orthanc.store(data)


@pytest.fixture(scope="module")
def lesion_study(settings):
    """A study in Orthanc: the template with one 12 mm lesion; returns (StudyInstanceUID, true volume mL)."""
    case = synthetic.make_case(seed=2026, lesion_radius_mm=12.0)
    study_uid = pydicom.uid.generate_uid()
    upload(
        settings,
        synthetic.write_series(
            case.volume,
            case.spacing,
            study_instance_uid=study_uid,
            patient_id=f"AI-{uuid.uuid4().hex[:8]}",
            accession_number="ACC-AI-1",
        ),
    )
    yield study_uid, case.lesion_ml
    OrthancClient(settings).delete_study(study_uid)


def dicom_job(study_uid: str) -> dict:
    return new_job(MODEL, {"kind": "dicom-study", "study_instance_uid": study_uid, "series_instance_uids": []})


def test_the_lesion_volume_seg_and_progress_of_an_mri_job(channel, runner, settings, lesion_study):
    study_uid, true_ml = lesion_study
    job = dicom_job(study_uid)
    publish_job(channel, job)
    consume(runner, settings, timeout=180)

    [result] = drain(channel, "ai_results", count=1)
    assert result["status"] == "COMPLETED", result
    reported = result["metrics"]["volume_ml"]["lesion"]
    assert abs(reported - true_ml) <= 0.10 * true_ml, (reported, true_ml)
    assert "not for clinical use" in result["disclaimer"]

    artifacts = {a["name"]: a for a in result["artifacts"]}
    seg = runner.services.store.get(artifacts["seg"]["bucket"], artifacts["seg"]["key"])
    assert pydicom.dcmread(pydicom.filebase.DicomBytesIO(seg)).Modality == "SEG"
    assert runner.services.orthanc.instance_file(result["orthanc"]["seg_instance_id"]) == seg  # in the PACS too

    stages = [event["stage"] for event in drain(channel, "ai_progress", count=100, timeout=1)]
    assert {"fetching", "preprocessing", "inference", "writing"} <= set(stages)
    assert {"fetch", "volume", "preprocessing", "forward", "postprocessing", "writing"} <= set(result["timings"])


def test_a_broken_series_fails_with_the_reason(channel, runner, settings):
    case = synthetic.make_case(seed=5, lesion_radius_mm=None)
    files = synthetic.write_series(case.volume[:20], case.spacing, study_instance_uid=pydicom.uid.generate_uid())
    study_uid = pydicom.dcmread(pydicom.filebase.DicomBytesIO(files[0])).StudyInstanceUID
    del files[7]  # a slice missing in the middle
    upload(settings, files)
    try:
        publish_job(channel, dicom_job(study_uid))
        consume(runner, settings, timeout=120)
        [result] = drain(channel, "ai_results", count=1)
    finally:
        OrthancClient(settings).delete_study(study_uid)
    assert result["status"] == "FAILED"
    assert "slice" in result["reason"].lower(), result["reason"]


@pytest.fixture
def consumer_process(settings, tmp_path):
    """Starts `python -m ai_server.consumer` processes; any still running when the test ends (it failed
    half-way) is killed, so none is left taking the next tests' jobs."""
    env = {**os.environ, **{k: str(v) for k, v in settings.model_dump(by_alias=True).items()}}
    env["AI_MODEL_CACHE_DIR"] = str(tmp_path / "cache")
    env["AI_SHUTDOWN_GRACE_SECONDS"] = "120"
    started: list[subprocess.Popen] = []

    def start() -> subprocess.Popen:
        process = subprocess.Popen(
            [sys.executable, "-m", "ai_server.consumer"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            process.kill()
            process.communicate(timeout=30)


def wait_for_progress(channel, job_id: str, timeout: float = 120.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for event in drain(channel, "ai_progress", count=1, timeout=0.5):
            if event["job_id"] == job_id:
                return event
    pytest.fail(f"no progress for job {job_id} in {timeout} s")


def job_under_way(channel, study_uid: str, consumer_process) -> tuple[dict, subprocess.Popen]:
    """Publishes an MRI job and starts a consumer process; returns once the job reports progress."""
    job = dicom_job(study_uid)
    publish_job(channel, job)
    process = consumer_process()
    wait_for_progress(channel, job["job_id"])
    return job, process


def test_a_consumer_killed_mid_job_leaves_it_to_the_next_which_completes_it_once(
    channel, services, lesion_study, consumer_process
):
    job, first = job_under_way(channel, lesion_study[0], consumer_process)
    first.kill()  # SIGKILL: no ack, no goodbye
    first.wait(30)

    second = consumer_process()
    try:
        results = drain(channel, "ai_results", count=2, timeout=150)
    finally:
        second.terminate()
        output = second.communicate(timeout=60)[0].decode(errors="replace")
    assert [r["status"] for r in results] == ["COMPLETED"], output[-3000:]
    assert results[0]["job_id"] == job["job_id"]


def test_sigterm_lets_the_current_job_finish_before_the_consumer_exits(
    channel, services, lesion_study, consumer_process
):
    job, process = job_under_way(channel, lesion_study[0], consumer_process)
    process.send_signal(signal.SIGTERM)
    output = process.communicate(timeout=150)[0].decode(errors="replace")
    assert process.returncode == 0, output[-3000:]
    [result] = drain(channel, "ai_results", count=1, timeout=5)
    assert result["status"] == "COMPLETED" and result["job_id"] == job["job_id"]
    assert channel.queue_declare("ai_jobs", passive=True).method.message_count == 0
