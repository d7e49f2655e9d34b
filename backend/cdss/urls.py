"""The URL map. /api/* is the REST API, /admin/ Django admin, /health and /ready the probes.

/metrics is served here for Prometheus on the internal network; nginx never routes it.
"""

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from core import metrics_endpoint
from core import views as core_views

api_patterns = [
    path("auth/", include("acct.api.urls")),
    path("audit/", include("audit.api.urls")),
    path("", include("emr.api.urls")),
    path("", include("ai.api.patient_urls")),
    path("", include("board.api.urls")),
    path("radiology/", include("radiology.api.urls")),
    path("radiology/", include("ai.api.radiology_urls")),
    path("ai/", include("ai.api.urls")),
    path("fhir/", include("fhir_sync.api.urls")),
    path("alerts/", include("notifications.api.urls")),
    path("routing/", include("routing.api.urls")),
    path("ops/", include("ops.api.urls")),
    path("schema", SpectacularAPIView.as_view(), name="schema"),
    # The split view serves its script as a file, so the Content-Security-Policy needs no inline script.
    path("docs", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="api-docs"),
]

urlpatterns = [
    path("health", core_views.health, name="health"),
    path("ready", core_views.ready, name="ready"),
    path("metrics", metrics_endpoint.view, name="metrics"),
    path("admin/", admin.site.urls),
    path("api/", include(api_patterns)),
    path("", include("cds_hooks.api.urls")),  # CDS Hooks for EHRs: /cds-services (docs/cds-hooks.md)
]

handler400 = "core.api.errors.bad_request"
handler404 = "core.api.errors.not_found"
handler500 = "core.api.errors.server_error"
