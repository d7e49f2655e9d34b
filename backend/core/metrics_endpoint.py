"""The /metrics of a Django process that serves no HTTP itself (the Celery worker, the AI event listener).

In the local run every Django process writes to one PROMETHEUS_MULTIPROC_DIR and Django's /metrics
aggregates them all. In compose each container has its own directory (process ids repeat across
containers, so a shared one would mix files up), and a process without a web server of its own publishes
its container's aggregate on CDSS_METRICS_PORT for Prometheus, on the private network only.
"""

import os
from wsgiref.simple_server import WSGIServer

from django.core.exceptions import ImproperlyConfigured
from prometheus_client import CollectorRegistry, multiprocess, start_http_server


def serve_from_env() -> WSGIServer | None:
    """Start the endpoint in a daemon thread when CDSS_METRICS_PORT is set; otherwise do nothing."""
    port = os.environ.get("CDSS_METRICS_PORT", "")
    if not port:
        return None
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        # Without it a forked worker's counters stay in the child, and this would serve nothing of them.
        raise ImproperlyConfigured("CDSS_METRICS_PORT needs PROMETHEUS_MULTIPROC_DIR")
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    server, _thread = start_http_server(int(port), registry=registry)
    return server
