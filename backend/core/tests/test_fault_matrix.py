"""The fault matrix (issue 15): one real gunicorn reaches every dependency through its own TcpProxy, and
each dependency in turn is cut (an outage as a client sees it) and brought back. For each one:
(a) a request that needs it answers 503 naming it within 3 s, one that does not need it still works;
(b) /ready names it; (c) after it is back, both work again and no CDSS process was restarted;
(d) work accepted before and during the outage is neither lost nor duplicated (AI jobs and their audit
events across a RabbitMQ outage, through the outbox and its relay; FHIR syncs queued before and
during a FHIR outage, synced by a real Celery worker, each exactly once).

Shared servers are never stopped: only the proxies are. The table of results is printed at the end of
the module (pytest -s) and written to the file FAULT_MATRIX_REPORT names, when set.
"""

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field

import pika
import pytest
import requests
from conftest import EMR_CLIENT, EMR_USER
from django.conf import settings
from django.db import OperationalError as DatabaseError
from django.db import transaction
from kombu.exceptions import OperationalError as BrokerError
from redis.exceptions import ConnectionError as RedisConnectionError

from acct.services import token_issue
from ai.models import AIJob
from ai.tests.factories import complete, make_study, put_artifact, serve_models
from ai.tests.test_consumer import private_queues  # noqa: F401 (a fixture, used by AIResults)
from audit.models import Action, AuditEvent
from core import outbox
from core.dbaccess import process_env
from core.messaging.names import FHIR_QUEUE
from core.messaging.topology import connection_parameters
from core.models import OutboxMessage
from core.tests.processes import TcpProxy, free_port, wait_for_http
from fhir_sync.models import DeadLetter, FhirMapping
from fhir_sync.tests.conftest import make_patients  # noqa: F401 (a fixture, used by FhirSyncs)

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

OUTAGE_LIMIT_S = 3.0  # issue 15: a request that needs a down dependency answers within this
RECOVERY_LIMIT_S = 20.0
RESULTS: list[tuple[str, str, str, str]] = []  # (dependency, check, result, evidence)


@dataclass
class Stack:
    base: str
    proxies: dict[str, TcpProxy]
    server: subprocess.Popen
    workers: set[int] = field(default_factory=set)

    def get(self, path: str, token: str = "", **kwargs) -> tuple[requests.Response, float]:
        return self.call("GET", path, token, **kwargs)

    def call(self, method: str, path: str, token: str = "", **kwargs) -> tuple[requests.Response, float]:
        headers = {"Authorization": f"Token {token}"} if token else {}
        started = time.monotonic()
        response = requests.request(method, self.base + path, headers=headers, timeout=30, **kwargs)
        return response, time.monotonic() - started


def _children(pid: int) -> set[int]:
    with open(f"/proc/{pid}/task/{pid}/children") as handle:
        return {int(child) for child in handle.read().split()}


