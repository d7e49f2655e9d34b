"""Issue 14's scenarios, as a radiographer and an attacker meet them through nginx on the running stack:
a study UID re-sent under another patient's record number, an over-long UID, an empty PixelData element.
Orthanc is then asked directly (as an operator would) whether anything was left behind."""

import io
import uuid

import numpy as np
import pydicom
import pytest
import requests
from pydicom.dataset import FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, MRImageStorage, generate_uid


def mr_file(study_uid: str, patient_id: str, *, series_uid: str | None = None, empty_pixels: bool = False) -> bytes:
    ds = pydicom.Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = MRImageStorage
    ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SOPClassUID, ds.SOPInstanceUID = MRImageStorage, ds.file_meta.MediaStorageSOPInstanceUID
    ds.StudyInstanceUID, ds.SeriesInstanceUID = study_uid, series_uid or generate_uid()
    ds.PatientID, ds.PatientName, ds.Modality = patient_id, "E2E^Identity", "MR"
    ds.SeriesDescription, ds.InstanceNumber = "AX T1", 1
    ds.Rows = ds.Columns = 8
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
    ds.PixelData = b"" if empty_pixels else np.arange(64, dtype=np.uint16).tobytes()
    out = io.BytesIO()
    ds.save_as(out, enforce_file_format=True)
    return out.getvalue()


def upload(http, base_url, headers, *files: bytes) -> requests.Response:
    parts = [("files", (f"{i}.dcm", data, "application/dicom")) for i, data in enumerate(files)]
    return http.post(f"{base_url}/api/radiology/uploads", headers=headers, files=parts, timeout=60)


@pytest.fixture
def orthanc(env):
    """Orthanc's own REST API (loopback; never through nginx), to see what the PACS holds."""
    with requests.Session() as session:
        session.auth, session.trust_env = (env["ORTHANC_USERNAME"], env["ORTHANC_PASSWORD"]), False
        session.base = env["ORTHANC_URL"].rstrip("/")
        made = []
        session.made = made
        yield session
        for uid in made:
            for item in session.post(f"{session.base}/tools/lookup", data=uid, timeout=10).json():
                if item["Type"] == "Study":
                    session.delete(f"{session.base}/studies/{item['ID']}", timeout=30)


def studies_in_pacs(orthanc, uid: str) -> list[dict]:
    found = orthanc.post(f"{orthanc.base}/tools/find", json={"Level": "Study", "Query": {"StudyInstanceUID": uid},
                                                              "Expand": True}, timeout=10)  # fmt: skip
    return found.json()


def test_a_study_uid_resent_for_another_patient_is_a_conflict_and_moves_nothing(http, base_url, token_headers, orthanc):
    rib = token_headers("radiologist")
    first, second = http.get(f"{base_url}/api/patients", headers=rib, timeout=10).json()["results"][:2]
    uid = generate_uid()
    orthanc.made.append(uid)
    stored = upload(http, base_url, rib, mr_file(uid, first["mrn"]), mr_file(uid, first["mrn"]))
    assert stored.status_code == 201, stored.text
    [study] = stored.json()["studies"]
    before = http.get(f"{base_url}/api/radiology/studies/{study['id']}", headers=rib, timeout=10).json()
    assert before["status"] == "LINKED" and before["patient"] == first["emr_uuid"], before

    again = upload(http, base_url, rib, mr_file(uid, second["mrn"]))  # same study UID, the other patient
    assert again.status_code == 201, again.text
    after = http.get(f"{base_url}/api/radiology/studies/{study['id']}", headers=rib, timeout=10).json()
    assert after["patient"] == before["patient"] and after["status"] == "LINKED"
    assert [s["series_instance_uid"] for s in after["series"]] == [s["series_instance_uid"] for s in before["series"]]
    conflicts = http.get(f"{base_url}/api/radiology/reconciliation", headers=rib, timeout=10).json()
    rows = conflicts["results"] if isinstance(conflicts, dict) else conflicts
    [conflict] = [row for row in rows if row["study_instance_uid"] == uid]
    assert conflict["status"] == "CONFLICT" and conflict["dicom_identity"]["patient_id"] == second["mrn"], conflict
    assert conflict["existing_study"]["id"] == study["id"], conflict
    assert len(studies_in_pacs(orthanc, uid)) == 2  # the PACS keeps the two patients' studies apart

    doctor = token_headers("doctor")
    refused = http.post(f"{base_url}/api/ai/jobs", json={"model": "mri-lesion-demo", "study": conflict["id"]},
                        headers={**doctor, "Accept-Language": "en"}, timeout=10)  # fmt: skip
    assert refused.status_code == 400 and "reconcile" in refused.text


@pytest.mark.parametrize(
    "make, why",
    [
        (lambda: mr_file("1.2." + "3" * 64, "E2E-LONG"), "UID over 64 characters"),
        (lambda: mr_file(generate_uid(), "E2E-EMPTY", empty_pixels=True), "empty PixelData"),
    ],
)
def test_a_refused_file_is_answered_400_and_leaves_nothing_in_the_pacs(
    http, base_url, token_headers, orthanc, make, why
):
    data = make()
    uid = pydicom.dcmread(io.BytesIO(data), stop_before_pixels=True).StudyInstanceUID
    orthanc.made.append(uid)
    answer = upload(http, base_url, token_headers("radiologist"), data)
    assert answer.status_code == 400, (why, answer.status_code, answer.text)
    [rejected] = answer.json()["results"]
    assert rejected["status"] == "rejected" and rejected["code"] == "invalid_dicom", rejected
    assert studies_in_pacs(orthanc, uid) == [], f"{why}: Orthanc kept the refused file"


def test_someone_without_an_imaging_role_cannot_upload(http, base_url, token_headers):
    answer = upload(http, base_url, token_headers("nurse"), mr_file(generate_uid(), f"E2E-{uuid.uuid4().hex[:6]}"))
    assert answer.status_code == 403
