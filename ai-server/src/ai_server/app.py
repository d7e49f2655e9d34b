"""Flask app factory: `gunicorn 'ai_server.app:create_app()'`. Probes, metrics, the model list and a
synchronous /infer for debugging. Jobs themselves arrive over RabbitMQ (consumer.py), never over HTTP
from users: nginx routes nothing to this service."""

from __future__ import annotations

import hmac
import logging
import threading
import uuid

import pika
from flask import Flask, Response, abort, jsonify, request
from prometheus_client import generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from . import measurements, metrics
from .config import Settings
from .jobs import JobRunner, Services
from .messaging import connection_parameters
from .orthanc import DependencyDown, OrthancClient
from .pipelines.base import JobFailed

logger = logging.getLogger(__name__)


class _LazyServices:
    """Models are loaded on first need, and loading is retried while it fails (the object store may
    start after this service)."""

    def __init__(self, settings: Settings, services: Services | None):
        self.settings, self.services, self.error = settings, services, ""
        self.lock = threading.Lock()

    def get(self) -> Services | None:
        with self.lock:
            if self.services is None:
                try:
                    self.services = Services.build(self.settings)
                    self.error = ""
                except Exception as exc:
                    self.error = f"{exc.__class__.__name__}: {exc}"
                    logger.warning("models not loaded yet: %s", self.error)
            return self.services


def create_app(settings: Settings | None = None, services: Services | None = None) -> Flask:
    settings = settings or Settings()
    app = Flask(__name__)
    app.config["SERVICE_SETTINGS"] = settings
    lazy = _LazyServices(settings, services)

    @app.after_request
    def count_request(response: Response) -> Response:
        endpoint = request.url_rule.rule if request.url_rule else "unmatched"
        metrics.HTTP_REQUESTS.labels(endpoint=endpoint, status=str(response.status_code)).inc()
        return response

    @app.get("/health")
    def health():
        """Liveness: the process answers."""
        return jsonify(status="ok", service=settings.service_name)

    @app.get("/ready")
    def ready():
        """Readiness: models loaded and verified, the device chosen, the broker reachable."""
        checks = {}
        loaded = lazy.get()
        if loaded is None:
            checks["models"] = {"ok": False, "error": lazy.error}
        else:
            checks["models"] = {
                "ok": bool(loaded.registry.models),
                "loaded": [f"{name} {version}" for name, version in sorted(loaded.registry.models)],
                "not_loaded": loaded.registry.errors,
            }
            checks["device"] = {"ok": True, **loaded.device.describe()}
        try:
            pika.BlockingConnection(connection_parameters(settings.rabbitmq_url, timeout=3)).close()
            checks["broker"] = {"ok": True}
        except Exception as exc:
            checks["broker"] = {"ok": False, "error": exc.__class__.__name__}
        ok = all(check["ok"] for check in checks.values())
        return jsonify(status="ready" if ok else "not ready", checks=checks), 200 if ok else 503

    @app.get("/models")
    def models():
        loaded = lazy.get()
        if loaded is None:
            return jsonify(error="models are not loaded yet", reason=lazy.error), 503
        return jsonify(models=loaded.registry.describe())

    def require_service_token() -> None:
        scheme, _, supplied = request.headers.get("Authorization", "").partition(" ")
        expected = settings.service_token
        if not expected or scheme != "Bearer" or not hmac.compare_digest(supplied.encode(), expected.encode()):
            abort(401)

    @app.post("/infer")
    def infer():
        """Run a job synchronously (debugging only): the ai.job.create body, with the service token."""
        require_service_token()
        loaded = lazy.get()
        if loaded is None:
            return jsonify(error="models are not loaded yet", reason=lazy.error), 503
        job = request.get_json(silent=True)
        if not isinstance(job, dict):
            return jsonify(error="the body must be a JSON object (an ai.job.create message)"), 400
        job = {**job, "job_id": f"infer-{uuid.uuid4()}"}
        try:
            result = JobRunner(loaded).compute(job, progress=False)  # publishes nothing: no progress, no result event
        except JobFailed as exc:
            return jsonify(status="FAILED", reason=str(exc)), 422
        return jsonify(result)

    @app.post("/measurement-reports")
    def measurement_report():
        """A user's measurements as a DICOM SR stored in Orthanc (measurements.py). Called by the backend
        only, after its role check and audit, with the service token."""
        require_service_token()
        try:
            saved = measurements.report_save(OrthancClient(settings), request.get_json(silent=True))
        except (measurements.MeasurementInvalid, JobFailed) as exc:
            return jsonify(error=str(exc)), 400
        except DependencyDown as exc:
            return jsonify(error="the PACS is unavailable", reason=str(exc)), 503
        return jsonify(saved), 201

    @app.get("/metrics")
    def prometheus_metrics():
        return Response(generate_latest(metrics.registry()), mimetype=CONTENT_TYPE_LATEST)

    return app
