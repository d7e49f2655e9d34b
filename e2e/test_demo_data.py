"""The demo data `make run` loads (ai.demo, seed_demo_imaging), as a new user meets it through nginx: the
demo patients have imaging studies in the PACS and AI results; the three-date patient has three studies,
each with a FINAL segmentation whose volumes fall and rise again, and a FINAL omics result; the others'
results wait for sign-off. Holds on a fresh checkout whose database is shared and already full."""

import json
import subprocess
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MANIFEST = ROOT / "var" / "demo-imaging" / "manifest.json"
WAIT_SECONDS = 180  # analyses may still be finishing when make run returns


def _patient(http, base_url, headers, mrn: str) -> dict:
    found = http.get(f"{base_url}/api/patients", params={"q": mrn}, headers=headers, timeout=10).json()["results"]
    [patient] = [item for item in found if item["mrn"] == mrn]
    return patient


def _finished_jobs(http, base_url, headers, patient: str) -> list[dict]:
    """The patient's newest job per study and per model, once none of them is QUEUED or RUNNING."""
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        jobs = http.get(f"{base_url}/api/ai/jobs", params={"patient": patient}, headers=headers,
                        timeout=10).json()["results"]  # fmt: skip
        newest: dict[tuple, dict] = {}
        for job in sorted(jobs, key=lambda item: item["created_at"]):
            newest[(job["study"], job["model_name"])] = job
        if newest and all(job["status"] not in ("QUEUED", "RUNNING") for job in newest.values()):
            return list(newest.values())
        if time.monotonic() > deadline:
            pytest.fail(f"the demo analyses of {patient} did not finish in {WAIT_SECONDS} s: {jobs}")
        time.sleep(2)


@pytest.mark.timeout(WAIT_SECONDS + 60)
def test_demo_patients_have_studies_and_results(http, base_url, token_headers):
    manifest = json.loads(MANIFEST.read_text())
    doctor = token_headers("doctor")
    by_patient: dict[str, list[dict]] = {}
    for study in manifest["studies"]:
        by_patient.setdefault(study["mrn"], []).append(study)
    assert sorted(len(studies) for studies in by_patient.values()) == [1, 1, 3]

    for mrn, expected in by_patient.items():
        patient = _patient(http, base_url, doctor, mrn)
        studies = http.get(f"{base_url}/api/radiology/studies", params={"patient": patient["emr_uuid"]}, headers=doctor,
                           timeout=10).json()["results"]  # fmt: skip
        demo = {study["study_instance_uid"]: study for study in studies}
        assert {item["study_instance_uid"] for item in expected} <= set(demo), (mrn, studies)
        for item in expected:
            detail = http.get(f"{base_url}/api/radiology/studies/{demo[item['study_instance_uid']]['id']}",
                              headers=doctor, timeout=10).json()  # fmt: skip
            assert detail["in_pacs"] is True and detail["study_date"] == item["study_date"], detail
            assert sum(len(series["instances"]) for series in detail["series"]) >= item["instances"]

        jobs = _finished_jobs(http, base_url, doctor, patient["emr_uuid"])
        segmentations = {job["study"]: job for job in jobs if job["model_name"] == "mri-lesion-demo"}
        assert len(segmentations) >= len(expected), jobs
        for item in expected:
            job = segmentations[demo[item["study_instance_uid"]]["id"]]
            assert job["status"] == "COMPLETED", job
            assert job["result"]["status"] == ("FINAL" if item["sign_off"] else "PRELIMINARY"), job["result"]
            assert job["result"]["superseded_by"] is None, job["result"]
            reported = job["result"]["raw_metrics"]["volume_ml"]["lesion"]
            assert abs(reported - item["lesion_ml"]) <= 0.2 * item["lesion_ml"], (reported, item)
            artifact = job["result"]["artifacts"][0]["url"]
            assert http.get(f"{base_url}{artifact}", headers=doctor, timeout=10).status_code == 200
        if len(expected) == 3:  # the three-date patient: a trend, and the omics result, all signed off
            volumes = [segmentations[demo[item["study_instance_uid"]]["id"]]["result"]["raw_metrics"]["volume_ml"]
                       ["lesion"] for item in sorted(expected, key=lambda item: item["study_date"])]  # fmt: skip
            assert volumes[1] < 0.5 * volumes[0] and volumes[2] > 1.4 * volumes[1], volumes
            omics = [job for job in jobs if job["model_name"] == "omics-cox-gse7390"]
            assert omics and omics[-1]["status"] == "COMPLETED" and omics[-1]["result"]["status"] == "FINAL", omics


def test_the_worklist_holds_one_result_per_demo_study_and_model(http, base_url, token_headers):
    """Earlier runs' demo results (a store that restarted empty makes make run analyse again) are superseded:
    one result per demo study and model waits for sign-off, whatever the shared database remembers."""
    manifest = json.loads(MANIFEST.read_text())
    radiologist = token_headers("radiologist")
    rows, number, more = [], 1, True
    while more:  # every page: the shared database may hold other runs' results
        page = http.get(f"{base_url}/api/ai/worklist", params={"page": number}, headers=radiologist,
                        timeout=10).json()  # fmt: skip
        rows, number, more = rows + page["results"], number + 1, bool(page["next"])
    waiting = [spec for spec in manifest["studies"] if not spec["sign_off"]]
    for spec in waiting:
        patient = _patient(http, base_url, radiologist, spec["mrn"])
        studies = http.get(f"{base_url}/api/radiology/studies", params={"patient": patient["emr_uuid"]},
                           headers=radiologist, timeout=10).json()["results"]  # fmt: skip
        [study] = [item["id"] for item in studies if item["study_instance_uid"] == spec["study_instance_uid"]]
        mine = [row for row in rows if row["study"] == study and row["model_name"] == "mri-lesion-demo"]
        assert len(mine) == 1, (spec["mrn"], mine)


def test_a_second_load_adds_nothing_and_takes_seconds():
    """What make run does a second time: everything is found in place (Orthanc, object store, results)."""
    started = time.monotonic()
    done = subprocess.run(
        ["/bin/bash", "-c", '. scripts/_lib.sh && load_env && cd backend && '
         '.venv/bin/python manage.py seed_demo_imaging "$VAR/demo-imaging" --wait 30'],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    elapsed = time.monotonic() - started
    assert done.returncode == 0, done.stdout + done.stderr
    summary = done.stdout.strip().splitlines()[-1]
    assert "0 studies stored, 0 recorded, 0 analyses requested, 0 results signed off" in summary, done.stdout
    assert "0 earlier demo results superseded" in summary, done.stdout
    assert elapsed < 30, (elapsed, done.stdout)
