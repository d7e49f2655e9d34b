"""The few Orthanc calls the pipelines need: find a study and its series (REST), read a whole series in
one WADO-RS request (DICOMweb plugin), store a DICOM SEG back (REST)."""

import re

import requests

from .config import Settings
from .pipelines.base import InvalidJob


class DependencyDown(Exception):
    """Orthanc or the object store cannot be reached or answers 5xx: the job is retried later."""


class OrthancClient:
    def __init__(self, settings: Settings):
        self.base = settings.orthanc_url.rstrip("/")
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

    def find_study(self, study_instance_uid: str) -> dict:
        found = self._call(
            "POST", "/tools/find", json={"Level": "Study", "Query": {"StudyInstanceUID": study_instance_uid}}
        )
        found.raise_for_status()
        ids = found.json()
        if not ids:
            raise InvalidJob(f"study {study_instance_uid} is not in the PACS")
        study = self._call("GET", f"/studies/{ids[0]}")
        study.raise_for_status()
        return study.json()

    def series_of_study(self, orthanc_study_id: str) -> list[dict]:
        response = self._call("GET", f"/studies/{orthanc_study_id}/series")
        if response.status_code == 404:
            raise InvalidJob(f"study {orthanc_study_id} is no longer in the PACS")
        response.raise_for_status()
        return response.json()

    def instance_file(self, orthanc_instance_id: str) -> bytes:
        response = self._call("GET", f"/instances/{orthanc_instance_id}/file")
        if response.status_code == 404:
            raise InvalidJob(f"instance {orthanc_instance_id} is no longer in the PACS")
        response.raise_for_status()
        return response.content

    def series_files(self, study_instance_uid: str, series_instance_uid: str) -> list[bytes]:
        """Every instance of a series, in one request (one multipart/related answer, not one per slice)."""
        response = self._call(
            "GET",
            f"/dicom-web/studies/{study_instance_uid}/series/{series_instance_uid}",
            headers={"Accept": 'multipart/related; type="application/dicom"'},
        )
        if response.status_code == 404:
            raise InvalidJob(f"series {series_instance_uid} is no longer in the PACS")
        response.raise_for_status()
        return multipart_parts(response.content, response.headers.get("Content-Type", ""))

    def store(self, dicom: bytes) -> dict:
        response = self._call("POST", "/instances", data=dicom, headers={"Content-Type": "application/dicom"})
        response.raise_for_status()
        return response.json()


def multipart_parts(body: bytes, content_type: str) -> list[bytes]:
    """The bodies of a multipart/related answer (RFC 2046), in order."""
    found = re.search(r'boundary="?([^";]+)"?', content_type)
    if not found:
        raise DependencyDown(f"Orthanc answered {content_type or 'no content type'} instead of multipart/related")
    delimiter = b"--" + found.group(1).encode()
    parts = []
    for chunk in body.split(delimiter)[1:]:
        if chunk.startswith(b"--"):  # the closing delimiter
            break
        _headers, separator, content = chunk.partition(b"\r\n\r\n")
        if separator:
            parts.append(content.removesuffix(b"\r\n"))
    return parts
