"""/api/alerts/webhook: Alertmanager's deliveries become notifications for the people on watch.

Alertmanager authenticates with the bearer token both sides read from ALERTMANAGER_WEBHOOK_TOKEN
(monitoring/alertmanager.yml); no user account is involved. `route=oncall` carries the critical
("code blue") alerts, `route=ops` the rest; both reach OPS and ADMIN users over the websocket.
"""

import hmac

from django.conf import settings
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import BasePermission
from rest_framework.response import Response
from rest_framework.views import APIView

from notifications.services import alert_received


class FromAlertmanager(BasePermission):
    message = _("Alertmanager's bearer token is required.")

    def has_permission(self, request, view) -> bool:
        expected = settings.ALERTMANAGER_WEBHOOK_TOKEN
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        return bool(expected) and scheme == "Bearer" and hmac.compare_digest(token.encode(), expected.encode())


class AlertSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=("firing", "resolved"))
    labels = serializers.DictField(child=serializers.CharField())
    annotations = serializers.DictField(child=serializers.CharField(), required=False, default=dict)
    startsAt = serializers.CharField(required=False)  # Alertmanager's own field name


class WebhookSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=("firing", "resolved"))
    alerts = AlertSerializer(many=True)


class AlertWebhookView(APIView):
    authentication_classes: list = []
    permission_classes = [FromAlertmanager]

    @extend_schema(
        request=WebhookSerializer,
        responses={202: None},
        parameters=[OpenApiParameter("route", str, enum=["oncall", "ops"])],
        summary="Alertmanager webhook (bearer token, not a user)",
    )
    def post(self, request):
        payload = WebhookSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        route = "oncall" if request.query_params.get("route") == "oncall" else "ops"
        alert_received(route=route, alerts=payload.validated_data["alerts"])
        return Response(status=status.HTTP_202_ACCEPTED)
