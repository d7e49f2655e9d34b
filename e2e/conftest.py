"""End-to-end tests: the running stack (make run) reached only through nginx, as a browser would.

The local run serves HTTPS with a self-signed certificate (unless .env names one), so the clients here
do not verify it; e2e/test_edge.py checks what the certificate and the redirect look like instead.
"""

import ssl
from pathlib import Path

import pytest
import requests
import urllib3
from api_session import api_session
from second_factor import SECRET_PREFIX, api_token
from stack_env import stack_env

urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def env() -> dict[str, str]:
    return stack_env()


@pytest.fixture(scope="session")
def base_url(env) -> str:
    return f"https://127.0.0.1:{env['HTTPS_PORT']}"


@pytest.fixture(scope="session")
def http_url(env) -> str:
    """The plain-HTTP port, which only redirects to HTTPS."""
    return f"http://127.0.0.1:{env['HTTP_PORT']}"


@pytest.fixture(scope="session")
def tls_context() -> ssl.SSLContext:
    """For websockets over TLS to the self-signed local certificate."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


@pytest.fixture
def http() -> requests.Session:
    with requests.Session() as session:
        session.verify = False
        # Otherwise REQUESTS_CA_BUNDLE in the environment overrides verify=False (requests' merge order).
        session.trust_env = False
        yield session


@pytest.fixture(scope="session")
def _second_factor_tokens(base_url, env):
    """admin's and ops's API tokens, issued once per run: an authenticator gives two usable codes per
    30 s (the server takes each once), so a run that signed them in for every test waited for fresh codes,
    tens of seconds at a time. Both are issued at the start, before a test spends their codes; revoked at
    the end of the run."""
    with requests.Session() as http:
        http.verify, http.trust_env = False, False
        accounts = [name.removeprefix(SECRET_PREFIX).lower() for name in env if name.startswith(SECRET_PREFIX)]
        issued = {username: api_token(http, base_url, env, username) for username in accounts}
        yield issued
        for headers in issued.values():
            http.delete(f"{base_url}/api/auth/token", headers=headers, timeout=10)


@pytest.fixture
def token_headers(http, base_url, env, _second_factor_tokens):
    """token_headers("doctor") -> the Authorization header of a fresh API token for that demo account;
    admin and ops (who send a code from their authenticator too) share one token for the whole run:
    a test must not revoke it."""

    def headers(username: str) -> dict[str, str]:
        if username in _second_factor_tokens:
            return _second_factor_tokens[username]
        return api_token(http, base_url, env, username)

    return headers


EXAMPLE_PROFILE = ROOT / "ai-server" / "models" / "omics-cox-gse7390" / "1.1.0" / "example-profile.csv"


@pytest.fixture
def expression_upload(http, base_url):
    """expression_upload(headers, patient_uuid) -> the id of the omics model's example profile uploaded
    for that patient (what an omics AI job names)."""

    def upload(headers: dict[str, str], patient_uuid: str) -> int:
        response = http.post(
            f"{base_url}/api/ai/expression-uploads",
            data={"patient": patient_uuid},
            files={"file": ("profile.csv", EXAMPLE_PROFILE.read_bytes(), "text/csv")},
            headers=headers,
            timeout=30,
        )
        assert response.status_code == 201, response.text
        return response.json()["id"]

    return upload


# Writes a 95-slice series from the MNI template with one lesion of known size, with the ai-server's own
# generator (its virtualenv has the template), and prints the lesion's true volume.
MAKE_SERIES = """
import json, sys
from pathlib import Path
from ai_server import synthetic
out, patient_id = Path(sys.argv[1]), sys.argv[2]
case = synthetic.make_case(seed=2026, lesion_radius_mm=12.0)
for index, data in enumerate(synthetic.write_series(case.volume, case.spacing, patient_id=patient_id)):
    (out / f"IM{index:04d}.dcm").write_bytes(data)
print(json.dumps({"lesion_ml": case.lesion_ml}))
"""


@pytest.fixture(scope="session")
def lesion_study(base_url, env, tmp_path_factory) -> dict:
    """A study a RIB uploaded for an EMR patient (matched by MRN): {"id", "study_instance_uid", "patient",
    "true_ml", "instances"}, the input of the AI tests."""
    import json
    import subprocess

    with api_session(base_url, env) as http:
        patient = http.get(f"{base_url}/api/patients", timeout=10).json()["results"][0]
        out = tmp_path_factory.mktemp("lesion-series")
        made = subprocess.run(  # noqa: S603 - the project's own interpreter and script
            [str(ROOT / "ai-server" / ".venv" / "bin" / "python"), "-c", MAKE_SERIES, str(out), patient["mrn"]],
            check=True,
            capture_output=True,
            text=True,
            timeout=180,
        )
        files = sorted(out.glob("*.dcm"))
        uploaded = http.post(
            f"{base_url}/api/radiology/uploads",
            timeout=300,
            files=[("files", (path.name, path.read_bytes(), "application/dicom")) for path in files],
        )
        assert uploaded.status_code in (200, 201), uploaded.text
        assert uploaded.json()["counts"]["rejected"] == 0
        [study] = uploaded.json()["studies"]
    return {
        "id": study["id"],
        "study_instance_uid": study["study_instance_uid"],
        "patient": patient,
        "true_ml": json.loads(made.stdout)["lesion_ml"],
        "instances": len(files),
    }
