"""The DICOMweb gateway through nginx (issue #21 item 1): a study's frames are served straight from Orthanc
once Django authorised the caller for that study (auth_request, cached by nginx; docs/security.md,
"DICOMweb reads"). Another study's frames, Orthanc's own REST API and ended authorisations are refused;
a frame fetch works, equals Orthanc's own answer and is audited once. Also measures the gateway against
Orthanc (backend/benchmarks/dicomweb_gateway.py) on the 95-slice series and prints the figures."""

import io
import re
import sys
import time
import uuid
from pathlib import Path

import pydicom
import pytest
import requests
from api_session import api_session
from pydicom.uid import generate_uid
from test_patient_safe_imaging import mr_file, upload

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "backend"))
from benchmarks import dicomweb_gateway as bench

GATEWAY = "/api/radiology/dicom-web"


@pytest.fixture(scope="module")
def two_studies(base_url, env):
    """Two studies of one instance each, uploaded by the radiologist: [(study, series, instance) UIDs]."""
    made = []
    with api_session(base_url, env) as http:
        for _ in range(2):
            uids = (generate_uid(), generate_uid())
            data = mr_file(uids[0], f"E2E-GW-{uuid.uuid4().hex[:6]}", series_uid=uids[1])
            answer = upload(http, base_url, {}, data)
            assert answer.status_code == 201, answer.text
            made.append((*uids, pydicom.dcmread(io.BytesIO(data)).SOPInstanceUID))
    return made


def _frame(base_url: str, uids: tuple[str, str, str], frame: int = 1) -> str:
    return f"{base_url}{GATEWAY}/studies/{uids[0]}/series/{uids[1]}/instances/{uids[2]}/frames/{frame}"


def _get(http, url: str, headers: dict | None = None) -> requests.Response:
    return http.get(url, headers={"Accept": bench.FRAME_ACCEPT, **(headers or {})}, timeout=30)


def _frame_bytes(response: requests.Response) -> bytes:
    """The frame inside the multipart answer (its boundary is random per answer)."""
    boundary = re.search(r'boundary="?([^";]+)"?', response.headers["Content-Type"]).group(1).encode()
    part = response.content.split(b"--" + boundary)[1]
    return part.split(b"\r\n\r\n", 1)[1].rstrip(b"\r\n")


def test_a_frame_fetch_works_equals_orthancs_and_is_audited_once(http, base_url, env, token_headers, two_studies):
    doctor = token_headers("doctor")
    first = two_studies[0]
    answers = [_get(http, _frame(base_url, first), doctor) for _ in range(5)]
    assert [a.status_code for a in answers] == [200] * 5, answers[0].text[:300]
    with requests.Session() as orthanc:  # Orthanc's own answer, with its credentials (loopback only)
        orthanc.trust_env, orthanc.auth = False, (env["ORTHANC_USERNAME"], env["ORTHANC_PASSWORD"])
        direct = _get(orthanc, f"{env['ORTHANC_URL'].rstrip('/')}{_frame('', first)}")
    assert _frame_bytes(answers[0]) == _frame_bytes(direct) and len(_frame_bytes(direct)) == 8 * 8 * 2
    # both asked with "Accept-Encoding: gzip": Orthanc gzips its frame, the gateway hands frames on as stored
    assert direct.headers.get("Content-Encoding") == "gzip"
    assert "Content-Encoding" not in answers[0].headers
    # the metadata a viewer reads first, through the same route
    metadata = http.get(f"{base_url}{GATEWAY}/studies/{first[0]}/series/{first[1]}/metadata", headers=doctor,
                        timeout=30)  # fmt: skip
    assert metadata.status_code == 200 and metadata.json()[0]["0020000D"]["Value"] == [first[0]]
    assert metadata.headers.get("Content-Encoding") == "gzip"  # JSON still compressed
    admin = token_headers("admin")
    query = {"actor": "doctor", "resource_type": "dicom_study", "resource_id": first[0]}
    events = http.get(f"{base_url}/api/audit/events", headers=admin, params=query, timeout=10).json()
    assert events["count"] == 1, events  # five frames and the metadata: one READ of the study
    event = events["results"][0]
    assert event["action"] == "READ" and event["endpoint"].startswith(f"GET {GATEWAY}/studies/{first[0]}/")


