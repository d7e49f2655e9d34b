"""AIServerClient: Django's only HTTP call to the ai-server, its model list (GET /models).

Jobs and results travel over RabbitMQ (docs/ai.md); this is read-only and goes through core.http
(timeouts, safe retries, breaker, request id, one EXTERNAL_CALL audit event). When the ai-server is down
the API answers 503 naming the system "ai-server".
"""

from typing import Any

from django.conf import settings

from core.http import ExternalSession, ExternalSystemError, SystemUnavailable, Timeouts, raise_for_status

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


def get_ai_server_client() -> AIServerClient:
    return AIServerClient()
