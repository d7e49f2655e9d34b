"""Fixtures shared by every backend test: real broker channels, real worker processes."""

import pika
import pytest
from django.conf import settings

from core.messaging.topology import WORK_QUEUES, connection_parameters, declare, declare_topology
from core.storage import ensure_buckets


@pytest.fixture
def broker_channel():
    """A channel on the test vhost with the topology declared and every queue empty."""
    connection = pika.BlockingConnection(connection_parameters(settings.RABBITMQ_URL))
    channel = connection.channel()
    declare(channel)
    for queue in WORK_QUEUES:
        channel.queue_purge(queue.name)
        channel.queue_purge(queue.dead_letter_queue)
    yield channel
    connection.close()


@pytest.fixture(scope="session", autouse=True)
def test_namespaces():
    """What `manage.py bootstrap` does at start-up, done once for the test vhost and test buckets (created
    with the admin key; the tests themselves run as the application: cdss.settings.test)."""
    declare_topology(settings.RABBITMQ_URL)
    ensure_buckets()


# --- people and clients -------------------------------------------------------------------------------
ROLE_NAMES = ("DOCTOR", "RIB", "RADIOLOGIST", "NURSE", "ADMIN", "OPS", "SERVICE")


@pytest.fixture
def make_user(db):
    """make_user("DOCTOR", "RIB", username=...) -> a saved user holding those roles."""
    from acct.models import User
    from acct.services import user_set_roles

    counter = iter(range(1, 10_000))

    def make(*roles: str, username: str | None = None, password: str = "correct-horse-battery-9", **fields):
        name = username or f"{'-'.join(roles).lower() or 'norole'}-{next(counter)}"
        user = User.objects.create_user(username=name, password=password, **fields)
        if "SERVICE" in roles:
            user.is_service_account = True
            user.set_unusable_password()
            user.save()
        user_set_roles(actor=None, user=user, roles=set(roles))
        return user

    return make


# The suite reads the API's messages in English: its clients ask for them as the web UI does when English is
# chosen (Accept-Language), and code called directly runs with English active. Korean, the default, is
# checked by radiology/tests/test_language.py.
ENGLISH = {"HTTP_ACCEPT_LANGUAGE": "en"}


@pytest.fixture(autouse=True)
def _english():
    from django.utils import translation

    with translation.override("en"):
        yield


@pytest.fixture
def api_client():
    from rest_framework.test import APIClient

    return APIClient(**ENGLISH)


@pytest.fixture
def token_client(make_user):
    """token_client("DOCTOR") -> an APIClient that sends a fresh knox token of a user with that role."""
    from rest_framework.test import APIClient

    from acct.services import token_issue

    def make(*roles: str, user=None):
        user = user or make_user(*roles)
        _, token = token_issue(actor=user, user=user)
        client = APIClient(**ENGLISH)
        client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
        client.user = user
        return client

    return make


# A token client per role, for the apps' API tests.
@pytest.fixture
def doctor(token_client):
    return token_client("DOCTOR")


@pytest.fixture
def rib(token_client):
    return token_client("RIB")


@pytest.fixture
def radiologist(token_client):
    """Radiology staff with the sign-off role (a plain `rib` is a radiographer)."""
    return token_client("RIB", "RADIOLOGIST")


@pytest.fixture
def nurse(token_client):
    return token_client("NURSE")


@pytest.fixture
def ops(token_client):
    return token_client("OPS")


@pytest.fixture(autouse=True)
def _truncate_audit_after_transactional_tests(request):
    """Django flushes transactional tests with DELETE, which the audit triggers refuse; TRUNCATE them first
    (TRUNCATE fires no trigger). Runs before pytest-django's own teardown because it is set up after it.
    That flush also empties the rows data migrations create once for a real database (the role groups):
    every database test starts with them, as production does."""
    marker = request.node.get_closest_marker("django_db")
    if marker:
        _rows_of_data_migrations()
    yield
    if marker and (marker.kwargs.get("transaction") or (len(marker.args) > 0 and marker.args[0])):
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute("TRUNCATE TABLE audit_auditevent")
            cursor.execute("TRUNCATE TABLE audit_auditseal")
            cursor.execute("TRUNCATE TABLE audit_auditarchive")


def _rows_of_data_migrations() -> None:
    from importlib import import_module

    from django.apps import apps
    from django.contrib.auth.models import Group

    from acct.roles import Role

    if Group.objects.filter(name__in=Role.values).count() < len(Role.values):
        import_module("acct.migrations.0003_role_groups").create_role_groups(apps, None)
        import_module("acct.migrations.0004_radiologist_role").create_radiologist_group(apps, None)


EXTERNAL_CALLS = {"calls": 0, "tests": 0}


@pytest.fixture(autouse=True)
def _every_external_call_is_audited(request, monkeypatch, _truncate_audit_after_transactional_tests):
    """Across the whole suite: each logical call to an external system through core.http produces
    exactly one EXTERNAL_CALL audit event (not one per retry, and never none). Counted before the audit
    tables of a transactional test are emptied (hence the dependency: torn down first)."""
    from core.http import ExternalSession

    calls: list[tuple[str, str]] = []
    baseline: list[int] = []
    original = ExternalSession.request

    def counted(self, method, path, **kwargs):
        if not baseline and request.node.get_closest_marker("django_db"):
            baseline.append(_external_call_events())
        calls.append((self.system, method))
        return original(self, method, path, **kwargs)

    monkeypatch.setattr(ExternalSession, "request", counted)
    yield
    if calls and baseline:
        made = _external_call_events() - baseline[0]
        assert made == len(calls), f"{len(calls)} external calls made but {made} EXTERNAL_CALL events recorded"
        EXTERNAL_CALLS["calls"] += len(calls)
        EXTERNAL_CALLS["tests"] += 1


