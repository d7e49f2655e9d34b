"""/api/ai/: jobs (submit, list, detail, cancel), result review, artifacts streamed from object storage,
expression-profile uploads, and the ai-server's model list. Views check the role, validate, and call one
selector or service."""

from django.http import StreamingHttpResponse
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import serializers, status
from rest_framework.exceptions import UnsupportedMediaType
from rest_framework.generics import ListAPIView
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.parsers import MultiPartParser
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from acct.permissions import IsDoctorOrRIB, IsRadiologist, IsStaffRole
from ai import selectors, services

from .serializers import (
    AmendSerializer,
    ExpressionUploadCreateSerializer,
    ExpressionUploadSerializer,
    JobCreateSerializer,
    JobQuerySerializer,
    JobSerializer,
    MeasurementReportSerializer,
    MeasurementsCreateSerializer,
    ModelListSerializer,
    ResultSerializer,
    ReviewSerializer,
    TumourCourseSerializer,
    WorklistItemSerializer,
)


class AnyAccept(BaseContentNegotiation):
    """For the artifact download: any Accept header is fine; errors are JSON."""

    def select_parser(self, request, parsers):
        return parsers[0] if parsers else None

    def select_renderer(self, request, renderers, format_suffix=None):
        return JSONRenderer(), JSONRenderer.media_type


class JobListCreateView(ListAPIView):
    serializer_class = JobSerializer

    def get_permissions(self):
        return [IsDoctorOrRIB()] if self.request.method == "POST" else [IsStaffRole()]

    @extend_schema(parameters=[JobQuerySerializer], summary="AI jobs (clinical staff)")
    def get(self, request, *args, **kwargs):
        query = JobQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        self.jobs = selectors.job_list(user=request.user, **query.validated_data)
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        return self.jobs

    @extend_schema(
        request=JobCreateSerializer,
        responses={
            202: JobSerializer,
            400: OpenApiResponse(description="bad input, or a study not matched to a patient"),
        },
        summary="Request an AI analysis (DOCTOR or RIB): 202, the job is QUEUED",
    )
    def post(self, request):
        data = JobCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        job = services.job_submit(actor=request.user, **data.validated_data)
        job = selectors.job_for_change(pk=job.pk)
        return Response(JobSerializer(job).data, status=status.HTTP_202_ACCEPTED)


class JobDetailView(APIView):
    permission_classes = [IsStaffRole]

    @extend_schema(responses={200: JobSerializer}, summary="An AI job with its result")
    def get(self, request, pk):
        return Response(JobSerializer(selectors.job_get(user=request.user, pk=pk)).data)


class JobCancelView(APIView):
    """QUEUED or RUNNING -> CANCELLED, by the requester or radiology staff."""

    permission_classes = [IsDoctorOrRIB]

    @extend_schema(request=None, responses={200: JobSerializer, 409: OpenApiResponse(description="already finished")})
    def post(self, request, pk):
        job = services.job_cancel(actor=request.user, job=selectors.job_for_change(pk=pk))
        return Response(JobSerializer(selectors.job_for_change(pk=job.pk)).data)


class _ArtifactStream:
    """The object's bytes for StreamingHttpResponse; Django calls close() when the response is done,
    which returns the connection to the pool."""

    def __init__(self, artifact: selectors.OpenArtifact):
        self.artifact = artifact

    def __iter__(self):
        yield from self.artifact.chunks()

    def close(self) -> None:
        self.artifact.close()


class ArtifactView(APIView):
    permission_classes = [IsStaffRole]
    content_negotiation_class = AnyAccept

    @extend_schema(
        responses={(200, "application/octet-stream"): OpenApiResponse(description="the artifact")},
        summary="Download one artifact of a job's result (streamed through Django, audited)",
    )
    def get(self, request, pk, name: str):
        artifact = selectors.artifact_open(user=request.user, job_pk=pk, name=name)
        response = StreamingHttpResponse(_ArtifactStream(artifact), content_type=artifact.content_type)
        if artifact.size is not None:
            response["Content-Length"] = str(artifact.size)
        response["Content-Disposition"] = f'attachment; filename="{artifact.filename}"'
        response["Cache-Control"] = "private, no-store"
        response["X-Content-Type-Options"] = "nosniff"
        return response


class _SignOffAction(APIView):
    """A radiologist's act on one result: validate the body, find the result, call the service, answer the
    result as it is now."""

    permission_classes = [IsRadiologist]
    body: type[serializers.Serializer]
    service: staticmethod

    def post(self, request, pk: int):
        data = self.body(data=request.data)
        data.is_valid(raise_exception=True)
        result = selectors.result_for_change(pk=pk)
        result = self.service(actor=request.user, result=result, **data.validated_data)
        return Response(ResultSerializer(result).data)


