"""/api/auth/: session sign-in for browsers (password, then a second factor where one is needed), tokens
for API clients, enrolment of an authenticator, and who am I."""

import time
from base64 import b32encode

import django_otp
from django.contrib.auth import authenticate, get_user, login, logout
from django.middleware.csrf import get_token
from django.utils.decorators import method_decorator
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_protect, ensure_csrf_cookie
from drf_spectacular.utils import extend_schema
from knox.models import AuthToken
from rest_framework import status
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from acct.authentication import SessionAuthentication, TokenAuthentication
from acct.models import User
from acct.permissions import IsAuthenticatedPerson
from acct.selectors import otp_enrolled, otp_needed
from acct.services import otp_code_verify, otp_enrol_confirm, otp_enrol_start, token_issue, token_revoke
from audit.client import AuditClient
from audit.models import Action, Outcome
from core.api.errors import error_body

from .serializers import (
    CodeSerializer,
    CredentialsSerializer,
    CsrfSerializer,
    EnrolledSerializer,
    EnrolmentSerializer,
    MeSerializer,
    SecondStepSerializer,
    TokenRequestSerializer,
    TokenSerializer,
)

PENDING = "acct_second_step"  # session key: {"user": pk, "since": epoch seconds, "tries": n}
PENDING_SECONDS = 300
PENDING_TRIES = 5
PASSWORD_BACKEND = "django.contrib.auth.backends.ModelBackend"  # noqa: S105 - a dotted path, not a password


def _authenticate_person(request, serializer_class=CredentialsSerializer):
    """A human's username and password (axes counts failures and locks out; the audit app records them)."""
    credentials = serializer_class(data=request.data)
    credentials.is_valid(raise_exception=True)
    data = dict(credentials.validated_data)
    code = data.pop("otp", "")
    user = authenticate(request._request, **data)
    if user is None or user.is_service_account:
        raise AuthenticationFailed(_("Wrong username or password, or the account is locked or disabled."))
    return user, code


def _code_refused(user: User | None, reason: str, error: str = "otp_invalid", http_status: int = 401) -> Response:
    """A failed second step: audited under the username (the exception handler's audit has none)."""
    AuditClient.log_event(
        Action.LOGIN_FAILED,
        username=user.get_username() if user else "",
        resource_type="session",
        outcome=Outcome.FAILURE,
        status_code=http_status,
        detail={"reason": reason},
    )
    return Response(error_body(http_status, error, reason), status=http_status)


def _pending_user(request) -> User | None:
    """The person whose password was right a moment ago in this browser, while the second step waits."""
    pending = request.session.get(PENDING)
    if not pending or time.time() - pending["since"] > PENDING_SECONDS:
        request.session.pop(PENDING, None)
        return None
    return User.objects.filter(pk=pending["user"], is_active=True).first()


def _complete_login(request, user: User, device) -> Response:
    request.session.pop(PENDING, None)
    login(request._request, user, backend=PASSWORD_BACKEND)  # the backend that checked the password step
    django_otp.login(request._request, device)
    return Response(MeSerializer(user).data)


class CsrfView(APIView):
    permission_classes = [AllowAny]
    authentication_classes = []

    @extend_schema(responses=CsrfSerializer, summary="Set the CSRF cookie and return its token")
    @method_decorator(ensure_csrf_cookie)
    def get(self, request):
        return Response({"csrf_token": get_token(request)})


class LoginView(APIView):
    """Session sign-in for the web UI. CSRF-protected even before sign-in (no login CSRF).

    Where a second factor is needed (ADMIN, OPS, superusers, anyone enrolled) the right password signs
    nobody in: the answer is 202 with what comes next, and the session only remembers, for five minutes,
    whose password it was."""

    permission_classes = [AllowAny]
    authentication_classes = [TokenAuthentication]  # only so a failed sign-in is a 401 with WWW-Authenticate

    @extend_schema(
        request=CredentialsSerializer,
        responses={200: MeSerializer, 202: SecondStepSerializer},
        summary="Sign in (session cookie); 202 when a second factor must follow",
    )
    @method_decorator(csrf_protect)
    def post(self, request):
        user = _authenticate_person(request)[0]
        if not otp_needed(user):
            request.session.pop(PENDING, None)
            login(request._request, user)
            return Response(MeSerializer(user).data)
        signed_in = get_user(request._request)  # the session's user (request.user here is the token's)
        if signed_in.is_authenticated:  # whoever was signed in here before is not who is signing in now
            request._request.user = signed_in
            logout(request._request)
        request.session.cycle_key()
        request.session[PENDING] = {"user": user.pk, "since": time.time(), "tries": 0}
        enrolled = otp_enrolled(user)
        return Response({"otp_required": enrolled, "enrolment_required": not enrolled}, status=status.HTTP_202_ACCEPTED)


