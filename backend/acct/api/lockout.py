from django.conf import settings
from django.http import JsonResponse
from django.utils.translation import gettext as _

from core.api.errors import error_body


def lockout_response(request, credentials, *args, **kwargs) -> JsonResponse:
    """django-axes calls this once a username/address pair has failed too often."""
    minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
    detail = _("Too many failed sign-ins. Try again in %(minutes)s minutes.") % {"minutes": minutes}
    body = error_body(429, "locked_out", detail)
    response = JsonResponse(body, status=429)
    response["Retry-After"] = str(int(settings.AXES_COOLOFF_TIME.total_seconds()))
    return response
