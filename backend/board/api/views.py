"""/api/patients/{id}/board: the tumour-board summary (JSON), its PDF, and sharing it with the FHIR server.
Reading is open to the clinical roles that read the patient record (IsStaffRole, as the patient page);
sharing writes to the hospital's FHIR server, which doctors and radiology staff do (IsDoctorOrRIB)."""

from django.http import HttpResponse
from django.utils import translation
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from acct.permissions import IsDoctorOrRIB, IsStaffRole
from ai.api.views import AnyAccept
from board import selectors, services

from .serializers import BoardReportSerializer, BoardSummarySerializer


def _language(request) -> str:
    """The PDF's language: `?lang=ko|en` (a plain download link cannot send the UI's Accept-Language), else
    the request's (Accept-Language, Korean by default)."""
    asked = request.query_params.get("lang") or translation.get_language() or "ko"
    return "en" if asked.lower().startswith("en") else "ko"


class BoardView(APIView):
    permission_classes = [IsStaffRole]

    @extend_schema(responses={200: BoardSummarySerializer}, summary="The patient's tumour-board summary")
    def get(self, request, puuid: str):
        patient = selectors.board_patient(puuid=puuid)
        return Response(selectors.board_summary(user=request.user, patient=patient))


class BoardPdfView(APIView):
    permission_classes = [IsStaffRole]
    content_negotiation_class = AnyAccept

    @extend_schema(
        parameters=[OpenApiParameter("lang", str, enum=["ko", "en"], description="the PDF's language")],
        responses={
            (200, "application/pdf"): OpenApiResponse(description="the summary as a PDF in the request's language"),
            503: OpenApiResponse(description="the CJK font for the PDF is missing or unusable"),
        },
        summary="The tumour-board summary as a PDF (ko or en, by Accept-Language)",
    )
    def get(self, request, puuid: str):
        patient = selectors.board_patient(puuid=puuid)
        document = services.board_pdf(user=request.user, patient=patient, language=_language(request))
        response = HttpResponse(document.data, content_type="application/pdf")
        response["Content-Disposition"] = f'attachment; filename="{document.filename}"'
        response["Cache-Control"] = "private, no-store"
        response["X-Content-Type-Options"] = "nosniff"
        return response


class BoardShareView(APIView):
    permission_classes = [IsDoctorOrRIB]

    @extend_schema(
        request=None,
        parameters=[OpenApiParameter("lang", str, enum=["ko", "en"], description="the PDF's language")],
        responses={202: BoardReportSerializer, 503: OpenApiResponse(description="the PDF's font is unusable")},
        summary="Share the summary's PDF with the FHIR server (a DiagnosticReport, queued)",
    )
    def post(self, request, puuid: str):
        patient = selectors.board_patient(puuid=puuid)
        report = services.board_share(actor=request.user, patient=patient, language=_language(request))
        return Response(BoardReportSerializer(report).data, status=status.HTTP_202_ACCEPTED)
