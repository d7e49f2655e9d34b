"""Flask app factory: `gunicorn 'ai_server.app:create_app()'`.

For now the service answers its probe and exposes metrics; the job consumer, model registry and
pipeline arrive with the AI issue (see ARCHITECTURE.md, flow 2).
"""

import os

from flask import Flask, Response, jsonify, request
from prometheus_client import REGISTRY, CollectorRegistry, Counter, generate_latest
from prometheus_client import multiprocess as prometheus_multiprocess
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from .config import Settings

HTTP_REQUESTS = Counter("ai_server_http_requests_total", "HTTP requests answered", ["endpoint", "status"])


def _metrics_registry() -> CollectorRegistry:
    """gunicorn runs several processes: aggregate them when PROMETHEUS_MULTIPROC_DIR is set."""
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return REGISTRY
    registry = CollectorRegistry()
    prometheus_multiprocess.MultiProcessCollector(registry)
    return registry


def create_app(settings: Settings | None = None) -> Flask:
    settings = settings or Settings()
    app = Flask(__name__)
    app.config["SERVICE_SETTINGS"] = settings

    @app.after_request
    def count_request(response: Response) -> Response:
        endpoint = request.url_rule.rule if request.url_rule else "unmatched"
        HTTP_REQUESTS.labels(endpoint=endpoint, status=str(response.status_code)).inc()
        return response

    @app.get("/health")
    def health():
        """Liveness: the process answers. Readiness (model loaded, broker connected) comes with the AI issue."""
        return jsonify(status="ok", service=settings.service_name)

    @app.get("/metrics")
    def metrics():
        return Response(generate_latest(_metrics_registry()), mimetype=CONTENT_TYPE_LATEST)

    return app