class LoginOtpView(APIView):
    """The second step: a code from the authenticator app, or one recovery code."""

    permission_classes = [AllowAny]
    authentication_classes = []

    @extend_schema(request=CodeSerializer, responses={200: MeSerializer}, summary="Sign in: the second factor")
    @method_decorator(csrf_protect)
    def post(self, request):
        body = CodeSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        user = _pending_user(request)
        if user is None:
            return _code_refused(None, _("No sign-in is waiting for a code: sign in with your password first."))
        if not otp_enrolled(user):
            return _code_refused(user, _("No authenticator is enrolled yet."), "enrolment_required", 409)
        device = otp_code_verify(user=user, code=body.validated_data["code"])
        if device is None:
            pending = request.session[PENDING]
            pending["tries"] += 1
            if pending["tries"] >= PENDING_TRIES:
                del request.session[PENDING]  # start again from the password (which axes counts)
            else:
                request.session[PENDING] = pending
            return _code_refused(user, _("Wrong or expired code."))
        return _complete_login(request, user, device)


def _enrolling_user(request) -> tuple[User | None, bool]:
    """Who enrols: the person signed in (verified where needed), or one whose password was just right
    and who has no authenticator yet. Returns (user, pending)."""
    if request.user.is_authenticated and not request.user.is_service_account:
        return request.user, False
    user = _pending_user(request)
    if user is not None and not otp_enrolled(user):
        return user, True
    return None, False


class OtpEnrolmentView(APIView):
    """Start enrolling an authenticator app: a new secret, shown once."""

    permission_classes = [AllowAny]
    authentication_classes = [SessionAuthentication]

    @extend_schema(request=None, responses={201: EnrolmentSerializer}, summary="Start enrolling an authenticator")
    @method_decorator(csrf_protect)
    def post(self, request):
        user = _enrolling_user(request)[0]
        if user is None:
            raise AuthenticationFailed(_("Sign in first (with your password) to enrol an authenticator."))
        device = otp_enrol_start(user=user)
        secret = b32encode(device.bin_key).decode()
        return Response({"secret": secret, "otpauth_uri": device.config_url}, status=status.HTTP_201_CREATED)


class OtpEnrolmentConfirmView(APIView):
    """Confirm the new authenticator with its first code: recovery codes are shown once, and a sign-in
    that waited for the enrolment is complete."""

    permission_classes = [AllowAny]
    authentication_classes = [SessionAuthentication]

    @extend_schema(request=CodeSerializer, responses={200: EnrolledSerializer}, summary="Confirm the authenticator")
    @method_decorator(csrf_protect)
    def post(self, request):
        body = CodeSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        user, pending = _enrolling_user(request)
        if user is None:
            raise AuthenticationFailed(_("Sign in first (with your password) to enrol an authenticator."))
        result = otp_enrol_confirm(user=user, code=body.validated_data["code"])
        if result is None:
            return _code_refused(user, _("Wrong code, or no enrolment was started."), http_status=400)
        device, codes = result
        if pending:
            _complete_login(request, user, device)
        else:
            django_otp.login(request._request, device)  # this session has now passed the second factor
        return Response({"recovery_codes": codes, "user": MeSerializer(user).data})


class LogoutView(APIView):
    permission_classes = [IsAuthenticatedPerson]

    @extend_schema(request=None, responses={204: None}, summary="Sign out (ends the session)")
    def post(self, request):
        logout(request._request)
        return Response(status=status.HTTP_204_NO_CONTENT)


class MeView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(responses=MeSerializer, summary="The signed-in user and their roles")
    def get(self, request):
        return Response(MeSerializer(request.user).data)


class TokenView(APIView):
    """API tokens: POST issues one for a person's credentials (and a code from their authenticator where
    a second factor is needed: ADMIN, OPS, anyone enrolled); DELETE revokes the token in use."""

    authentication_classes = [TokenAuthentication]

    def get_permissions(self):
        return [AllowAny()] if self.request.method == "POST" else [IsAuthenticated()]

    @extend_schema(request=TokenRequestSerializer, responses={201: TokenSerializer}, summary="Issue an API token")
    def post(self, request):
        user, code = _authenticate_person(request, TokenRequestSerializer)
        if otp_needed(user):
            if not otp_enrolled(user):
                refusal = _("Enrol an authenticator in the web UI before asking for a token.")
                return _code_refused(user, refusal, "enrolment_required", 403)
            if not code:
                return _code_refused(user, _("This account needs a code from its authenticator (otp)."), "otp_required")
            if otp_code_verify(user=user, code=code) is None:
                return _code_refused(user, _("Wrong or expired code."))
        instance, token = token_issue(actor=user, user=user)
        return Response({"token": token, "expiry": instance.expiry}, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses={204: None}, summary="Revoke the token used for this request")
    def delete(self, request):
        if not isinstance(request.auth, AuthToken):
            raise AuthenticationFailed(_("Revoking needs the token itself in the Authorization header."))

        token_revoke(actor=request.user, token=request.auth)
        return Response(status=status.HTTP_204_NO_CONTENT)
