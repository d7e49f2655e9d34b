"""Request-wide middleware: the request context (id, caller, address) and security headers."""

import ipaddress

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from core import context


class RequestContextMiddleware:
    """Take nginx's X-Request-ID (or mint one), expose it on the response, and keep the caller in the context."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        # nginx mints the id (it drops the client's); a peer other than nginx gets a fresh one here.
        sent = request.headers.get(context.REQUEST_ID_HEADER) if from_proxy(request) else None
        request_id = context.accepted_request_id(sent)
        request.request_id = request_id
        user = getattr(request, "user", None)
        token = context.activate(
            context.RequestContext(
                request_id=request_id,
                user=user,  # AnonymousUser until authentication names someone: audited as "anonymous"
                source_ip=client_ip(request),
                user_agent=request.headers.get("User-Agent", "")[:512],
            )
        )
        try:
            response = self.get_response(request)
        finally:
            context.deactivate(token)
        response[context.REQUEST_ID_HEADER] = request_id
        return response


def client_ip(request: HttpRequest) -> str | None:
    """The client address: X-Real-IP when the peer is nginx (TRUSTED_PROXY_ADDRESSES), which overwrites
    whatever the client sent; from any other peer the header is ignored and the peer is the client.
    X-Forwarded-For is never read: its left part is whatever the client wrote."""
    real_ip = request.headers.get("X-Real-IP", "").strip()
    if from_proxy(request) and real_ip and _is_address(real_ip):
        return real_ip
    return request.META.get("REMOTE_ADDR")


def from_proxy(request: HttpRequest) -> bool:
    return request.META.get("REMOTE_ADDR") in settings.TRUSTED_PROXY_ADDRESSES


def _is_address(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


class ContentSecurityPolicyMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response
        self.policy = "; ".join(f"{directive} {value}" for directive, value in settings.CONTENT_SECURITY_POLICY.items())

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        response.setdefault("Content-Security-Policy", self.policy)
        return response
