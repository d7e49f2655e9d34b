"""OpenEMRClient: reads the hospital EMR through OpenEMR's Standard REST API.

Facts relied on (CONTRACTS.md section B): OAuth2 password grant at /oauth2/<site>/token (the hospital
enables it), access tokens for about an hour, a new refresh token on every refresh (rotation: keep the
newest, drop the old); every answer is {validationErrors, internalErrors, data, links} with string
values; 400 = invalid input (validationErrors keyed by field), 404 = unknown uuid, 401 = token (refresh
once, then fail), 403 = scope/ACL (configuration, never retried); /api/patient pages with _limit
(max 200, 0 = all) and _offset, and its `links` name `_count`, which the server ignores, so this client
pages with its own _limit/_offset and reads `links.next` only as "there is more".
"""

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings

from core.http import (
    ExternalAuthRefused,
    ExternalRejected,
    ExternalSession,
    ExternalSystemError,
    SystemUnavailable,
    Timeouts,
    raise_for_status,
    shared_client,
)

SYSTEM = "emr"
SCOPES = (
    "openid offline_access api:oemr api:fhir user/Patient.read user/patient.read user/encounter.read user/vital.read "
    "user/medical_problem.read user/medication.read user/prescription.read user/allergy.read"
)
PAGE_LIMIT = 200  # OpenEMR's own maximum for _limit


class EmrValidationError(ExternalRejected):
    """OpenEMR's validationErrors, kept per field so the API can pass them to the user."""

    api_status = 400
    title = "The EMR rejected the request"

    def __init__(self, fields: dict[str, Any]):
        super().__init__(SYSTEM, "; ".join(f"{name}: {message}" for name, message in _flatten(fields)), status_code=400)
        self.fields = fields


@dataclass
class _Token:
    access: str
    refresh: str | None
    expires_at: float

    def usable(self) -> bool:
        return time.monotonic() < self.expires_at - 30  # refresh shortly before expiry, not after