@pytest.fixture(scope="module")
def stack(tmp_path_factory, django_db_setup, django_db_blocker, openemr_process, hapi_process):
    ai_server = serve_models()  # the ai-server's GET /models, as in the AI tests
    targets = {
        "database": int(settings.DATABASES["default"]["PORT"] or 3306),
        "redis": int(settings.REDIS_URL.split(":")[-1].split("/")[0]),
        "rabbitmq": int(settings.RABBITMQ_URL.rsplit("@", 1)[-1].split(":")[1].split("/")[0]),
        "orthanc": int(settings.ORTHANC_URL.rsplit(":", 1)[-1]),
        "object_storage": int(settings.S3_ENDPOINT_URL.rstrip("/").rsplit(":", 1)[-1]),
        "fhir": int(hapi_process.origin.rsplit(":", 1)[-1]),
        "emr": int(openemr_process.origin.rsplit(":", 1)[-1]),
        "ai_server": ai_server.server_port,
    }
    proxies = {name: TcpProxy(target_port=port).start() for name, port in targets.items()}
    via = {name: f"127.0.0.1:{proxy.port}" for name, proxy in proxies.items()}
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "cdss.settings.test",
        **process_env(port=proxies["database"].port),
        "DATABASE_CONN_MAX_AGE": "60",
        "REDIS_URL": f"redis://{via['redis']}/0",  # the test settings use its database 2
        "RABBITMQ_TEST_URL": proxies["rabbitmq"].rewrite(settings.RABBITMQ_URL),
        "ORTHANC_URL": f"http://{via['orthanc']}",
        "S3_ENDPOINT_URL": f"http://{via['object_storage']}",
        "FHIR_BASE_URL": f"http://{via['fhir']}/fhir",
        "FHIR_TOKEN_URL": "",
        "EMR_BASE_URL": f"http://{via['emr']}",
        "EMR_CLIENT_ID": EMR_CLIENT[0],
        "EMR_CLIENT_SECRET": EMR_CLIENT[1],
        "EMR_USERNAME": EMR_USER[0],
        "EMR_PASSWORD": EMR_USER[1],
        "AI_SERVER_TEST_URL": f"http://{via['ai_server']}",
        # short limits, so the whole matrix runs in about a minute
        "READINESS_TIMEOUT_SECONDS": "1",
        "READINESS_CACHE_SECONDS": "0",
        "CIRCUIT_BREAKER_RESET_SECONDS": "1",
        "EMR_TIMEOUT_SECONDS": "2",
        "FHIR_TIMEOUT_SECONDS": "2",
        "AI_SERVER_TIMEOUT_SECONDS": "2",
    }
    port = free_port()
    log_path = tmp_path_factory.mktemp("faults") / "gunicorn.log"
    with open(log_path, "wb") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "cdss.wsgi:application", f"--bind=127.0.0.1:{port}", "--workers=1"],
            cwd=settings.BASE_DIR,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for_http(f"{base}/health")
        running = Stack(base, proxies, server, _children(server.pid))
        yield running
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
        for proxy in proxies.values():
            proxy.stop()
        ai_server.shutdown()
        ai_server.server_close()
        _report()
        if RESULTS and any(result != "pass" for _, _, result, _ in RESULTS):
            print(log_path.read_text()[-4000:])


def _report() -> None:
    lines = ["| dependency | check | result | evidence |", "|---|---|---|---|"]
    lines += [f"| {dep} | {check} | {result} | {evidence} |" for dep, check, result, evidence in RESULTS]
    table = "\n".join(lines)
    print("\n" + table)
    if path := os.environ.get("FAULT_MATRIX_REPORT"):
        with open(path, "w") as handle:
            handle.write(table + "\n")


class Matrix:
    """Records every check of one dependency; fails the test at the end if any failed."""

    def __init__(self, dependency: str):
        self.dependency, self.failed = dependency, []

    def check(self, name: str, ok: bool, evidence: str) -> None:
        RESULTS.append((self.dependency, name, "pass" if ok else "FAIL", evidence.replace("|", "/")))
        if not ok:
            self.failed.append(f"{name}: {evidence}")


def _named(response: requests.Response) -> str:
    try:
        return json.loads(response.content).get("dependency", "")
    except ValueError:
        return ""


def _until(condition, limit: float = RECOVERY_LIMIT_S) -> float | None:
    """Seconds until condition() held, or None if it did not within `limit`."""
    started = time.monotonic()
    while time.monotonic() - started < limit:
        if condition():
            return time.monotonic() - started
        time.sleep(0.25)
    return None


@pytest.fixture
def clinician(make_user):
    user = make_user("DOCTOR", "RIB", password="fault-matrix-password-1")
    _, token = token_issue(actor=user, user=user)
    return user, token


