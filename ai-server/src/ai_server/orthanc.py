"""The few Orthanc calls the pipelines need: find a study's series (REST), read a whole series in
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

    def series_of_study(self, study_instance_uid: str) -> list[dict]:
        """The study's series as Orthanc describes them (ID, MainDicomTags, Instances), in one request."""
        found = self._call(
            "POST",
            "/tools/find",
            json={"Level": "Series", "Query": {"StudyInstanceUID": study_instance_uid}, "Expand": True},
        )
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

    def series_files(self, study_instance_uid: str, series_instance_uid: str) -> list[bytes]:
        """Every instance of a series, in one request (one multipart/related answer, not one per slice)."""
        response = self._call(
            "GET",
            f"{self.dicomweb}/studies/{study_instance_uid}/series/{series_instance_uid}",
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

    def delete_study(self, study_instance_uid: str) -> None:
        """Remove a study and what was stored with it (SEGs): for the benchmark and tests, which leave no
        studies behind. Not used by jobs."""
        found = self._call("POST", "/tools/lookup", data=study_instance_uid)
        found.raise_for_status()
        for item in found.json():
            if item.get("Type") == "Study":
                self._call("DELETE", f"/studies/{item['ID']}").raise_for_status()


def multipart_parts(body: bytes, content_type: str) -> list[bytes]:
    """The bodies of a multipart/related answer (RFC 2046), in order."""
    found = re.search(r'boundary="?([^";]+)"?', content_type)
    if not found:
        raise DependencyDown(f"Orthanc answered {content_type or 'no content type'} instead of multipart/related")
    delimiter = b"--" + found.group(1).encode()
    parts = []
    # Scanned by offsets, so that each part is copied once (a series is megabytes), not three times.
    at = body.find(delimiter)
    while at >= 0:
        start = at + len(delimiter)
        at = body.find(delimiter, start)
        end = at if at >= 0 else len(body)
        if body.startswith(b"--", start, end):  # the closing delimiter
            break
        headers_end = body.find(b"\r\n\r\n", start, end)
        if headers_end >= 0:
            content = headers_end + 4
            if end - content >= 2 and body.startswith(b"\r\n", end - 2):  # the line break before a delimiter
                end -= 2
            parts.append(body[content:end])
    return parts
