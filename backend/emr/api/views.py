"""/api/patients/: search, detail, the live record sections and the timeline, for clinical staff."""

from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.exceptions import NotFound
from rest_framework.generics import ListAPIView, RetrieveAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from acct.permissions import IsStaffRole
from core.http import ExternalNotFound
from emr import selectors, services

from .serializers import PatientDetailSerializer, PatientQuerySerializer, PatientSerializer, TimelineEventSerializer

SECTIONS = ("encounters", "problems", "medications", "prescriptions", "allergies", "vitals")


def _patient(request, puuid: str):
    try:
        services.patient_fresh(puuid=puuid)  # a missing or stale cache row is re-read from the EMR first
    except ExternalNotFound as exc:
        raise NotFound(_("No patient %(id)s in the EMR.") % {"id": puuid}) from exc
    return selectors.patient_get(user=request.user, puuid=puuid)


class PatientListView(ListAPIView):
    permission_classes = [IsStaffRole]
    serializer_class = PatientSerializer

    @extend_schema(parameters=[PatientQuerySerializer], summary="Search patients (cache by default)")
    def get(self, request, *args, **kwargs):
        query = PatientQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        params = query.validated_data
        if params["source"] == "emr":
            patients = services.patient_search_emr(
                user=request.user, family_name=params.get("family_name", ""), given_name=params.get("given_name", "")
            )
            return Response(
                {
                    "count": len(patients),
                    "next": None,
                    "previous": None,
                    "results": PatientSerializer(patients, many=True).data,
                }
            )
        self.patients = selectors.patient_list(user=request.user, query=params.get("q", ""))
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        return self.patients


class PatientDetailView(RetrieveAPIView):
    permission_classes = [IsStaffRole]
    serializer_class = PatientDetailSerializer

    def get_object(self):
        return _patient(self.request, self.kwargs["puuid"])


class PatientSectionView(APIView):
    """A live section of the EMR record; 503/504 with the reason when the EMR is down or slow."""

    permission_classes = [IsStaffRole]
    section = ""

    @extend_schema(responses={200: OpenApiResponse(description="the EMR's rows, as OpenEMR returns them")})
    def get(self, request, puuid: str):
        patient = _patient(request, puuid)
        rows = selectors.patient_record_section(user=request.user, patient=patient, section=self.section)
        if self.section == "encounters":  # the encounters seen are kept on the timeline
            services.timeline_record_encounters(patient=patient, encounters=rows)
        return Response({"patient": puuid, "section": self.section, "results": rows})


class PatientTimelineView(ListAPIView):
    permission_classes = [IsStaffRole]
    serializer_class = TimelineEventSerializer

    def get_queryset(self):
        patient = _patient(self.request, self.kwargs["puuid"])
        return selectors.patient_timeline(user=self.request.user, patient=patient)