class OpenEMRClient:
    def __init__(
        self,
        base_url: str | None = None,
        *,
        site: str | None = None,
        client_id: str | None = None,
        client_secret: str | None = None,
        username: str | None = None,
        password: str | None = None,
        timeouts: Timeouts | None = None,
    ):
        self.site = site or settings.EMR_SITE
        self.client_id = client_id or settings.EMR_CLIENT_ID
        self.client_secret = client_secret if client_secret is not None else settings.EMR_CLIENT_SECRET
        self.username = username or settings.EMR_USERNAME
        self.password = password or settings.EMR_PASSWORD
        self.http = ExternalSession(
            SYSTEM,
            base_url or settings.EMR_BASE_URL,
            timeouts=timeouts or Timeouts(connect=2, read=settings.EMR_TIMEOUT_SECONDS),
        )
        self._token: _Token | None = None
        self._token_lock = threading.Lock()

    # --- patients ----------------------------------------------------------------------------------
    def search_patients(self, *, limit: int = 50, offset: int = 0, **fields: str) -> tuple[list[dict], bool]:
        """One page of patients matching OpenEMR's search fields (fname, lname, DOB, sex, ...).
        Returns (patients, more) where `more` says whether a further page exists."""
        params = {**fields, "_limit": min(limit, PAGE_LIMIT), "_offset": offset}
        envelope = self._get("/patient", params=params, resource_type="patient")
        links = envelope.get("links") or {}
        return _as_list(envelope["data"]), bool(isinstance(links, dict) and links.get("next"))

    def iter_patients(self, **fields: str) -> Iterator[dict]:
        offset = 0
        while True:
            page, more = self.search_patients(limit=PAGE_LIMIT, offset=offset, **fields)
            yield from page
            if not more or not page:
                return
            offset += len(page)

    def iter_patient_pages(self) -> Iterator[list[dict]]:
        """Every patient, one page (PAGE_LIMIT) at a time: the rare full pass of the cache refresh."""
        offset = 0
        while True:
            page, more = self.search_patients(limit=PAGE_LIMIT, offset=offset)
            if page:
                yield page
            if not more or not page:
                return
            offset += len(page)

    def iter_changed_patient_uuids(self, since: datetime) -> Iterator[list[str]]:
        """Uuids of the patients updated at or after `since`, a page at a time: the FHIR API's Patient
        search with `_lastUpdated=ge<instant>` (patient_data.date), paged with `_count`/`_offset`
        (CONTRACTS.md B.8); the Standard API offers no such filter. FHIR ids are the Standard uuids."""
        offset, url = 0, f"/apis/{self.site}/fhir/Patient"
        while True:
            params = {"_lastUpdated": f"ge{since.isoformat(timespec='seconds')}", "_count": PAGE_LIMIT}
            params["_offset"] = offset
            response = self.http.request(
                "GET", url, params=params, headers=self._auth_header(), resource_type="patient"
            )
            if response.status_code == 401:
                self._invalidate_token()
                response = self.http.request(
                    "GET", url, params=params, headers=self._auth_header(), resource_type="patient"
                )
            if response.status_code == 403:
                raise ExternalAuthRefused(
                    SYSTEM, "the EMR refused the FHIR Patient search (api:fhir scope?)", status_code=403
                )
            raise_for_status(SYSTEM, response)
            try:
                bundle = response.json()
            except ValueError:
                bundle = None
            if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
                raise ExternalSystemError(SYSTEM, "answered the FHIR Patient search without a Bundle")
            ids = [entry["resource"]["id"] for entry in bundle.get("entry") or [] if entry.get("resource")]
            if ids:
                yield ids
            if not ids or not any(link.get("relation") == "next" for link in bundle.get("link") or []):
                return
            offset += len(ids)

    def get_patient(self, puuid: str) -> dict:
        return self._get(f"/patient/{puuid}", resource_type="patient", resource_id=puuid, patient_id=puuid)["data"]

    # --- the record around a patient ---------------------------------------------------------------
    def encounters(self, puuid: str) -> list[dict]:
        return self._list(f"/patient/{puuid}/encounter", "encounter", puuid)

    def medical_problems(self, puuid: str) -> list[dict]:
        return self._list(f"/patient/{puuid}/medical_problem", "medical_problem", puuid)

    def allergies(self, puuid: str) -> list[dict]:
        return self._list(f"/patient/{puuid}/allergy", "allergy", puuid)

    def medications(self, pid: str, puuid: str) -> list[dict]:
        """Medication list entries; OpenEMR's route takes the numeric pid here, not the uuid."""
        return self._list(f"/patient/{pid}/medication", "medication", puuid)

    def vitals(self, pid: str, eid: str, puuid: str) -> list[dict]:
        """Vitals belong to an encounter: numeric pid and encounter id in the route."""
        return self._list(f"/patient/{pid}/encounter/{eid}/vital", "vital", puuid)

    def prescriptions(self, pid: str, puuid: str) -> list[dict]:
        """OpenEMR lists prescriptions globally (patient_id is the numeric pid); keep the patient's own."""
        rows = _as_list(self._get("/prescription", resource_type="prescription", patient_id=puuid)["data"])
        return [row for row in rows if str(row.get("patient_id")) == str(pid)]

    # --- plumbing ----------------------------------------------------------------------------------
    def _list(self, path: str, resource_type: str, puuid: str) -> list[dict]:
        return _as_list(self._get(path, resource_type=resource_type, patient_id=puuid)["data"])

    def _get(self, path: str, *, params: dict | None = None, **audit: str) -> dict:
        url = f"/apis/{self.site}/api{path}"
        response = self.http.request("GET", url, params=params, headers=self._auth_header(), **audit)
        if response.status_code == 401:  # expired or revoked: one new token, one more try
            self._invalidate_token()
            response = self.http.request("GET", url, params=params, headers=self._auth_header(), **audit)
        return self._envelope(response)

    def _envelope(self, response) -> dict:
        try:
            body = response.json()
        except ValueError:
            body = None
        if response.status_code == 400 and isinstance(body, dict) and body.get("validationErrors"):
            raise EmrValidationError(body["validationErrors"])
        if response.status_code == 403:
            raise ExternalAuthRefused(
                SYSTEM, "the EMR refused access (scope or ACL): check the CDSS's API client", status_code=403
            )
        if response.status_code >= 500 and isinstance(body, dict) and body.get("internalErrors"):
            raise ExternalSystemError(
                SYSTEM, "; ".join(map(str, body["internalErrors"])), status_code=response.status_code
            )
        raise_for_status(SYSTEM, response)
        if not isinstance(body, dict) or "data" not in body:
            raise ExternalSystemError(SYSTEM, "answered without the {validationErrors, internalErrors, data} envelope")
        return body

    def _auth_header(self) -> dict[str, str]:
        with self._token_lock:
            if self._token is None or not self._token.usable():
                self._token = self._refresh_or_login(self._token)
            return {"Authorization": f"Bearer {self._token.access}"}

    def _invalidate_token(self) -> None:
        with self._token_lock:
            if self._token is not None:
                self._token.expires_at = 0

    def _refresh_or_login(self, old: _Token | None) -> _Token:
        if old is not None and old.refresh:
            response = self._token_request({"grant_type": "refresh_token", "refresh_token": old.refresh})
            if response.status_code == 200:
                return self._token_from(response.json(), previous_refresh=old.refresh)
        response = self._token_request(
            {
                "grant_type": "password",
                "user_role": "users",
                "username": self.username,
                "password": self.password,
                "scope": SCOPES,
            }
        )
        if response.status_code != 200:
            raise ExternalAuthRefused(
                SYSTEM,
                f"the EMR refused the CDSS's credentials ({_oauth_error(response)})",
                status_code=response.status_code,
            )
        return self._token_from(response.json(), previous_refresh=None)

    def _token_request(self, form: dict[str, str]):
        form = {**form, "client_id": self.client_id}
        if self.client_secret:
            form["client_secret"] = self.client_secret
        return self.http.request("POST", f"/oauth2/{self.site}/token", data=form, resource_type="oauth_token")

    @staticmethod
    def _token_from(body: dict, *, previous_refresh: str | None) -> _Token:
        return _Token(
            access=body["access_token"],
            refresh=body.get("refresh_token") or previous_refresh,
            expires_at=time.monotonic() + float(body.get("expires_in", 3600)),
        )


