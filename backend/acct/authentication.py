"""DRF authentication: knox tokens (hashed, expiring, revocable) for API clients and services, and
the Django session (with CSRF) for browsers. Both record the caller in the request context."""

from knox.auth import TokenAuthentication as KnoxTokenAuthentication
from rest_framework.authentication import SessionAuthentication as DRFSessionAuthentication

from core import context


class RecordsCaller:
    """Put whoever authenticated into the request context (core.context), for audit and logs."""

    def authenticate(self, request):
        result = super().authenticate(request)
        if result is not None:
            context.with_user(result[0])
        return result


class TokenAuthentication(RecordsCaller, KnoxTokenAuthentication):
    pass


class SessionAuthentication(RecordsCaller, DRFSessionAuthentication):
    pass