@extend_schema_view(
    post=extend_schema(
        request=ReviewSerializer,
        responses={200: ResultSerializer, 409: OpenApiResponse(description="reviewed already")},
        summary="Sign off a result (RADIOLOGIST): approve or reject",
    )
)
class ResultReviewView(_SignOffAction):
    """Sign-off: a radiologist approves (FINAL) or rejects (CANCELLED) a PRELIMINARY result, with a comment."""

    body, service = ReviewSerializer, staticmethod(services.result_review)


@extend_schema_view(
    post=extend_schema(
        request=AmendSerializer,
        responses={200: ResultSerializer, 409: OpenApiResponse(description="not a final result")},
        summary="Amend a signed result (RADIOLOGIST)",
    )
)
class ResultAmendView(_SignOffAction):
    """Amend a FINAL result with a reason: it stays FINAL with version + 1, the previous version is kept,
    and the FHIR DiagnosticReport becomes `amended`."""

    body, service = AmendSerializer, staticmethod(services.result_amend)


class SignOffWorklistView(ListAPIView):
    """Results awaiting sign-off, most urgent order first, then oldest first."""

    permission_classes = [IsRadiologist]
    serializer_class = WorklistItemSerializer

    @extend_schema(summary="The sign-off worklist (RADIOLOGIST)")
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        return selectors.sign_off_worklist(user=self.request.user)


class ExpressionUploadView(APIView):
    """POST multipart/form-data: `patient` (EMR uuid) and `file` (.csv or .tsv)."""

    permission_classes = [IsDoctorOrRIB]
    parser_classes = [MultiPartParser]

    @extend_schema(
        request={"multipart/form-data": ExpressionUploadCreateSerializer},
        responses={
            201: ExpressionUploadSerializer,
            400: OpenApiResponse(),
            413: OpenApiResponse(),
            415: OpenApiResponse(),
        },
        summary="Upload an expression profile for an omics analysis (DOCTOR or RIB)",
    )
    def post(self, request):
        if not (request.content_type or "").startswith("multipart/form-data"):
            raise UnsupportedMediaType(request.content_type or "(none)", "Send multipart/form-data with `file`.")
        data = ExpressionUploadCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        upload = services.expression_upload_create(actor=request.user, **data.validated_data)
        return Response(ExpressionUploadSerializer(upload).data, status=status.HTTP_201_CREATED)


class ModelListView(APIView):
    permission_classes = [IsDoctorOrRIB]

    @extend_schema(
        responses={200: ModelListSerializer, 503: OpenApiResponse(description="the ai-server is down")},
        summary="The models the ai-server has registered",
    )
    def get(self, request):
        return Response({"models": selectors.model_list(user=request.user)})


class TumourCourseView(APIView):
    """A patient's tumour course: lesion volume per label over the studies (signed segmentations only), the
    change from baseline and nadir, and a volumetric response category (an aid, not a RANO assessment)."""

    permission_classes = [IsStaffRole]  # whoever may read the patient's AI results

    @extend_schema(
        responses={200: TumourCourseSerializer, 404: OpenApiResponse(description="no such patient")},
        summary="The patient's tumour volume over time, with change and volumetric response category",
    )
    def get(self, request, puuid: str):
        return Response(selectors.tumour_course(puuid, user=request.user))


class StudyMeasurementsView(APIView):
    """/api/radiology/studies/<pk>/measurements: lengths and ellipses drawn on the study's images, saved as a
    DICOM SR in the PACS. Whoever reads the study lists them; doctors and radiology staff, who read images
    clinically, save them (docs/radiology.md "Measurements")."""

    def get_permissions(self):
        return [IsDoctorOrRIB()] if self.request.method == "POST" else [IsStaffRole()]

    @extend_schema(responses={200: MeasurementReportSerializer(many=True)}, summary="A study's saved measurements")
    def get(self, request, pk: int):
        reports = selectors.measurement_report_list(user=request.user, study_pk=pk)
        return Response(MeasurementReportSerializer(reports, many=True).data)

    @extend_schema(
        request=MeasurementsCreateSerializer,
        responses={201: MeasurementReportSerializer},
        summary="Save measurements as a DICOM SR (DOCTOR or RIB)",
    )
    def post(self, request, pk: int):
        data = MeasurementsCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        report = services.measurement_report_save(actor=request.user, study_pk=pk, **data.validated_data)
        return Response(MeasurementReportSerializer(report).data, status=status.HTTP_201_CREATED)
