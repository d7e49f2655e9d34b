"""The DICOMweb gateway: QIDO-RS, WADO-RS and STOW-RS requests forwarded to Orthanc's DICOMweb plugin.

Retrievals under a study (frames, metadata, instances, rendered) reach a viewer from nginx, which asks
`authorise_read` once per session and study and then proxies straight to Orthanc (nginx/cdss-locations.conf);
searches, whole-study retrievals and STOW-RS come through here. Only the paths of the standard are
forwarded (parsed below, anything else is 404), with the query string and Accept header as sent. Answers
are passed through unchanged: QIDO answers (small JSON) are read to audit each study they name; WADO
answers are streamed to the client chunk by chunk. Each request is audited once per study it touches,
with the patient when the CDSS knows the study.
"""

import json
import re
from collections.abc import Iterator
from datetime import datetime
from urllib.parse import urlencode

from django.conf import settings
from django.core.cache import cache
from django.utils import timezone
from django.utils.translation import gettext as _

from audit.client import AuditClient
from audit.models import Action
from core.errors import NotPermitted
from radiology.clients.orthanc_client import get_orthanc_client

from .models import Study

_UID = r"[0-9][0-9.]{0,63}"
_FRAMES = r"frames/[0-9]{1,6}(?:,[0-9]{1,6}){0,999}"
_BULK = r"bulk/[0-9A-Fa-f]{8}(?:/[0-9]{1,6}/[0-9A-Fa-f]{8}){0,8}"  # Orthanc's BulkDataURI: tag[/item/tag]...
PATH = re.compile(
    rf"^(?:(?P<root>studies|series|instances)"
    rf"|studies/(?P<s1>{_UID})(?:/(?P<t1>metadata|rendered|series|instances))?"
    rf"|studies/(?P<s2>{_UID})/series/{_UID}(?:/(?P<t2>metadata|rendered|instances))?"
    rf"|studies/(?P<s3>{_UID})/series/{_UID}/instances/{_UID}"
    rf"(?:/(?P<t3>metadata|rendered|{_FRAMES}(?:/rendered)?|{_BULK}))?)$"
)
CHUNK = 256 * 1024
STUDY_UID_TAG = "0020000D"


class Route:
    def __init__(self, path: str):
        match = PATH.match(path)
        self.valid = match is not None
        groups = match.groupdict() if match else {}
        self.study_uid = groups.get("s1") or groups.get("s2") or groups.get("s3") or ""
        tail = groups.get("t1") or groups.get("t2") or groups.get("t3") or ""
        # QIDO: a search at the root, or for the series/instances of a study or series
        self.is_search = bool(groups.get("root")) or tail in ("series", "instances")
        self.is_stow = path == "studies" or (bool(groups.get("s1")) and not tail)


def _patients_of(study_uids: list[str]) -> dict[str, list[str]]:
    """The patients of each UID's rows: more than one when a conflict's images were linked to another."""
    patients: dict[str, list[str]] = {}
    for uid, patient in Study.objects.filter(study_instance_uid__in=study_uids).values_list(
        "study_instance_uid", "patient__emr_uuid"
    ):
        patients.setdefault(uid, []).append(patient or "")
    return patients


def audit_studies(*, user, study_uids: list[str], action: str = Action.READ, endpoint: str = "") -> None:
    patients = _patients_of(study_uids)
    for uid in dict.fromkeys(study_uids):
        for patient in dict.fromkeys(patients.get(uid) or [""]):
            AuditClient.log_event(
                action, actor=user, resource_type="dicom_study", resource_id=uid, patient_id=patient,
                endpoint=endpoint,
            )  # fmt: skip


def authorise_read(*, user, uri: str, expires_at: datetime | None = None) -> int:
    """May `user` (whose role the view checked) retrieve the DICOMweb resource `uri` (the gateway's path, as
    nginx normalised it)? Only retrievals under a study the CDSS knows pass; searches, which must be narrowed
    and audited per study found, never do (nginx sends them to Django). Returns how many seconds nginx may
    reuse the answer for this caller and study: the grant window, cut short by a credential expiring first.
    The read is audited once per user and study per RADIOLOGY_DICOMWEB_AUDIT_SECONDS, not per frame."""
    prefix = settings.ORTHANC_DICOMWEB_ROOT + "/"
    route = Route(uri[len(prefix) :] if uri.startswith(prefix) else "")
    if not route.valid or not route.study_uid or route.is_search:
        raise NotPermitted(_("Not a DICOMweb retrieval of a study."))
    if not Study.objects.filter(study_instance_uid=route.study_uid).exists():
        raise NotPermitted(_("The CDSS holds no study %(uid)s.") % {"uid": route.study_uid})
    if cache.add(f"dicomweb-read:{user.pk}:{route.study_uid}", 1, timeout=settings.RADIOLOGY_DICOMWEB_AUDIT_SECONDS):
        try:
            audit_studies(user=user, study_uids=[route.study_uid], endpoint=f"GET {uri}")
        except Exception:
            cache.delete(f"dicomweb-read:{user.pk}:{route.study_uid}")  # unaudited: audit the next read
            raise
    seconds = settings.RADIOLOGY_DICOMWEB_GRANT_SECONDS
    if expires_at is not None:
        seconds = min(seconds, int((expires_at - timezone.now()).total_seconds()))
    return max(seconds, 0)


