"""/api/routing/: the rules (ADMIN only), their versions, and the dry run of a rule against a study."""

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from acct.permissions import IsAdmin
from routing import selectors, services

from .serializers import (
    DryRunResultSerializer,
    DryRunSerializer,
    RuleSerializer,
    RuleVersionSerializer,
    UnsavedDryRunSerializer,
)


class RuleListCreateView(APIView):
    permission_classes = [IsAdmin]

    @extend_schema(responses={200: RuleSerializer(many=True)}, summary="Routing rules, in the order applied")
    def get(self, request):
        return Response(RuleSerializer(selectors.rule_list(user=request.user), many=True).data)

    @extend_schema(request=RuleSerializer, responses={201: RuleSerializer}, summary="Create a routing rule")
    def post(self, request):
        data = RuleSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        rule = services.rule_create(actor=request.user, **data.validated_data)
        return Response(RuleSerializer(rule).data, status=status.HTTP_201_CREATED)


class RuleDetailView(APIView):
    permission_classes = [IsAdmin]

    @extend_schema(responses={200: RuleSerializer}, summary="A routing rule")
    def get(self, request, pk):
        return Response(RuleSerializer(selectors.rule_get(user=request.user, pk=pk)).data)

    def _update(self, request, pk, *, partial: bool):
        rule = selectors.rule_for_change(pk=pk)
        data = RuleSerializer(rule, data=request.data, partial=partial)
        data.is_valid(raise_exception=True)
        rule = services.rule_update(actor=request.user, rule=rule, **data.validated_data)
        return Response(RuleSerializer(rule).data)

    @extend_schema(request=RuleSerializer, responses={200: RuleSerializer}, summary="Replace a routing rule")
    def put(self, request, pk):
        return self._update(request, pk, partial=False)

    @extend_schema(request=RuleSerializer, responses={200: RuleSerializer}, summary="Change fields of a routing rule")
    def patch(self, request, pk):
        return self._update(request, pk, partial=True)

    @extend_schema(responses={204: None}, summary="Delete a routing rule (its versions stay)")
    def delete(self, request, pk):
        services.rule_delete(actor=request.user, rule=selectors.rule_for_change(pk=pk))
        return Response(status=status.HTTP_204_NO_CONTENT)


class RuleVersionsView(APIView):
    permission_classes = [IsAdmin]

    @extend_schema(responses={200: RuleVersionSerializer(many=True)}, summary="Every version of a rule, newest first")
    def get(self, request, pk):
        return Response(RuleVersionSerializer(selectors.rule_versions(user=request.user, pk=pk), many=True).data)


class RuleDryRunView(APIView):
    permission_classes = [IsAdmin]

    @extend_schema(
        request=DryRunSerializer,
        responses={200: DryRunResultSerializer},
        summary="Would this rule start an analysis of the study, and why (changes nothing)",
    )
    def post(self, request, pk):
        data = DryRunSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        rule = selectors.rule_for_change(pk=pk)
        evaluation = selectors.dry_run(user=request.user, rule=rule.snapshot(), study_pk=data.validated_data["study"])
        return Response(DryRunResultSerializer(evaluation).data)


class UnsavedRuleDryRunView(APIView):
    permission_classes = [IsAdmin]

    @extend_schema(
        request=UnsavedDryRunSerializer,
        responses={200: DryRunResultSerializer},
        summary="The dry run of an unsaved rule's criteria against a study",
    )
    def post(self, request):
        data = UnsavedDryRunSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        evaluation = selectors.dry_run(
            user=request.user, rule=data.validated_data["rule"], study_pk=data.validated_data["study"]
        )
        return Response(DryRunResultSerializer(evaluation).data)