def test_another_studys_frames_are_refused(http, base_url, token_headers, two_studies):
    doctor = token_headers("doctor")
    first, second = two_studies
    assert _get(http, _frame(base_url, first), doctor).status_code == 200  # the first study is authorised
    # the second study's instance under the first study's (authorised) UID: Orthanc finds no such instance
    mixed = (first[0], second[1], second[2])
    refused = _get(http, _frame(base_url, mixed), doctor)
    assert refused.status_code in (400, 404) and not refused.headers.get("Content-Type", "").startswith("multipart/")
    # a study the CDSS does not hold: refused before Orthanc is asked
    unknown = (generate_uid(), second[1], second[2])
    assert _get(http, _frame(base_url, unknown), doctor).status_code == 403
    # a role without patient data
    assert _get(http, _frame(base_url, first), token_headers("ops")).status_code == 403
    # nobody signed in
    assert _get(http, _frame(base_url, first)).status_code == 401
    # only GET: nothing is written through this route
    assert http.delete(_frame(base_url, first), headers=doctor, timeout=10).status_code == 403


SERIES_ACCEPT = 'multipart/related; type="application/dicom"; transfer-syntax=*'  # the viewer's (seriesRetrieve.ts)


def _parts(response: requests.Response) -> list[tuple[str, bytes]]:
    """Each part's headers and body of a multipart answer."""
    boundary = re.search(r'boundary="?([^";]+)"?', response.headers["Content-Type"]).group(1).encode()
    chunks = response.content.split(b"\r\n--" + boundary)
    chunks[0] = chunks[0].removeprefix(b"--" + boundary)
    parts = [chunk.split(b"\r\n\r\n", 1) for chunk in chunks if not chunk.startswith(b"--")]
    return [(headers.decode(), body) for headers, body in parts]


def test_a_whole_series_is_retrieved_in_one_request_and_refused_like_frames(
    http, base_url, env, token_headers, two_studies
):
    """The viewer's series retrieval (every instance in one multipart answer, each part with its length, so
    the browser splits it without searching the bytes): the stored files, Orthanc's own answer, under the
    same study grant as frames; another study's series and unauthorised callers are refused."""
    radiologist = token_headers("radiologist")
    first, second = two_studies
    series = f"{base_url}{GATEWAY}/studies/{first[0]}/series/{first[1]}"
    answer = http.get(series, headers={"Accept": SERIES_ACCEPT, **radiologist}, timeout=30)
    assert answer.status_code == 200, answer.text[:300]
    [(headers, body)] = _parts(answer)
    assert re.search(r"(?im)^content-length:\s*(\d+)\s*$", headers).group(1) == str(len(body))
    assert pydicom.dcmread(io.BytesIO(body)).SOPInstanceUID == first[2]
    with requests.Session() as orthanc:
        orthanc.trust_env, orthanc.auth = False, (env["ORTHANC_USERNAME"], env["ORTHANC_PASSWORD"])
        direct = orthanc.get(f"{env['ORTHANC_URL'].rstrip('/')}{GATEWAY}/studies/{first[0]}/series/{first[1]}",
                             headers={"Accept": SERIES_ACCEPT}, timeout=30)  # fmt: skip
    assert [part[1] for part in _parts(direct)] == [body]
    # the second study's series under the first study's UID: Orthanc holds no such series there
    mixed = http.get(f"{base_url}{GATEWAY}/studies/{first[0]}/series/{second[1]}",
                     headers={"Accept": SERIES_ACCEPT, **radiologist}, timeout=30)  # fmt: skip
    assert mixed.status_code in (400, 404) and not mixed.headers.get("Content-Type", "").startswith("multipart/")
    unknown = f"{base_url}{GATEWAY}/studies/{generate_uid()}/series/{second[1]}"
    assert http.get(unknown, headers={"Accept": SERIES_ACCEPT, **radiologist}, timeout=30).status_code == 403
    assert http.get(series, headers={"Accept": SERIES_ACCEPT, **token_headers("ops")}, timeout=30).status_code == 403
    assert http.get(series, headers={"Accept": SERIES_ACCEPT}, timeout=30).status_code == 401
    admin = token_headers("admin")
    query = {"actor": "radiologist", "resource_type": "dicom_study", "resource_id": first[0]}
    events = http.get(f"{base_url}/api/audit/events", headers=admin, params=query, timeout=10).json()
    assert events["count"] >= 1 and all(event["action"] == "READ" for event in events["results"]), events


