"""/api/audit/: the trail for administrators: filtered, paginated list and CSV export (itself audited)."""

import csv

from django.http import StreamingHttpResponse
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework.generics import ListAPIView
from rest_framework.pagination import PageNumberPagination
from rest_framework.views import APIView

from audit.client import AuditClient
from audit.models import Action
from audit.selectors import event_list
from core.api.permissions import require_permission

from .serializers import EventFilterSerializer, EventSerializer

CanViewAudit = require_permission("audit.view_auditevent")


class EventPagination(PageNumberPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500


def _filters(request) -> dict:
    serializer = EventFilterSerializer(data=request.query_params)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


class EventListView(ListAPIView):
    permission_classes = [CanViewAudit]
    serializer_class = EventSerializer
    pagination_class = EventPagination

    @extend_schema(parameters=[EventFilterSerializer], summary="Audit events, newest first")
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        filters = _filters(self.request)
        AuditClient.log_event(Action.READ, resource_type="audit_event", detail={"filters": _printable(filters)})
        return event_list(filters=filters)


class EventExportView(APIView):
    permission_classes = [CanViewAudit]

    class _Echo:
        def write(self, value):
            return value

    @extend_schema(
        parameters=[EventFilterSerializer],
        responses={(200, "text/csv"): bytes},
        summary="Audit events as CSV (the export is itself audited)",
    )
    def get(self, request):
        filters = _filters(request)
        AuditClient.log_event(Action.EXPORT, resource_type="audit_event", detail={"filters": _printable(filters)})
        writer = csv.writer(self._Echo())
        columns = EventSerializer.Meta.fields

        def rows():
            yield writer.writerow(columns)
            for event in event_list(filters=filters).iterator(chunk_size=1000):
                yield writer.writerow([_cell(getattr(event, name)) for name in columns])

        response = StreamingHttpResponse(rows(), content_type="text/csv; charset=utf-8")
        stamp = timezone.now().strftime("%Y%m%dT%H%M%SZ")
        response["Content-Disposition"] = f'attachment; filename="audit-{stamp}.csv"'
        return response


def _printable(filters: dict) -> dict:
    return {name: value.isoformat() if hasattr(value, "isoformat") else value for name, value in filters.items()}


def _cell(value) -> str:
    text = "" if value is None else str(value)
    # A spreadsheet would execute a cell that starts like a formula (CSV injection).
    return f"'{text}" if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text
