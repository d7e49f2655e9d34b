"""What Django's processes publish for Prometheus: the web's /metrics (`view`), and the endpoint of a
process that serves no HTTP itself (the Celery worker, the AI event listener: `serve_from_env`).

Counters and histograms of every process go through PROMETHEUS_MULTIPROC_DIR. Gauges read from the
database at scrape time (`register_scrape_time`: the outbox backlog, open dead letters) are only the web's:
a multiprocess registry would leave them out (django-prometheus's own view did), and two endpoints
publishing them would count them twice.

In the local run every Django process writes to one PROMETHEUS_MULTIPROC_DIR and Django's /metrics
aggregates them all. In compose each container has its own directory (process ids repeat across
containers, so a shared one would mix files up), and a process without a web server of its own publishes
its container's aggregate on CDSS_METRICS_PORT for Prometheus, on the private network only.
"""

import os
from wsgiref.simple_server import WSGIServer

from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest, HttpResponse
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    generate_latest,
    multiprocess,
    start_http_server,
)
from prometheus_client.registry import Collector

_scrape_time: list[Collector] = []


def register_scrape_time(collector: Collector) -> None:
    """A collector that reads its values when scraped, published by the web's /metrics."""
    if collector not in _scrape_time:
        _scrape_time.append(collector)
        REGISTRY.register(collector)  # a process without PROMETHEUS_MULTIPROC_DIR serves REGISTRY


def _multiprocess_registry(*collectors: Collector) -> CollectorRegistry:
    """Every process's files in PROMETHEUS_MULTIPROC_DIR, and `collectors` beside them."""
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    for collector in collectors:
        registry.register(collector)
    return registry


def view(request: HttpRequest) -> HttpResponse:
    """/metrics (nginx answers 404 for it from outside: Prometheus scrapes the private address)."""
    multiprocess_dir = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    registry = _multiprocess_registry(*_scrape_time) if multiprocess_dir else REGISTRY
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)


def serve_from_env() -> WSGIServer | None:
    """Start the endpoint in a daemon thread when CDSS_METRICS_PORT is set; otherwise do nothing."""
    port = os.environ.get("CDSS_METRICS_PORT", "")
    if not port:
        return None
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        # Without it a forked worker's counters stay in the child, and this would serve nothing of them.
        raise ImproperlyConfigured("CDSS_METRICS_PORT needs PROMETHEUS_MULTIPROC_DIR")
    server, _thread = start_http_server(int(port), registry=_multiprocess_registry())
    return server
