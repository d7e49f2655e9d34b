"""/api/auth/: session sign-in for browsers, tokens for API clients, and who am I."""

from django.contrib.auth import authenticate, login, logout
from django.middleware.csrf import get_token
from django.utils.decorators import method_decorator
from django.views.decorators.csrf import csrf_protect, ensure_csrf_cookie
from drf_spectacular.utils import extend_schema
from knox.models import AuthToken
from rest_framework import status
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from acct.authentication import TokenAuthentication
from acct.permissions import IsAuthenticatedPerson
from acct.services import token_issue, token_revoke

from .serializers import CredentialsSerializer, CsrfSerializer, MeSerializer, TokenSerializer


def _authenticate_person(request, data):
    """A human's username and password (axes counts failures and locks out; the audit app records them)."""
    credentials = CredentialsSerializer(data=data)
    credentials.is_valid(raise_exception=True)
    user = authenticate(request._request, **credentials.validated_data)
    if user is None or user.is_service_account:
        raise AuthenticationFailed("Wrong username or password, or the account is locked or disabled.")
    return user


class CsrfView(APIView):
    permission_classes = [AllowAny]
    authentication_classes = []

    @extend_schema(responses=CsrfSerializer, summary="Set the CSRF cookie and return its token")
    @method_decorator(ensure_csrf_cookie)
    def get(self, request):
        return Response({"csrf_token": get_token(request)})


class LoginView(APIView):
    """Session sign-in for the web UI. CSRF-protected even before sign-in (no login CSRF)."""

    permission_classes = [AllowAny]
    authentication_classes = [TokenAuthentication]  # only so a failed sign-in is a 401 with WWW-Authenticate

    @extend_schema(request=CredentialsSerializer, responses=MeSerializer, summary="Sign in (session cookie)")
    @method_decorator(csrf_protect)
    def post(self, request):
        user = _authenticate_person(request, request.data)
        login(request._request, user)
        return Response(MeSerializer(user).data)


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
    """API tokens: POST issues one for a person's credentials; DELETE revokes the token in use."""

    authentication_classes = [TokenAuthentication]

    def get_permissions(self):
        return [AllowAny()] if self.request.method == "POST" else [IsAuthenticated()]

    @extend_schema(request=CredentialsSerializer, responses={201: TokenSerializer}, summary="Issue an API token")
    def post(self, request):
        user = _authenticate_person(request, request.data)
        instance, token = token_issue(actor=user, user=user)
        return Response({"token": token, "expiry": instance.expiry}, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses={204: None}, summary="Revoke the token used for this request")
    def delete(self, request):
        if not isinstance(request.auth, AuthToken):
            raise AuthenticationFailed("Revoking needs the token itself in the Authorization header.")

        token_revoke(actor=request.user, token=request.auth)
        return Response(status=status.HTTP_204_NO_CONTENT)