def _scenario(dependency: str, user, token: str) -> dict:
    """For one dependency: a request that needs it (None where no request waits for it) and the name the
    API gives it, a request that does not need it, and the /ready name."""
    free = ("GET", "/api/auth/me")
    if dependency == "database":
        needs, free = ("GET", "/api/auth/me", {}), ("GET", "/health")
    elif dependency == "redis":  # a browser sign-in writes its session to the cache
        needs = ("SIGN-IN", "/api/auth/login", {"username": user.username, "password": "fault-matrix-password-1"})
    elif dependency == "orthanc":
        needs, free = ("GET", "/api/radiology/dicom-web/studies?limit=1", {}), ("GET", "/api/radiology/studies")
    elif dependency == "object_storage":
        job = complete(_job(user))
        put_artifact(f"jobs/{job.pk}/seg.dcm", b"DICM" + bytes(64), "application/dicom")
        needs, free = ("GET", f"/api/ai/jobs/{job.pk}/artifacts/seg", {}), ("GET", f"/api/ai/jobs/{job.pk}")
    elif dependency == "emr":
        needs, free = ("GET", "/api/patients?source=emr&family_name=Kim", {}), ("GET", "/api/patients")
    elif dependency == "ai_server":
        needs, free = ("GET", "/api/ai/models", {}), ("GET", "/api/ai/jobs")
    else:  # rabbitmq, fhir: every use is queued (outbox, Celery); no request waits for them
        needs = None
    api_name = {"object_storage": "object-storage", "ai_server": "ai-server"}.get(dependency, dependency)
    return {"needs": needs, "free": free, "api_name": api_name}


def _sign_in(stack: Stack, path: str, credentials: dict) -> tuple[requests.Response, float]:
    """As the browser does: the CSRF cookie first (no dependency), then the sign-in (timed)."""
    browser = requests.Session()
    csrf = browser.get(f"{stack.base}/api/auth/csrf", timeout=30).json()["csrf_token"]
    started = time.monotonic()
    response = browser.post(f"{stack.base}{path}", json=credentials, headers={"X-CSRFToken": csrf}, timeout=30)
    return response, time.monotonic() - started


def _job(user) -> AIJob:
    from ai import services

    return services.job_submit(actor=user, model="mri-lesion-demo", study=make_study())


def _submit(stack: Stack, token: str, study) -> requests.Response:
    body = {"model": "mri-lesion-demo", "study": study.pk}
    return stack.call("POST", "/api/ai/jobs", token, json=body)[0]


DEPENDENCIES = ["ai_server", "emr", "fhir", "orthanc", "object_storage", "rabbitmq", "redis", "database"]