def _as_list(data: Any) -> list[dict]:
    if isinstance(data, list):
        return data
    return [data] if data else []


def _flatten(fields: Any, prefix: str = "") -> Iterator[tuple[str, str]]:
    if isinstance(fields, dict):
        for key, value in fields.items():
            yield from _flatten(value, prefix or str(key))
    elif isinstance(fields, list):
        for value in fields:
            yield from _flatten(value, prefix)
    else:
        yield prefix or "request", str(fields)


def _oauth_error(response) -> str:
    try:
        body = response.json()
        return f"{body.get('error')}: {body.get('error_description') or body.get('message') or ''}".strip(": ")
    except ValueError:
        return f"HTTP {response.status_code}"


def get_openemr_client() -> OpenEMRClient:
    """One client per configuration per process, so its token is reused rather than fetched per request.
    SystemUnavailable (503) when no EMR is configured."""
    if not settings.EMR_BASE_URL:
        raise SystemUnavailable(SYSTEM, "no EMR is configured (EMR_BASE_URL is empty)")
    return shared_client(
        OpenEMRClient,
        settings.EMR_BASE_URL,
        settings.EMR_SITE,
        settings.EMR_CLIENT_ID,
        settings.EMR_USERNAME,
        settings.EMR_PASSWORD,
    )
