"""/cds-services: CDS Hooks discovery, the services and their feedback (HL7 CDS Hooks 2.0).

Plain Django views, not DRF: the callers are EHRs with signed JWTs (cds_hooks.auth), not CDSS users with
sessions or tokens, and the answers are the specification's, not the API's error bodies. A refused JWT is
401 with no detail (audited with the reason); CORS is answered for the origins in CDS_HOOKS_CORS_ORIGINS.
"""

import json
import logging

from django.conf import settings
from django.http import HttpResponse, JsonResponse
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.csrf import csrf_exempt

from audit.client import AuditClient
from audit.models import Action, Outcome
from cds_hooks import services
from cds_hooks.auth import CdsClient, Refused, authenticate
from cds_hooks.prefetch import PrefetchUnavailable
from core.errors import InvalidInput, NotFound

from .serializers import CallSerializer, FeedbackSerializer

logger = logging.getLogger(__name__)
MAX_BODY = 5 * 1024 * 1024  # draft orders and prefetched Bundles; nginx's client_max_body_size applies first


def _base(request) -> str:
    return settings.CDS_HOOKS_BASE_URL or f"{request.scheme}://{request.get_host()}"


def _web(request) -> str:
    return settings.CDS_HOOKS_WEB_URL or f"{request.scheme}://{request.get_host()}"


def _cors(request, response: HttpResponse) -> HttpResponse:
    origin = request.headers.get("Origin")
    if origin and origin in settings.CDS_HOOKS_CORS_ORIGINS:
        response["Access-Control-Allow-Origin"] = origin
        response["Access-Control-Allow-Credentials"] = "false"
    response["Vary"] = "Origin"
    response["Cache-Control"] = "no-store"
    return response


def _json(request, body, status: int = 200) -> HttpResponse:
    return _cors(request, JsonResponse(body, status=status, json_dumps_params={"ensure_ascii": False}))


def _error(request, status: int, message: str, client: CdsClient, service_id: str, **extra) -> HttpResponse:
    """A refused call of an authenticated EHR (unknown service, bad body): audited too, without a patient."""
    AuditClient.log_event(
        Action.READ,
        actor=client,
        resource_type="cds_hook",
        resource_id=service_id[:64],
        outcome=Outcome.FAILURE,
        status_code=status,
        endpoint=request.path,
        detail={"service": service_id, "issuer": client.issuer.iss, "error": message[:200]},
    )
    return _json(request, {"error": message, **extra}, status=status)


@method_decorator(csrf_exempt, name="dispatch")
class _CdsView(View):
    http_method_names = ["get", "post", "options"]

    def options(self, request, *args, **kwargs):
        """The CORS preflight: allowed origins only, never "*"."""
        response = HttpResponse(status=204)
        if request.headers.get("Origin") in settings.CDS_HOOKS_CORS_ORIGINS:
            response["Access-Control-Allow-Methods"] = "GET, POST, OPTIONS"
            response["Access-Control-Allow-Headers"] = "Authorization, Content-Type"
            response["Access-Control-Max-Age"] = "600"
        return _cors(request, response)

    def client(self, request, *, service_id: str = "") -> CdsClient | None:
        try:
            return authenticate(request, audience=_base(request) + request.path)
        except Refused as exc:
            logger.info("cds hooks: refused a call to %s: %s", request.path, exc)
            AuditClient.log_event(
                Action.LOGIN_FAILED,
                resource_type="cds_hook",
                resource_id=service_id,
                outcome=Outcome.DENIED,
                status_code=401,
                endpoint=request.path,
                detail={"reason": str(exc)[:200]},
            )
            return None

    @staticmethod
    def refused(request) -> HttpResponse:
        response = _cors(request, HttpResponse(status=401))
        response["WWW-Authenticate"] = "Bearer"
        return response

    def answer(self, request, service_id: str, serializer_class, invalid: str, act) -> HttpResponse:
        """Every POST's one shape: authenticate the EHR, find the service, validate the body, then
        `act(client, validated body)` answers; the domain errors become the JSON errors callers read."""
        client = self.client(request, service_id=service_id)
        if client is None:
            return self.refused(request)
        try:
            services.service_get(service_id)
            serializer = serializer_class(data=self.body(request))
            if not serializer.is_valid():
                return _error(request, 400, invalid, client, service_id, fields=serializer.errors)
            return _json(request, act(client, serializer.validated_data))
        except NotFound as exc:
            return _error(request, 404, str(exc), client, service_id)
        except InvalidInput as exc:
            return _error(request, 400, str(exc), client, service_id)

    @staticmethod
    def body(request):
        if len(request.body) > MAX_BODY:
            raise InvalidInput("request too large")
        try:
            return json.loads(request.body or b"null")
        except ValueError as exc:
            raise InvalidInput("the body is not JSON") from exc


class DiscoveryView(_CdsView):
    http_method_names = ["get", "options"]

    def get(self, request):
        if self.client(request) is None:
            return self.refused(request)
        return _json(request, services.discovery())


class ServiceView(_CdsView):
    http_method_names = ["post", "options"]

    def post(self, request, service_id: str):
        def call_hook(client, call):
            return services.hook_call(
                service_id=service_id, call=call, client=client, web_url=_web(request), endpoint=request.path
            )

        try:
            return self.answer(request, service_id, CallSerializer, "invalid request", call_hook)
        except PrefetchUnavailable:  # audited by the service, with what failed
            return _json(request, {"error": "the FHIR data this service needs could not be obtained"}, status=412)


class FeedbackView(_CdsView):
    http_method_names = ["post", "options"]

    def post(self, request, service_id: str):
        def record(client, body):
            services.feedback_record(
                service_id=service_id, items=body["feedback"], client=client, endpoint=request.path
            )
            return {}

        return self.answer(request, service_id, FeedbackSerializer, "invalid feedback", record)