@pytest.mark.parametrize("dependency", DEPENDENCIES)
def test_fault_matrix(request, tmp_path, stack, clinician, dependency):
    user, token = clinician
    matrix = Matrix(dependency)
    plan = _scenario(dependency, user, token)
    proxy = stack.proxies[dependency]
    studies = [make_study() for _ in range(3)] if dependency in ("rabbitmq", "ai_server") else []
    syncs = FhirSyncs(request, tmp_path, dependency, proxy) if dependency in ("fhir", "rabbitmq", "database") else None
    uploads = Uploads(stack, token) if dependency in ("orthanc", "object_storage") else None
    results = AIResults(request, tmp_path, proxy, user) if dependency == "database" else None

    def needed() -> tuple[requests.Response, float]:
        method, path, kwargs = plan["needs"]
        if method == "SIGN-IN":
            return _sign_in(stack, path, kwargs)
        return stack.call(method, path, token, **kwargs)

    def free_ok() -> bool:
        return stack.call(plan["free"][0], plan["free"][1], token)[0].status_code == 200

    assert _until(lambda: stack.get("/ready")[0].status_code == 200), stack.get("/ready")[0].json()
    if plan["needs"]:
        before, _ = needed()
        assert before.status_code == 200, f"before the outage: {before.status_code} {before.content[:300]}"
    jobs_before = [_submit(stack, token, studies[0])] if studies else []
    if syncs:
        syncs.queue(1)
        assert syncs.wait_synced(), f"before the outage: {syncs.evidence()}"
    if results:
        results.send()
        assert _until(lambda: results.completed() == 1, 30), f"before the outage: {results.evidence()}"
    if uploads:
        first = uploads.send()
        assert first.status_code == 201, f"upload before the outage: {first.status_code} {first.content[:300]}"

    proxy.stop()
    try:
        outage_request = ""
        if plan["needs"]:
            response, elapsed = needed()
            outage_request = response.headers.get("X-Request-ID", "")
            matrix.check(
                "(a) needing it: 503 naming it < 3 s",
                response.status_code == 503 and _named(response) == plan["api_name"] and elapsed < OUTAGE_LIMIT_S,
                f"{plan['needs'][0]} {plan['needs'][1].split('?')[0]} -> {response.status_code} "
                f"dependency={_named(response)!r} in {elapsed:.2f} s",
            )
        else:
            matrix.check("(a) needing it: 503 naming it < 3 s", True, "no request waits for it (queued work)")
        free, elapsed = stack.call(plan["free"][0], plan["free"][1], token)
        matrix.check(
            "(a) not needing it: still works",
            free.status_code == 200,
            f"{plan['free'][0]} {plan['free'][1]} -> {free.status_code} in {elapsed:.2f} s",
        )
        jobs_during = [_submit(stack, token, study) for study in studies[1:]]
        if syncs:
            syncs.queue(2)
            time.sleep(2)  # the worker tries (and retries) while the server is away
            matrix.check("(d) FHIR syncs: nothing synced while it is down", syncs.mapped() == 1, syncs.evidence())
        if results:
            results.send()
            time.sleep(8)  # longer than the queue's delivery limit (5) times the consumer's pause after a failure
        if uploads and dependency == "orthanc":
            response, elapsed = uploads.timed_send()
            matrix.check(
                "(a) upload while it is down: 503 naming it < 3 s, nothing stored",
                response.status_code == 503
                and _named(response) == "orthanc"
                and elapsed < OUTAGE_LIMIT_S
                and uploads.rows(uploads.sent[-1]) == 0,
                f"POST /api/radiology/uploads -> {response.status_code} dependency={_named(response)!r} "
                f"in {elapsed:.2f} s; study rows {uploads.rows(uploads.sent[-1])}",
            )
        elif uploads:  # DICOM goes to Orthanc, not to the object store
            response, elapsed = uploads.timed_send()
            matrix.check(
                "(a) upload while it is down: still works",
                response.status_code == 201,
                f"POST /api/radiology/uploads -> {response.status_code} in {elapsed:.2f} s"
                + ("" if response.status_code == 201 else f" {response.content[:200]!r}"),
            )
        if studies:
            codes = [job.status_code for job in jobs_during]
            matrix.check("(a) AI jobs accepted while it is down", codes == [202, 202], f"POST /api/ai/jobs -> {codes}")
        ready, elapsed = stack.get("/ready")
        down = ready.json().get("down", []) if ready.status_code == 503 else []
        matrix.check(
            "(b) /ready names it",
            ready.status_code == 503 and dependency in down,
            f"/ready -> {ready.status_code} down={down} in {elapsed:.2f} s",
        )
    finally:
        proxy.start()

    back = _until(lambda: stack.get("/ready")[0].status_code == 200)
    recovered = back is not None and (not plan["needs"] or _until(lambda: needed()[0].status_code == 200) is not None)
    matrix.check(
        "(c) recovers without a restart",
        recovered and free_ok() and stack.server.poll() is None and _children(stack.server.pid) == stack.workers,
        f"/ready 200 after {back if back is None else round(back, 1)} s; needing request 200: {recovered}; "
        f"same gunicorn master and worker pids: {_children(stack.server.pid) == stack.workers}",
    )

    if outage_request and dependency != "database":  # without the database no audit event can be written
        _check_audit(matrix, dependency, plan["api_name"], outage_request)
    if studies:
        _check_jobs_kept(matrix, [*jobs_before, *jobs_during])
    if uploads:
        # the radiographer sends the refused study again; an accepted one must not be there twice either
        again = uploads.send(uploads.sent[-1] if dependency == "orthanc" else None)
        counts = [(uploads.instances(uid), uploads.rows(uid)) for uid in dict.fromkeys(uploads.sent)]
        matrix.check(
            "(d) uploads: none lost or duplicated",
            again.status_code == 201 and all(count == (1, 1) for count in counts),
            f"upload after recovery -> {again.status_code}; (Orthanc instances, study rows) per study {counts}",
        )
    if results:
        done = _until(lambda: results.completed() == 2, 30) is not None
        matrix.check(
            "(d) AI results received while it is down: applied after, no delivery spent, same consumer",
            done and results.process.poll() is None and results.dead_lettered() == 0 and results.requeues() == 0,
            results.evidence(),
        )
    if syncs:
        synced = syncs.wait_synced()
        matrix.check(
            "(d) FHIR syncs: none lost or duplicated, same worker",
            synced and syncs.each_once() and syncs.worker.process.poll() is None,
            syncs.evidence(),
        )
    assert not matrix.failed, matrix.failed


