"""core.metrics_endpoint: what compose's Celery worker and AI event listener publish for Prometheus."""

import subprocess
import sys
import urllib.request

import pytest
from django.core.exceptions import ImproperlyConfigured

from core.metrics_endpoint import serve_from_env

# A forked process of the container: writes its counter into the shared directory and exits.
CHILD = "from prometheus_client import Counter; Counter('cdss_probe_things', 'x', ['kind']).labels('a').inc(3)"


def test_serves_what_the_containers_processes_wrote(tmp_path, monkeypatch):
    for _ in range(2):
        subprocess.run([sys.executable, "-c", CHILD], env={"PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}, check=True)
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    monkeypatch.setenv("CDSS_METRICS_PORT", "0")  # any free port
    server = serve_from_env()
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{server.server_port}/metrics", timeout=5) as response:
            body = response.read().decode()
    finally:
        server.shutdown()
        server.server_close()
    assert 'cdss_probe_things_total{kind="a"} 6.0' in body


def test_nothing_without_a_port(monkeypatch):
    monkeypatch.delenv("CDSS_METRICS_PORT", raising=False)
    assert serve_from_env() is None


def test_a_port_without_the_directory_is_refused(monkeypatch):
    monkeypatch.setenv("CDSS_METRICS_PORT", "0")
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    with pytest.raises(ImproperlyConfigured, match="PROMETHEUS_MULTIPROC_DIR"):
        serve_from_env()


def test_the_webs_metrics_join_every_processs_counters_and_the_scrape_time_gauges(client, db, tmp_path, monkeypatch):
    """With PROMETHEUS_MULTIPROC_DIR (every run but the tests) the gauges read from the database at scrape
    time (fhir_sync.metrics: outbox backlog, open dead letters) are published beside the counters."""
    subprocess.run([sys.executable, "-c", CHILD], env={"PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}, check=True)
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    body = client.get("/metrics").content.decode()
    assert 'cdss_probe_things_total{kind="a"} 3.0' in body
    assert 'cdss_outbox_backlog{kind="task"}' in body and "cdss_fhir_dead_letters_open" in body
