"""The platform as separate processes: a real Celery worker consuming from RabbitMQ, and a running
gunicorn whose /ready follows RabbitMQ going away and coming back without a restart."""

import os
import subprocess
import sys
import time
from urllib.parse import urlsplit

import pytest
import requests
from django.conf import settings

from core import context
from core.tasks import ping
from core.tests.processes import TcpProxy, free_port, wait_for_http

pytestmark = pytest.mark.slow


def _spawn(args: list[str], log_path, extra_env: dict[str, str] | None = None) -> subprocess.Popen:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "cdss.settings.test", **(extra_env or {})}
    with open(log_path, "wb") as log:
        return subprocess.Popen(args, cwd=settings.BASE_DIR, env=env, stdout=log, stderr=subprocess.STDOUT)


def _stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def test_celery_task_is_executed_by_a_real_worker_through_rabbitmq(tmp_path):
    worker = _spawn(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "cdss",
            "worker",
            "--pool=solo",
            "--queues=default",
            f"--hostname=test-{os.getpid()}@%h",
            "--without-gossip",
            "--without-mingle",
            "--loglevel=INFO",
        ],
        tmp_path / "worker.log",
    )
    token = context.activate(context.RequestContext(request_id="req-into-the-job"))
    try:
        result = ping.delay("hello").get(timeout=90)
    finally:
        context.deactivate(token)
        _stop(worker)
    log = (tmp_path / "worker.log").read_text()
    assert result["payload"] == "hello"
    assert result["request_id"] == "req-into-the-job", "the request id did not follow the job"
    assert result["pid"] == worker.pid != os.getpid(), "the task did not run in the worker process"
    assert "core.ping" in log and "succeeded" in log
    assert urlsplit(settings.CELERY_BROKER_URL).scheme == "amqp"


@pytest.mark.django_db
def test_ready_follows_rabbitmq_down_and_back_without_restarting_django(tmp_path):
    proxy = TcpProxy.in_front_of(settings.RABBITMQ_URL)
    proxied = proxy.rewrite(settings.RABBITMQ_URL)
    port = free_port()
    server = _spawn(
        [sys.executable, "-m", "gunicorn", "cdss.wsgi:application", f"--bind=127.0.0.1:{port}", "--workers=1"],
        tmp_path / "gunicorn.log",
        {"RABBITMQ_TEST_URL": proxied, "READINESS_TIMEOUT_SECONDS": "1.5"},
    )
    url = f"http://127.0.0.1:{port}/ready"
    try:
        wait_for_http(f"http://127.0.0.1:{port}/health")
        assert requests.get(url, timeout=30).status_code == 200

        proxy.stop()
        outage = requests.get(url, timeout=30)
        assert outage.status_code == 503
        assert outage.json()["down"] == ["rabbitmq"]
        assert outage.json()["checks"]["rabbitmq"]["status"] == "down"

        proxy.start()
        deadline = time.monotonic() + 15
        while (back := requests.get(url, timeout=30)).status_code != 200 and time.monotonic() < deadline:
            time.sleep(0.3)
        assert back.status_code == 200, back.json()
        assert server.poll() is None, "gunicorn restarted or died"
    finally:
        proxy.stop()
        _stop(server)