def _check_audit(matrix: Matrix, dependency: str, api_name: str, request_id: str) -> None:
    """(d) The refused request's audit trail: each event once; a call to a hospital system that failed is
    one EXTERNAL_CALL failure naming it; a sign-in refused for want of Redis is no LOGIN."""
    events = [(event.action, event.system, event.outcome) for event in AuditEvent.objects.filter(request_id=request_id)]
    ok = len(events) == len(set(events))
    if dependency == "redis":
        ok = ok and (Action.LOGIN, "", "SUCCESS") not in events
    elif dependency != "object_storage":  # the store is read through its SDK: no EXTERNAL_CALL
        ok = ok and [e for e in events if e[0] == Action.EXTERNAL_CALL] == [(Action.EXTERNAL_CALL, api_name, "FAILURE")]
    matrix.check("(d) audit events of the refused request: each once", ok, f"events {events}")


class AIResults:
    """ai.job.result messages handled by a real `manage.py consume_ai_events` whose database is behind the
    proxy, on queues of its own (ai/tests/test_consumer.py: private_queues)."""

    def __init__(self, request, tmp_path, proxy: TcpProxy, user):
        self.queues, _ = request.getfixturevalue("private_queues")
        self.user, self.jobs, self.log = user, [], tmp_path / "consumer.log"
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "cdss.settings.test",
            **process_env(port=proxy.port),
            "PYTHONUNBUFFERED": "1",
        }
        queues = ["--results-queue", self.queues["ai.job.result"], "--progress-queue", self.queues["ai.job.progress"]]
        with open(self.log, "wb") as out:
            self.process = subprocess.Popen(
                [sys.executable, "manage.py", "consume_ai_events", *queues, "--max-backoff", "2"],
                cwd=settings.BASE_DIR,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        request.addfinalizer(self.stop)
        assert _until(lambda: "consuming " in self.log.read_text(errors="replace"), 60), self.log.read_text()[-2000:]

    def send(self) -> None:
        from ai.tests.factories import result_body
        from core.messaging.publisher import publish

        job = _job(self.user)
        self.jobs.append(job)
        publish("ai.job.result", result_body(job), message_id=f"result-{job.pk}")

    def completed(self) -> int:
        return AIJob.objects.filter(pk__in=[job.pk for job in self.jobs], status=AIJob.Status.COMPLETED).count()

    def dead_lettered(self) -> int:
        return self.log.read_text(errors="replace").count("rejected to the dead-letter queue")

    def requeues(self) -> int:
        """Each requeue spends one of the message's deliveries (the quorum queue's delivery limit)."""
        return self.log.read_text(errors="replace").count("failed; requeued")

    def evidence(self) -> str:
        log = self.log.read_text(errors="replace")
        return (
            f"{len(self.jobs)} results sent, {self.completed()} jobs COMPLETED; consumer "
            f"{'alive' if self.process.poll() is None else 'exited'}, {log.count('waits for the database')} waits "
            f"logged, {log.count('failed; requeued')} requeues"
        )

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


class Uploads:
    """One-instance studies uploaded through the API; counted in Orthanc (directly) and in the database."""

    def __init__(self, stack: Stack, token: str):
        self.stack, self.token, self.sent, self.datasets = stack, token, [], {}

    def send(self, study_uid: str | None = None) -> requests.Response:
        return self.timed_send(study_uid)[0]

    def timed_send(self, study_uid: str | None = None) -> tuple[requests.Response, float]:
        from radiology.testing import fresh_instance, to_bytes

        dataset = self.datasets.get(study_uid) or fresh_instance()
        self.datasets[dataset.StudyInstanceUID] = dataset
        self.sent.append(dataset.StudyInstanceUID)
        files = [("files", (f"{dataset.SOPInstanceUID}.dcm", to_bytes(dataset), "application/dicom"))]
        return self.stack.call("POST", "/api/radiology/uploads", self.token, files=files)

    def instances(self, study_uid: str) -> int:
        auth = (settings.ORTHANC_USERNAME, settings.ORTHANC_PASSWORD)
        found = requests.post(f"{settings.ORTHANC_URL}/tools/lookup", data=study_uid, auth=auth, timeout=10).json()
        ids = [match["ID"] for match in found if match["Type"] == "Study"]
        return sum(
            len(requests.get(f"{settings.ORTHANC_URL}/studies/{i}/instances", auth=auth, timeout=10).json())
            for i in ids
        )

    def rows(self, study_uid: str) -> int:
        from radiology.models import Study

        return Study.objects.filter(study_instance_uid=study_uid).count()


class FhirSyncs:
    """Patients synced by a real Celery worker that reaches the cut dependency (the FHIR server, or
    RabbitMQ itself) through its proxy, queued through the outbox before and during the outage; the same
    worker process must finish them after it (fhir_sync/tests/test_faults.py covers longer outages)."""

    def __init__(self, request, tmp_path, dependency: str, proxy: TcpProxy):
        from fhir_sync.tests.conftest import Worker, purge

        request.getfixturevalue("fhir")  # this process reads the HAPI stand-in directly, to count
        purge(FHIR_QUEUE)
        fhir_url = f"http://127.0.0.1:{proxy.port}/fhir" if dependency == "fhir" else settings.FHIR_BASE_URL
        broker = proxy.rewrite(settings.RABBITMQ_URL) if dependency == "rabbitmq" else settings.RABBITMQ_URL
        env = {
            **process_env(port=proxy.port if dependency == "database" else None),
            "RABBITMQ_TEST_URL": broker,
            "FHIR_BASE_URL": fhir_url,
            "FHIR_SYNC_RETRY_BACKOFF_SECONDS": "0.5",
            "FHIR_SYNC_RETRY_BACKOFF_MAX_SECONDS": "2",
            "FHIR_SYNC_MAX_RETRIES": "30",
            "CIRCUIT_BREAKER_RESET_SECONDS": "1",
        }
        self.worker = Worker(tmp_path / "fhir-worker.log", concurrency=1, env=env, pool="solo").wait_ready()
        request.addfinalizer(self.worker.stop)
        self.make = request.getfixturevalue("make_patients")
        self.patients: list = []

    def queue(self, count: int) -> None:
        patients = self.make(count, prefix=f"fm{len(self.patients)}")
        with transaction.atomic():
            for patient in patients:
                outbox.enqueue_task("fhir_sync.sync_entity", "emr.patient", patient.pk)
        self.patients += patients

    def mapped(self) -> int:
        ids = [str(patient.pk) for patient in self.patients]
        return FhirMapping.objects.filter(entity_type="emr.patient", entity_id__in=ids).count()

    def wait_synced(self) -> bool:
        return _until(lambda: self.mapped() == len(self.patients), 30) is not None

    def each_once(self) -> bool:
        from fhir_sync.tests.conftest import resources_for

        return all(resources_for(patient.emr_uuid) == 1 for patient in self.patients)

    def evidence(self) -> str:
        from fhir_sync.tests.conftest import resources_for

        counts = [resources_for(patient.emr_uuid) for patient in self.patients]
        letters = DeadLetter.objects.filter(entity_type="emr.patient").count()
        alive = self.worker.process.poll() is None
        return (
            f"{len(self.patients)} queued, {self.mapped()} mapped, FHIR resources per patient {counts}, "
            f"{letters} dead letters; worker pid {self.worker.process.pid} {'alive' if alive else 'exited'}"
        )


def _check_jobs_kept(matrix: Matrix, responses: list[requests.Response]) -> None:
    """(d) Each accepted job exists once, with one CREATE audit event and one outbox message, and after
    the relay that message is on the ai_jobs queue exactly once."""
    ids = [response.json()["id"] for response in responses if response.status_code == 202]
    rows = AIJob.objects.filter(pk__in=ids).count()
    audits = {i: AuditEvent.objects.filter(action=Action.CREATE, resource_id=i).count() for i in ids}
    outbox.publish_pending()  # what the beat task core.relay_outbox does every few seconds
    messages = [m for m in OutboxMessage.objects.filter(target="ai.job.create") if m.payload.get("job_id") in ids]
    queued = _drain_job_ids("ai_jobs", ids)
    matrix.check(
        "(d) AI jobs: none lost or duplicated",
        len(ids) == 3
        and rows == 3
        and set(audits.values()) == {1}
        and len(messages) == 3
        and all(m.published_at for m in messages)
        and sorted(queued) == sorted(ids),
        f"{len(ids)} accepted, {rows} rows, CREATE audit events per job {sorted(audits.values())}, "
        f"{len(messages)} outbox messages ({sum(bool(m.published_at) for m in messages)} published), "
        f"{len(queued)} on the queue",
    )


def _drain_job_ids(queue: str, ids: list[str]) -> list[str]:
    """The job ids of `ids` on the queue, one entry per message; those messages are taken off the queue,
    every other message (another test's) goes back when the channel closes unacknowledged."""
    connection = pika.BlockingConnection(connection_parameters(settings.RABBITMQ_URL))
    try:
        channel, found = connection.channel(), []
        while True:
            method, _, body = channel.basic_get(queue, auto_ack=False)
            if method is None:
                return found
            if (job_id := json.loads(body).get("job_id", "")) in ids:
                found.append(job_id)
                channel.basic_ack(method.delivery_tag)
    finally:
        connection.close()


@pytest.mark.parametrize(
    ("raised", "dependency"),
    [
        (DatabaseError(2003, "Can't connect to MySQL server"), "database"),
        (RedisConnectionError("Connection refused"), "redis"),
        (BrokerError("[Errno 111] Connection refused"), "rabbitmq"),
        (ValueError("a bug"), None),
    ],
)
def test_the_500_handler_answers_503_naming_a_down_platform_server(rf, raised, dependency):
    """What Django's handler500 answers, called as Django calls it: inside the `except` of the error."""
    from core.api.errors import server_error

    try:
        try:
            raise raised
        except Exception as exc:  # as when a library wraps the error it got
            raise RuntimeError("while handling the request") from exc
    except RuntimeError:
        response = server_error(rf.get("/api/auth/me"))
    body = json.loads(response.content)
    assert (response.status_code, body.get("dependency")) == ((503, dependency) if dependency else (500, None))
