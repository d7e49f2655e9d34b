"""/api/fhir/...: ask for a sync (202, even while RabbitMQ is down), dead letters (list, inspect, replay,
discard) and the mapping table. ADMIN only."""

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.generics import ListAPIView, RetrieveAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from acct.permissions import IsAdmin

from .. import selectors, services
from ..models import DeadLetter
from .serializers import (
    DeadLetterDetailSerializer,
    DeadLetterSerializer,
    DiscardSerializer,
    MappingSerializer,
    ReplaySerializer,
    SyncRequestSerializer,
)


class SyncRequestView(APIView):
    permission_classes = [IsAdmin]

    @extend_schema(request=SyncRequestSerializer, responses={202: None}, summary="Queue a sync of one entity")
    def post(self, request):
        body = SyncRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        services.request_sync(actor=request.user, **body.validated_data)
        return Response({"status": "accepted", **body.validated_data}, status=status.HTTP_202_ACCEPTED)


class DeadLetterListView(ListAPIView):
    permission_classes = [IsAdmin]
    serializer_class = DeadLetterSerializer

    def get_queryset(self):
        params = self.request.query_params
        return selectors.dead_letter_list(
            user=self.request.user, status=params.get("status"), entity_type=params.get("entity_type")
        )


class DeadLetterDetailView(RetrieveAPIView):
    permission_classes = [IsAdmin]
    serializer_class = DeadLetterDetailSerializer

    def get_object(self):
        return selectors.dead_letter_get(user=self.request.user, pk=self.kwargs["pk"])


class DeadLetterReplayView(APIView):
    permission_classes = [IsAdmin]

    @extend_schema(request=None, responses={202: None}, summary="Replay one dead letter")
    def post(self, request, pk: int):
        letter = selectors.dead_letter_get(user=request.user, pk=pk)
        services.dead_letter_check_move(letter, DeadLetter.Status.REPLAYED)
        count = services.dead_letter_replay(actor=request.user, letters=[letter])
        return Response({"replayed": count}, status=status.HTTP_202_ACCEPTED)


class DeadLetterReplayManyView(APIView):
    permission_classes = [IsAdmin]

    @extend_schema(request=ReplaySerializer, responses={202: None}, summary="Replay several dead letters")
    def post(self, request):
        body = ReplaySerializer(data=request.data)
        body.is_valid(raise_exception=True)
        letters = selectors.dead_letter_list(
            user=request.user, status=DeadLetter.Status.OPEN, entity_type=body.validated_data.get("entity_type")
        )
        if not body.validated_data.get("all"):
            letters = letters.filter(pk__in=body.validated_data["ids"])
        count = services.dead_letter_replay(actor=request.user, letters=list(letters))
        return Response({"replayed": count}, status=status.HTTP_202_ACCEPTED)


class DeadLetterDiscardView(APIView):
    permission_classes = [IsAdmin]

    @extend_schema(request=DiscardSerializer, responses=DeadLetterDetailSerializer, summary="Discard a dead letter")
    def post(self, request, pk: int):
        body = DiscardSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        letter = services.dead_letter_discard(
            actor=request.user, letter=selectors.dead_letter_get(user=request.user, pk=pk), **body.validated_data
        )
        return Response(DeadLetterDetailSerializer(letter).data)


class MappingListView(ListAPIView):
    permission_classes = [IsAdmin]
    serializer_class = MappingSerializer

    def get_queryset(self):
        return selectors.mapping_list(user=self.request.user, entity_type=self.request.query_params.get("entity_type"))
