"""/api/ops/overview: the operations page's one read (OPS and ADMIN; no patient data in it)."""

from drf_spectacular.utils import extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from acct.permissions import IsOps

from .. import selectors
from .serializers import OpsOverviewSerializer


class OverviewView(APIView):
    permission_classes = [IsOps]

    @extend_schema(responses=OpsOverviewSerializer, summary="Operations overview (no patient data)")
    def get(self, request):
        return Response(OpsOverviewSerializer(selectors.overview_get(user=request.user)).data)
