"""The few Orthanc calls the pipelines need (REST): find a study's series, read a whole series in one
request, store a DICOM SEG back."""

import io
import zipfile

import requests

from .config import Settings
from .pipelines.base import InvalidJob


class DependencyDown(Exception):
    """Orthanc or the object store cannot be reached or answers 5xx: the job is retried later."""


class OrthancClient:
    def __init__(self, settings: Settings):
        self.base = settings.orthanc_url.rstrip("/")
        self.dicomweb = "/" + settings.orthanc_dicomweb_root.strip("/")
        self.timeout = settings.orthanc_timeout_seconds
        self.session = requests.Session()
        self.session.auth = (settings.orthanc_username, settings.orthanc_password)

    def _call(self, method: str, path: str, **kwargs) -> requests.Response:
        try:
            response = self.session.request(method, self.base + path, timeout=self.timeout, **kwargs)
        except requests.RequestException as exc:
            raise DependencyDown(f"Orthanc is unreachable: {exc.__class__.__name__}") from exc
        if response.status_code >= 500:
            raise DependencyDown(f"Orthanc answered {response.status_code} to {method} {path}")
        return response

    def series_of_study(self, study_instance_uid: str, patient_id: str = "") -> list[dict]:
        """The study's series as Orthanc describes them (ID, MainDicomTags, Instances), in one request;
        with `patient_id`, only that patient's (another may have sent images under the same study UID)."""
        query = {"StudyInstanceUID": study_instance_uid} | ({"PatientID": patient_id} if patient_id else {})
        found = self._call("POST", "/tools/find", json={"Level": "Series", "Query": query, "Expand": True})
        found.raise_for_status()
        series = found.json()
        if not series:  # Orthanc keeps no study without a series
            raise InvalidJob(f"study {study_instance_uid} is not in the PACS")
        return series

    def instance_file(self, orthanc_instance_id: str) -> bytes:
        response = self._call("GET", f"/instances/{orthanc_instance_id}/file")
        if response.status_code == 404:
            raise InvalidJob(f"instance {orthanc_instance_id} is no longer in the PACS")
        response.raise_for_status()
        return response.content

    def series_files(self, orthanc_series_id: str) -> list[bytes]:
        """Every instance of a series, in one request (a ZIP, not one request per slice). By Orthanc's ID,
        not by UID: when two patients' images share a StudyInstanceUID (a conflict kept apart, see
        docs/radiology.md), WADO-RS cannot tell them apart and Orthanc's ID can."""
        response = self._call("GET", f"/series/{orthanc_series_id}/archive")
        if response.status_code == 404:
            raise InvalidJob(f"series {orthanc_series_id} is no longer in the PACS")
        response.raise_for_status()
        try:
            with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
                return [archive.read(name) for name in sorted(archive.namelist()) if not name.endswith("/")]
        except zipfile.BadZipFile as exc:
            raise DependencyDown(f"Orthanc answered a damaged archive for series {orthanc_series_id}") from exc

    def store(self, dicom: bytes) -> dict:
        response = self._call("POST", "/instances", data=dicom, headers={"Content-Type": "application/dicom"})
        response.raise_for_status()
        return response.json()

    def delete_study(self, study_instance_uid: str) -> None:
        """Remove a study and what was stored with it (SEGs): for the benchmark and tests, which leave no
        studies behind. Not used by jobs."""
        found = self._call("POST", "/tools/lookup", data=study_instance_uid)
        found.raise_for_status()
        for item in found.json():
            if item.get("Type") == "Study":
                self._call("DELETE", f"/studies/{item['ID']}").raise_for_status()
