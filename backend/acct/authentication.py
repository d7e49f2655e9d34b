"""DRF authentication: knox tokens (hashed, expiring, revocable) for API clients and services, and
the Django session (with CSRF) for browsers. Both record the caller in the request context."""

from knox.auth import TokenAuthentication as KnoxTokenAuthentication
from rest_framework.authentication import SessionAuthentication as DRFSessionAuthentication

from acct.selectors import otp_needed, session_verified
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


class VerifiedSessionAuthentication(DRFSessionAuthentication):
    """A session counts only once it passed the second factor where one is needed: a session from before
    enrolment, or one signed in some other way, is not signed in."""

    def authenticate(self, request):
        result = super().authenticate(request)
        if result is not None and not session_verified(request._request, result[0]) and otp_needed(result[0]):
            return None
        return result


class SessionAuthentication(RecordsCaller, VerifiedSessionAuthentication):
    pass
