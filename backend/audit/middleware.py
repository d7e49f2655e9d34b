"""No answer leaves before its audit events are committed (see audit.client)."""

from django.http import HttpRequest, HttpResponse

from .client import AuditClient


class AuditCommittedMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        # An event that could not be written raises here: the database error becomes the 503 naming the
        # database (core.api.errors.server_error), and the view's answer is never sent.
        with AuditClient.committed_at_exit():
            return self.get_response(request)
