"""Liveness and readiness probes for load balancers, orchestrators and Prometheus' blackbox checks."""

from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from core.health import DOWN, cached_checks


@never_cache
@require_GET
def health(request: HttpRequest) -> JsonResponse:
    """Liveness: the process answers. Touches no dependency, so a database outage never restarts us."""
    return JsonResponse({"status": "ok"})


@never_cache
@require_GET
def ready(request: HttpRequest) -> JsonResponse:
    """Readiness: every configured dependency answers; 503 naming the ones that do not. The result may be
    up to READINESS_CACHE_SECONDS old; the Age header says how old (seconds)."""
    results, age = cached_checks()
    down = [result.name for result in results if result.status == DOWN]
    body = {
        "status": "not_ready" if down else "ready",
        "down": down,
        "checks": {result.name: result.as_dict() for result in results},
    }
    response = JsonResponse(body, status=503 if down else 200)
    response["Age"] = str(int(age))
    return response
