"""OrthancClient: the CDSS's only way to the PACS (Orthanc REST + its DICOMweb plugin).

Every call goes through core.http (timeouts, safe retries, breaker, request id, one EXTERNAL_CALL audit
event). DICOMweb (QIDO-RS, WADO-RS, STOW-RS) uses dicomweb-client over the same layer rather than
hand-built multipart code; the gateway (radiology.dicomweb) passes clients' requests on through
dicomweb_get and dicomweb_stow. Orthanc facts relied on: POST /instances answers Status "Success" or
"AlreadyStored" (both success) and 400 for what is not DICOM; ids are Orthanc's own hashes, and
POST /tools/lookup maps a DICOM UID to them.
"""

from dataclasses import dataclass
from typing import Any, BinaryIO

import pydicom
import requests
from dicomweb_client.api import DICOMwebClient
from django.conf import settings

from core.http import (
    ExternalRejected,
    ExternalSession,
    ExternalSystemError,
    Timeouts,
    raise_for_status,
    shared_client,
)

SYSTEM = "orthanc"
OUR_CREDENTIALS_REFUSED = frozenset({401, 403})


@dataclass(frozen=True)
class StoredInstance:
    instance_id: str
    series_id: str
    study_id: str
    patient_id: str
    already_stored: bool


class OrthancClient:
    def __init__(
        self,
        base_url: str | None = None,
        username: str | None = None,
        password: str | None = None,
        *,
        timeouts: Timeouts | None = None,
    ):
        self.http = ExternalSession(
            SYSTEM,
            base_url or settings.ORTHANC_URL,
            auth=(username or settings.ORTHANC_USERNAME, password or settings.ORTHANC_PASSWORD),
            timeouts=timeouts or Timeouts(connect=3, read=60),  # instances and frames can be large
        )
        self._dicomweb: DICOMwebClient | None = None

    # --- Orthanc REST ------------------------------------------------------------------------------
    def upload_instance(self, data: bytes) -> StoredInstance:
        response = self.http.request(
            "POST",
            "/instances",
            data=data,
            headers={"Content-Type": "application/dicom"},
            resource_type="dicom_instance",
        )
        if response.status_code == 400:
            raise ExternalRejected(SYSTEM, "Orthanc refused the file: it is not readable DICOM", status_code=400)
        body = self._json(response)
        return StoredInstance(
            instance_id=body["ID"],
            series_id=body["ParentSeries"],
            study_id=body["ParentStudy"],
            patient_id=body["ParentPatient"],
            already_stored=body.get("Status") == "AlreadyStored",
        )

    def get_study(self, study_id: str) -> dict[str, Any]:
        return self._get_json(f"/studies/{study_id}", resource_type="study", resource_id=study_id)

    def find_studies(self, query: dict[str, str], *, limit: int = 100) -> list[dict[str, Any]]:
        """Studies matching DICOM tag values (wildcards allowed), with their main tags."""
        response = self.http.request(
            "POST",
            "/tools/find",
            json={"Level": "Study", "Query": query, "Expand": True, "Limit": limit},
            resource_type="study",
        )
        return self._json(response)

    def lookup(self, dicom_uid: str) -> list[dict[str, Any]]:
        """Orthanc resources whose DICOM UID (study, series or instance) is `dicom_uid`."""
        response = self.http.request(
            "POST", "/tools/lookup", data=dicom_uid, resource_type="dicom_uid", resource_id=dicom_uid
        )
        return self._json(response)

    def list_series(self, study_id: str) -> list[dict[str, Any]]:
        return self._get_json(f"/studies/{study_id}/series", resource_type="study", resource_id=study_id)

    def list_study_instances(self, study_id: str) -> list[dict[str, Any]]:
        """Every instance of the study with its main tags (SOPInstanceUID) and ParentSeries, in one call."""
        return self._get_json(f"/studies/{study_id}/instances", resource_type="study", resource_id=study_id)

    def list_instances(self, series_id: str) -> list[dict[str, Any]]:
        return self._get_json(f"/series/{series_id}/instances", resource_type="series", resource_id=series_id)

    def download_instance(self, instance_id: str) -> bytes:
        return self._get_bytes(f"/instances/{instance_id}/file", instance_id)

    def rendered_frame(self, instance_id: str, frame: int = 0) -> bytes:
        """The frame as PNG, windowed by Orthanc."""
        return self._get_bytes(
            f"/instances/{instance_id}/frames/{frame}/rendered", instance_id, headers={"Accept": "image/png"}
        )

    def preview(self, instance_id: str) -> bytes:
        return self._get_bytes(f"/instances/{instance_id}/preview", instance_id, headers={"Accept": "image/png"})

    def instance_tag(self, instance_id: str, tag: str) -> str:
        """One tag's value ("gggg-eeee") of an instance as text; "" when the instance does not have it."""
        response = self.http.request(
            "GET", f"/instances/{instance_id}/content/{tag}", resource_type="dicom_instance", resource_id=instance_id
        )
        if response.status_code == 404:
            return ""
        return raise_for_status(SYSTEM, response).content.decode("utf-8", "replace").strip("\x00 ")

    def instance_metadata(self, instance_id: str, name: str) -> str:
        """One metadata item Orthanc keeps for an instance (e.g. RemoteAET); "" when it has none."""
        response = self.http.request(
            "GET", f"/instances/{instance_id}/metadata/{name}", resource_type="dicom_instance", resource_id=instance_id
        )
        if response.status_code == 404:
            return ""
        return raise_for_status(SYSTEM, response).content.decode("utf-8", "replace").strip()

    def delete_instance(self, instance_id: str) -> None:
        response = self.http.request(
            "DELETE", f"/instances/{instance_id}", resource_type="dicom_instance", resource_id=instance_id
        )
        raise_for_status(SYSTEM, response)

    def delete_study(self, study_id: str) -> None:
        response = self.http.request("DELETE", f"/studies/{study_id}", resource_type="study", resource_id=study_id)
        raise_for_status(SYSTEM, response)

    def changes(self, since: int = 0, limit: int = 100) -> dict[str, Any]:
        """Orthanc's change feed: {"Changes": [...], "Last": n, "Done": bool}."""
        return self._get_json(f"/changes?since={since}&limit={limit}", resource_type="changes")

    # --- DICOMweb ----------------------------------------------------------------------------------
    @property
    def dicomweb(self) -> DICOMwebClient:
        if self._dicomweb is None:
            client = DICOMwebClient(
                url=self.http.url(settings.ORTHANC_DICOMWEB_ROOT), session=self.http.as_requests_session()
            )
            client.set_http_retry_params(retry=False)  # retries are core.http's job, for idempotent calls only
            self._dicomweb = client
        return self._dicomweb

    def qido_studies(self, **search_filters: str) -> list[dict[str, Any]]:
        return self.dicomweb.search_for_studies(search_filters=search_filters or None)

    def wado_study_metadata(self, study_uid: str) -> list[dict[str, Any]]:
        return self.dicomweb.retrieve_study_metadata(study_uid)

    def wado_instance(self, study_uid: str, series_uid: str, sop_uid: str) -> pydicom.Dataset:
        return self.dicomweb.retrieve_instance(study_uid, series_uid, sop_uid)

    def stow(self, datasets: list[pydicom.Dataset]) -> pydicom.Dataset:
        return self.dicomweb.store_instances(datasets)

    # --- the DICOMweb gateway: a client's request passed on as it was sent ----------------------------
    def dicomweb_get(
        self, path: str, *, query: str, accept: str, forwarded: str, study_uid: str = ""
    ) -> requests.Response:
        """GET `path` under Orthanc's DICOMweb root with the client's query string and Accept, streamed: the
        caller reads or closes the answer. `forwarded` (RFC 7239) makes Orthanc's URLs name the gateway."""
        url = f"{settings.ORTHANC_DICOMWEB_ROOT}/{path}" + (f"?{query}" if query else "")
        response = self.http.request(
            "GET", url, headers={"Accept": accept or "*/*", "Forwarded": forwarded}, stream=True,
            resource_type="dicomweb", resource_id=study_uid,
        )  # fmt: skip
        return self._passed_on(response)

    def dicomweb_stow(
        self, path: str, body: BinaryIO, *, length: int, content_type: str, accept: str, forwarded: str
    ) -> requests.Response:
        """POST a client's STOW-RS body (`length` bytes, read block by block from `body`) to `path` under
        Orthanc's DICOMweb root; the answer is read whole."""
        headers = {"Content-Type": content_type, "Accept": accept or "application/dicom+json", "Forwarded": forwarded}
        response = self.http.request(
            "POST", f"{settings.ORTHANC_DICOMWEB_ROOT}/{path}", data=_SizedBody(body, length), headers=headers,
            resource_type="dicomweb_stow",
        )  # fmt: skip
        return self._passed_on(response)

    @staticmethod
    def _passed_on(response: requests.Response) -> requests.Response:
        """Orthanc's own failures (5xx, our credentials refused) raise ExternalSystemError; its 4xx to the
        client's request (unknown study, bad query) are returned, for the gateway to pass through."""
        if response.status_code >= 500 or response.status_code in OUR_CREDENTIALS_REFUSED:
            response.close()
            raise_for_status(SYSTEM, response)
        return response

    # --- plumbing ----------------------------------------------------------------------------------
    def _get_json(self, path: str, **audit: str) -> Any:
        return self._json(self.http.request("GET", path, **audit))

    def _get_bytes(self, path: str, instance_id: str, headers: dict[str, str] | None = None) -> bytes:
        response = self.http.request(
            "GET", path, headers=headers or {}, resource_type="dicom_instance", resource_id=instance_id
        )
        return raise_for_status(SYSTEM, response).content

    @staticmethod
    def _json(response) -> Any:
        raise_for_status(SYSTEM, response)
        try:
            return response.json()
        except ValueError as exc:
            raise ExternalSystemError(SYSTEM, "answered with something that is not JSON") from exc


class _SizedBody:
    """A stream with a known length, so requests sends it with a Content-Length (not chunked) while reading
    it block by block."""

    def __init__(self, stream: BinaryIO, length: int):
        self.stream, self.length = stream, length

    def __len__(self) -> int:
        return self.length

    def read(self, size: int = -1) -> bytes:
        return self.stream.read(size)


def get_orthanc_client() -> OrthancClient:
    """One client per configuration per process: a viewer's frame requests and an upload's stores reuse
    pooled connections to Orthanc."""
    return shared_client(OrthancClient, settings.ORTHANC_URL, settings.ORTHANC_USERNAME, settings.ORTHANC_PASSWORD)
