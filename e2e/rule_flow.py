"""A study sent to the stack's Orthanc by C-STORE, as a modality would, and the routing rule it should
start: shared by e2e/test_routing.py and backend/benchmarks/rule_trigger_latency.py (the stack's clients
only, through nginx; Orthanc's REST API directly for its change feed's dates)."""

import time
import uuid
from datetime import UTC, datetime

import pydicom
import requests
from pydicom.data import get_testdata_file
from pydicom.uid import generate_uid
from pynetdicom import AE
from pynetdicom.sop_class import MRImageStorage

MODALITY_AE = "CDSS-MODALITY"  # the modality scripts/services.sh lets store (ORTHANC_MODALITIES)
MODEL, VERSION = "mri-lesion-demo", "1.1.0"


def series(patient_id: str, description: str, count: int, *, study_uid: str = "", series_uid: str = "") -> list:
    """`count` slices of pydicom's MR_small with fresh UIDs (new to any Orthanc), dated today."""
    study_uid, series_uid = study_uid or generate_uid(), series_uid or generate_uid()
    slices = []
    for index in range(count):
        dataset = pydicom.dcmread(get_testdata_file("MR_small.dcm"))
        dataset.StudyInstanceUID, dataset.SeriesInstanceUID = study_uid, series_uid
        dataset.SOPInstanceUID = dataset.file_meta.MediaStorageSOPInstanceUID = generate_uid()
        dataset.PatientID, dataset.SeriesDescription, dataset.BodyPartExamined = patient_id, description, "BRAIN"
        dataset.StudyDate = datetime.now(UTC).strftime("%Y%m%d")
        dataset.InstanceNumber, dataset.ImagePositionPatient = index + 1, [0.0, 0.0, float(index)]
        slices.append(dataset)
    return slices


def c_store(env: dict[str, str], datasets: list) -> float:
    """Send by C-STORE as the test modality; returns when the last instance was stored (time.time())."""
    ae = AE(ae_title=MODALITY_AE)
    ae.add_requested_context(MRImageStorage, ["1.2.840.10008.1.2.1", "1.2.840.10008.1.2"])
    association = ae.associate("127.0.0.1", int(env.get("ORTHANC_DICOM_PORT", "4242")), ae_title="ORTHANC")
    assert association.is_established, "Orthanc refused the association"
    try:
        for dataset in datasets:
            assert association.send_c_store(dataset).Status == 0x0000
    finally:
        association.release()
    return time.time()


class Stack:
    def __init__(self, http: requests.Session, base_url: str, admin: dict, staff: dict):
        self.http, self.base, self.admin, self.staff = http, base_url, admin, staff

    def _ok(self, response: requests.Response, *statuses: int) -> requests.Response:
        assert response.status_code in (statuses or (200,)), f"{response.status_code}: {response.text[:500]}"
        return response

    def patient(self) -> dict:
        return self._ok(self.http.get(f"{self.base}/api/patients", headers=self.staff, timeout=10)).json()["results"][0]

    def rule_create(self, **fields) -> dict:
        body = {"name": f"e2e-{uuid.uuid4().hex[:8]}", "model_name": MODEL, "model_version": VERSION, **fields}
        response = self.http.post(f"{self.base}/api/routing/rules", json=body, headers=self.admin, timeout=10)
        return self._ok(response, 201).json()

    def rule_delete(self, rule_id: int) -> None:
        self.http.delete(f"{self.base}/api/routing/rules/{rule_id}", headers=self.admin, timeout=10)

    def dry_run(self, rule_id: int, study_id: int) -> dict:
        url = f"{self.base}/api/routing/rules/{rule_id}/dry-run"
        headers = {**self.admin, "Accept-Language": "en"}  # the reasons, read in English (Korean by default)
        return self._ok(self.http.post(url, json={"study": study_id}, headers=headers, timeout=10)).json()

    def study(self, patient_uuid: str, study_uid: str, *, timeout: float, instances: int = 1) -> dict:
        """The CDSS's row of the study once the change feed imported it with at least `instances` images."""
        deadline = time.monotonic() + timeout
        today = datetime.now(UTC).date().isoformat()
        while time.monotonic() < deadline:
            url = f"{self.base}/api/radiology/studies?patient={patient_uuid}&date_from={today}&page_size=100"
            rows = self._ok(self.http.get(url, headers=self.staff, timeout=10)).json()["results"]
            found = [row for row in rows if row["study_instance_uid"] == study_uid]
            if found and found[0].get("number_of_instances", instances) >= instances:
                return found[0]
            time.sleep(0.5)
        raise AssertionError(f"study {study_uid} not imported with {instances} instances in {timeout} s")

    def jobs(self, study_id: int) -> list[dict]:
        url = f"{self.base}/api/ai/jobs?study={study_id}&page_size=100"
        rows = self._ok(self.http.get(url, headers=self.staff, timeout=10)).json()["results"]
        return [job for job in rows if (job["model_name"], job["model_version"]) == (MODEL, VERSION)]

    def first_job(self, study_id: int, *, timeout: float) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if jobs := self.jobs(study_id):
                return jobs[-1]
            time.sleep(0.25)
        raise AssertionError(f"no {MODEL} {VERSION} job for study {study_id} in {timeout} s")


def stable_at(env: dict[str, str], orthanc_study_id: str) -> float | None:
    """When Orthanc declared the study stable (its change feed's StableStudy, to the second, UTC), as
    time.time(); None when the feed no longer holds it."""
    url, auth = env["ORTHANC_URL"].rstrip("/"), (env["ORTHANC_USERNAME"], env["ORTHANC_PASSWORD"])
    last = requests.get(f"{url}/changes?last", auth=auth, timeout=10).json()["Last"]
    page = requests.get(f"{url}/changes?since={max(0, last - 1000)}&limit=1000", auth=auth, timeout=10).json()
    dates = [c["Date"] for c in page["Changes"] if c["ChangeType"] == "StableStudy" and c["ID"] == orthanc_study_id]
    if not dates:
        return None
    return datetime.strptime(dates[-1], "%Y%m%dT%H%M%S").replace(tzinfo=UTC).timestamp()