class Upstream:
    """Orthanc's answer: status, content type and a body to stream (or read whole)."""

    def __init__(self, response):
        self.response = response
        self.status = response.status_code
        self.content_type = response.headers.get("Content-Type", "application/octet-stream")

    def __iter__(self) -> Iterator[bytes]:
        return self.response.iter_content(CHUNK)

    def close(self) -> None:
        """Called by Django when the response is done (read to the end or not): frees the connection."""
        self.response.close()

    def read(self) -> bytes:
        try:
            return self.response.content
        finally:
            self.response.close()


def forwarded_header(request) -> str:
    """RFC 7239 `Forwarded` naming the client's view of the CDSS (host validated by ALLOWED_HOSTS). Orthanc
    builds the URLs in its answers from it and its DICOMweb root, the gateway's path: so they name the
    gateway. The host is left unquoted, although it may carry a port: the plugin does not unquote."""
    return f"host={request.get_host()};proto={request.scheme}"


def forward_get(
    *, user, path: str, query: str, accept: str, forwarded: str, endpoint: str
) -> tuple[Upstream, bytes | None]:
    """GET a DICOMweb resource. For searches the body is read (and returned) to audit the studies named."""
    route = Route(path)
    response = get_orthanc_client().dicomweb_get(
        path, query=_one_patient(route, query), accept=accept, forwarded=forwarded, study_uid=route.study_uid
    )
    upstream = Upstream(response)
    if upstream.status != 200:  # an error answer from Orthanc: small, passed through whole
        return upstream, upstream.read()
    if route.is_search:
        body = upstream.read()
        uids = [route.study_uid] if route.study_uid else _study_uids(body)
        audit_studies(user=user, study_uids=uids, endpoint=endpoint)
        return upstream, body
    if route.study_uid:
        audit_studies(user=user, study_uids=[route.study_uid], endpoint=endpoint)
    return upstream, None


def _one_patient(route: Route, query: str) -> str:
    """A search under a StudyInstanceUID that several Orthanc studies share (a CONFLICT: Orthanc keys studies
    by PatientID + UID) would list every patient's series under it. Unless the client names a PatientID,
    it is narrowed to the PatientID of the study that holds the UID."""
    if not (route.is_search and route.study_uid) or re.search(r"(?:^|&)PatientID=", query):
        return query
    rows = list(Study.objects.filter(study_instance_uid=route.study_uid).values_list("holds_uid", "dicom_patient_id"))
    holder = [patient_id for holds, patient_id in rows if holds]
    if len(rows) < 2 or not holder:
        return query
    return "&".join(filter(None, [query, urlencode({"PatientID": holder[0]})]))


def _study_uids(body: bytes) -> list[str]:
    try:
        answers = json.loads(body or b"[]")
    except ValueError:
        return []
    uids = []
    for answer in answers if isinstance(answers, list) else []:
        value = (answer.get(STUDY_UID_TAG) or {}).get("Value") or []
        if value:
            uids.append(str(value[0]))
    return uids


def forward_stow(
    *, stream, length: int, path: str, content_type: str, accept: str, forwarded: str
) -> tuple[int, str, bytes, list[str]]:
    """POST the multipart/related body (`length` bytes from `stream`) to Orthanc's STOW-RS, streamed.
    Returns status, content type, Orthanc's answer and the study UIDs it stored."""
    response = get_orthanc_client().dicomweb_stow(
        path, stream, length=length, content_type=content_type, accept=accept, forwarded=forwarded
    )
    body = response.content
    uids = sorted(set(re.findall(rb"/studies/([0-9][0-9.]*)", body)))  # whole, even over-long: to refuse them
    return response.status_code, response.headers.get("Content-Type", ""), body, [uid.decode() for uid in uids]


def max_stow_bytes() -> int:
    return settings.RADIOLOGY_UPLOAD_MAX_REQUEST_BYTES