def _external_call_events() -> int:
    from audit.models import Action, AuditEvent

    return AuditEvent.objects.filter(action=Action.EXTERNAL_CALL).count()


def pytest_terminal_summary(terminalreporter):
    if EXTERNAL_CALLS["calls"]:
        terminalreporter.write_line(
            f"external calls audited: {EXTERNAL_CALLS['calls']} calls in {EXTERNAL_CALLS['tests']} tests, "
            "each with exactly one EXTERNAL_CALL event"
        )


@pytest.fixture(autouse=True)
def _fresh_circuit_breakers():
    """Breakers are per process; a test must not inherit another test's open circuit."""
    from core import http

    http._breakers.clear()
    yield
    http._breakers.clear()


@pytest.fixture(autouse=True)
def _fresh_channel_layer():
    """channels_redis keeps receive state (a lock, the loop it belongs to) on the layer object, and each
    async_to_sync call in a test runs its own event loop: a layer shared between tests can carry a lock
    of a finished loop into the next test. Each test gets a layer of its own, as each server process has."""
    from channels.layers import channel_layers

    channel_layers.backends.clear()
    yield
    channel_layers.backends.clear()


# --- the EMR and FHIR stand-ins (standins/ at the repository root) as real HTTP servers ----------------
EMR_CLIENT = ("cdss-test-client", "cdss-test-client-secret")
EMR_USER = ("cdss-api", "cdss-api-password")


@pytest.fixture(scope="session")
def openemr_process(tmp_path_factory):
    from standins.process import StandinProcess

    data = tmp_path_factory.mktemp("openemr") / "openemr.sqlite3"
    process = StandinProcess(
        "standins.openemr", data,
        ["--password-grant", "1", "--client-id", EMR_CLIENT[0], "--client-secret", EMR_CLIENT[1],
         "--username", EMR_USER[0], "--password", EMR_USER[1]],
    ).start()  # fmt: skip
    yield process
    process.stop()


@pytest.fixture
def emr(settings, openemr_process):
    """Settings pointed at the OpenEMR stand-in, with its faults cleared before and after the test."""
    import requests

    from core.http import forget_shared_clients

    settings.EMR_BASE_URL = openemr_process.origin
    settings.EMR_CLIENT_ID, settings.EMR_CLIENT_SECRET = EMR_CLIENT
    settings.EMR_USERNAME, settings.EMR_PASSWORD = EMR_USER
    settings.EMR_TIMEOUT_SECONDS = 1.0
    requests.delete(f"{openemr_process.origin}/__control__/faults", timeout=5)
    forget_shared_clients()
    yield openemr_process
    requests.delete(f"{openemr_process.origin}/__control__/faults", timeout=5)
    forget_shared_clients()


FHIR_CLIENT = ("cdss-fhir-test-client", "cdss-fhir-test-client-secret")
FHIR_CONTRACT_ENV = "HAPI_CONTRACT_URL"  # a real FHIR base to run the HAPI contract tests against instead


def _hapi_emulator(tmp_path_factory, name: str, args: list[str]):
    from standins.process import StandinProcess

    process = StandinProcess("standins.hapi", tmp_path_factory.mktemp(name) / "hapi.sqlite3", args).start()
    yield process
    process.stop()


@pytest.fixture(scope="session")
def hapi_process(tmp_path_factory):
    """The HAPI FHIR stand-in without auth, as stock HAPI; None when HAPI_CONTRACT_URL names a real server."""
    import os

    if os.environ.get(FHIR_CONTRACT_ENV):
        yield None
        return
    yield from _hapi_emulator(tmp_path_factory, "hapi", [])


@pytest.fixture(scope="session")
def hapi_auth_process(tmp_path_factory):
    """The HAPI FHIR stand-in behind its OAuth2 client-credentials gateway (POST /oauth/token)."""
    yield from _hapi_emulator(
        tmp_path_factory, "hapi-auth", ["--auth", "--client-id", FHIR_CLIENT[0], "--client-secret", FHIR_CLIENT[1]]
    )


def _hapi_restore(process) -> None:
    """Undo a test's faults and clock moves on the stand-in (no-op against a real server)."""
    import requests

    if process is None:
        return
    for name in ("faults", "clock"):
        requests.delete(f"{process.origin}/__control__/{name}", timeout=5).raise_for_status()


@pytest.fixture
def fhir(settings, hapi_process):
    """Settings pointed at the HAPI stand-in's FHIR base (no token), its faults cleared before and after the
    test. With HAPI_CONTRACT_URL set, at that server instead, and the fixture's value is None (no control)."""
    import os

    real = os.environ.get(FHIR_CONTRACT_ENV, "").rstrip("/")
    settings.FHIR_BASE_URL = real or f"{hapi_process.origin}/fhir"
    settings.FHIR_TOKEN_URL = ""
    settings.FHIR_CLIENT_ID = settings.FHIR_CLIENT_SECRET = ""
    _hapi_restore(hapi_process)
    yield hapi_process
    _hapi_restore(hapi_process)


@pytest.fixture
def fhir_auth(settings, hapi_auth_process):
    """Settings pointed at the stand-in that requires bearer tokens from its client-credentials endpoint."""
    settings.FHIR_BASE_URL = f"{hapi_auth_process.origin}/fhir"
    settings.FHIR_TOKEN_URL = f"{hapi_auth_process.origin}/oauth/token"
    settings.FHIR_CLIENT_ID, settings.FHIR_CLIENT_SECRET = FHIR_CLIENT
    _hapi_restore(hapi_auth_process)
    yield hapi_auth_process
    _hapi_restore(hapi_auth_process)