def test_orthancs_own_rest_api_is_unreachable(http, base_url, token_headers, two_studies):
    doctor = token_headers("doctor")
    first = two_studies[0]
    prefix = f"{GATEWAY}/studies/{first[0]}/series/{first[1]}/instances/{first[2]}"
    paths = ["/instances", "/tools/find", "/studies", "/system", "/patients", f"{prefix}/../../../../../../system",
             f"{prefix}{'/%2e%2e' * 7}/instances", f"{GATEWAY}/../../../instances", f"{prefix}/file", f"{prefix}/tags",
             f"{GATEWAY}/tools/find", f"{GATEWAY}/system"]  # fmt: skip
    for path in paths:
        for method in ("GET", "POST"):
            request = requests.Request(
                method, f"{base_url}{path}", headers=doctor, json={"Level": "Study", "Query": {}}
            )
            prepared = http.prepare_request(request)
            prepared.url = f"{base_url}{path}"  # as written: no client-side normalisation of ..
            answer = http.send(prepared, timeout=10)
            orthanc_like = answer.headers.get("Content-Type", "").startswith("application/json") and (
                "Version" in answer.text or '"ID"' in answer.text or "MainDicomTags" in answer.text
            )
            assert not orthanc_like, (method, path, answer.status_code, answer.text[:200])
            assert answer.status_code in (200, 400, 401, 403, 404, 405, 415, 429), (method, path, answer.status_code)
            if answer.status_code == 200:  # only the web UI's index.html, for a client-side route
                assert answer.headers["Content-Type"].startswith("text/html"), (method, path)


def test_an_ended_authorisation_is_refused_after_the_grant_window(http, base_url, env, two_studies):
    """A revoked token and a signed-out session's cookie: refused once the grant nginx holds has ended
    (RADIOLOGY_DICOMWEB_GRANT_SECONDS, 10 by default; a token's end cuts it short)."""
    window = int(env.get("RADIOLOGY_DICOMWEB_GRANT_SECONDS", "10"))
    first = two_studies[0]
    token = http.post(f"{base_url}/api/auth/token", json={"username": "doctor", "password": env["DEMO_PASSWORD"]},
                      timeout=10).json()["token"]  # fmt: skip
    by_token = {"Authorization": f"Token {token}"}
    with requests.Session() as browser:
        browser.verify, browser.trust_env = False, False
        csrf = browser.get(f"{base_url}/api/auth/csrf", timeout=10).json()["csrf_token"]
        csrf_headers = {"X-CSRFToken": csrf, "Referer": f"{base_url}/"}
        signed_in = browser.post(f"{base_url}/api/auth/login", headers=csrf_headers, timeout=10,
                                 json={"username": "nurse", "password": env["DEMO_PASSWORD"]})  # fmt: skip
        assert signed_in.status_code == 200, signed_in.text
        cookie = {"Cookie": f"sessionid={browser.cookies['sessionid']}"}
        assert _get(http, _frame(base_url, first), by_token).status_code == 200
        assert _get(http, _frame(base_url, first), cookie).status_code == 200
        csrf_headers["X-CSRFToken"] = browser.cookies.get("csrftoken", csrf)
        assert browser.post(f"{base_url}/api/auth/logout", headers=csrf_headers, timeout=10).status_code in (200, 204)
    assert http.delete(f"{base_url}/api/auth/token", headers=by_token, timeout=10).status_code == 204
    time.sleep(window + 1)
    assert _get(http, _frame(base_url, first), by_token).status_code == 401
    assert _get(http, _frame(base_url, first), cookie).status_code == 401


@pytest.mark.timeout(600)  # the 95-slice series is made and uploaded first (when test_ai.py has not)
def test_gateway_benchmark_on_the_95_slice_series(env, base_url, lesion_study):
    """The figures of issue #21, printed (run with -s to see them), not asserted: speed is judged by
    `make bench` (benchmarks/dicomweb_gateway.py), not by a timed test on a shared machine. That frames
    do not go through Python is asserted above (one authorisation and one audit event for many frames)."""
    with api_session(base_url, env) as http:
        result = bench.measure(base_url=base_url, headers=dict(http.headers), orthanc_url=env["ORTHANC_URL"],
                               orthanc_auth=(env["ORTHANC_USERNAME"], env["ORTHANC_PASSWORD"]),
                               dicomweb_root=GATEWAY, study_uid=lesion_study["study_instance_uid"],
                               rounds=1, api_requests=10)  # fmt: skip
    print("\n" + bench.report(result))
    assert result["frames"] == lesion_study["instances"]
