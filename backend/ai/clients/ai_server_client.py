"""AIServerClient: Django's HTTP calls to the ai-server: its model list (GET /models) and the measurement
SR it builds with highdicom and stores in the PACS (POST /measurement-reports, with the service token).

Jobs and results travel over RabbitMQ (docs/ai.md). Calls go through core.http (timeouts, safe retries,
breaker, request id, one EXTERNAL_CALL audit event). When the ai-server is down the API answers 503
naming the system "ai-server"; its 400 (the measurements cannot be taken on those images) arrives as
ExternalRejected with the ai-server's reason.
"""

from typing import Any

from django.conf import settings

from core.http import (
    ExternalRejected,
    ExternalSession,
    ExternalSystemError,
    SystemUnavailable,
    Timeouts,
    raise_for_status,
)

SYSTEM = "ai-server"


class AIServerClient:
    def __init__(self, base_url: str | None = None, *, timeouts: Timeouts | None = None):
        base_url = base_url if base_url is not None else settings.AI_SERVER_URL
        if not base_url:
            raise SystemUnavailable(SYSTEM, "AI_SERVER_URL is not configured")
        timeout = settings.AI_SERVER_TIMEOUT_SECONDS
        self.http = ExternalSession(
            SYSTEM, base_url, timeouts=timeouts or Timeouts(connect=min(timeout, 3.0), read=timeout)
        )

    def models(self) -> list[dict[str, Any]]:
        """The registered models: the ai-server answers a JSON list, or an object with a "models" list."""
        response = raise_for_status(SYSTEM, self.http.request("GET", "/models", resource_type="ai_model"))
        try:
            body = response.json()
        except ValueError as exc:
            raise ExternalSystemError(
                SYSTEM, "GET /models did not answer JSON", status_code=response.status_code
            ) from exc
        models = body.get("models") if isinstance(body, dict) else body
        if not isinstance(models, list) or not all(isinstance(item, dict) for item in models):
            raise ExternalSystemError(SYSTEM, "GET /models did not answer a list of models")
        return models

    def measurement_report_save(self, body: dict[str, Any], *, patient_id: str) -> dict[str, Any]:
        """Build and store a measurement SR; answers its UIDs, Orthanc id and the measured values."""
        if not settings.AI_SERVICE_TOKEN:
            raise SystemUnavailable(SYSTEM, "AI_SERVICE_TOKEN is not configured")
        response = self.http.request(
            "POST", "/measurement-reports", json=body, headers={"Authorization": f"Bearer {settings.AI_SERVICE_TOKEN}"},
            resource_type="measurement_report", patient_id=patient_id,
        )  # fmt: skip
        if response.status_code == 400:
            raise ExternalRejected(SYSTEM, _error_of(response), status_code=400)
        try:
            saved = raise_for_status(SYSTEM, response, _error_of(response)).json()
        except ValueError as exc:
            raise ExternalSystemError(SYSTEM, "POST /measurement-reports did not answer JSON") from exc
        if not isinstance(saved, dict) or not saved.get("orthanc_instance_id"):
            raise ExternalSystemError(SYSTEM, "POST /measurement-reports did not name the stored SR")
        return saved


def _error_of(response) -> str:
    """The ai-server's own words: {"error": ..., "reason": ...}, else the start of the body."""
    try:
        body = response.json()
        return ": ".join(str(body[key]) for key in ("error", "reason") if body.get(key)) or response.text[:300]
    except ValueError:
        return f"HTTP {response.status_code}: {response.text[:300]}"


def get_ai_server_client() -> AIServerClient:
    return AIServerClient()


def get_measurement_sr_client() -> AIServerClient:
    """Building an SR reads the measured images from the PACS first: a longer read timeout than /models."""
    return AIServerClient(timeouts=Timeouts(connect=3.0, read=settings.AI_SERVER_SR_TIMEOUT_SECONDS))
