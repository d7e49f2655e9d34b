"""/api/radiology/: orders, studies, the DICOM upload, rendered images and the DICOMweb gateway.
Views check the role, validate, and call one selector or service."""

import re

from django.conf import settings
from django.http import HttpResponse, StreamingHttpResponse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.exceptions import APIException, NotFound, ParseError, UnsupportedMediaType
from rest_framework.generics import ListAPIView
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from acct.permissions import IsDoctor, IsDoctorOrRIB, IsRIB, IsStaffRole, role_permission
from acct.roles import Role
from core.api.errors import error_body
from radiology import dicomweb, ingest, selectors, services

from .serializers import (
    LinkSerializer,
    OrderCreateSerializer,
    OrderQuerySerializer,
    OrderSerializer,
    OrderTransitionSerializer,
    ReconciliationItemSerializer,
    ReconciliationQuerySerializer,
    ResolutionSerializer,
    StudyDetailSerializer,
    StudyQuerySerializer,
    StudySerializer,
    UploadAnswerSerializer,
    UploadRefusedSerializer,
)

ORTHANC_ID = re.compile(r"^[0-9a-f]{8}(?:-[0-9a-f]{8}){4}$")


class PayloadTooLarge(APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = gettext_lazy("The request is larger than the upload limit.")
    default_code = "payload_too_large"


class AnyAccept(BaseContentNegotiation):
    """For views that answer with images or Orthanc's own bodies: never 406; errors are JSON."""

    def select_parser(self, request, parsers):
        return parsers[0] if parsers else None

    def select_renderer(self, request, renderers, format_suffix=None):
        return JSONRenderer(), JSONRenderer.media_type


# --- orders ----------------------------------------------------------------------------------------
class OrderListCreateView(ListAPIView):
    serializer_class = OrderSerializer

    def get_permissions(self):
        return [IsDoctor()] if self.request.method == "POST" else [IsStaffRole()]

    @extend_schema(parameters=[OrderQuerySerializer], summary="Imaging orders")
    def get(self, request, *args, **kwargs):
        query = OrderQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        self.orders = selectors.order_list(user=request.user, **query.validated_data)
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        return self.orders

    @extend_schema(request=OrderCreateSerializer, responses={201: OrderSerializer}, summary="Order imaging (DOCTOR)")
    def post(self, request):
        data = OrderCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        order = services.order_create(actor=request.user, **data.validated_data)
        return Response(OrderSerializer(order).data, status=status.HTTP_201_CREATED)


class OrderDetailView(APIView):
    permission_classes = [IsStaffRole]

    @extend_schema(responses={200: OrderSerializer})
    def get(self, request, pk: int):
        return Response(OrderSerializer(selectors.order_get(user=request.user, pk=pk)).data)


class OrderTransitionView(APIView):
    """Move an order along its lifecycle: RIB schedules, starts and completes; DOCTOR or RIB cancels."""

    permission_classes = [IsDoctorOrRIB]

    @extend_schema(request=OrderTransitionSerializer, responses={200: OrderSerializer})
    def post(self, request, pk: int):
        data = OrderTransitionSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        order = selectors.order_get(user=request.user, pk=pk)
        order = services.order_transition(actor=request.user, order=order, **data.validated_data)
        return Response(OrderSerializer(order).data)


# --- studies ---------------------------------------------------------------------------------------
class StudyListView(ListAPIView):
    permission_classes = [IsStaffRole]
    serializer_class = StudySerializer

    @extend_schema(parameters=[StudyQuerySerializer], summary="Imaging studies")
    def get(self, request, *args, **kwargs):
        query = StudyQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        self.studies = selectors.study_list(user=request.user, **query.validated_data)
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        return self.studies


class StudyDetailView(APIView):
    permission_classes = [IsStaffRole]

    @extend_schema(responses={200: StudyDetailSerializer}, summary="A study with its series and instance ids")
    def get(self, request, pk: int):
        study = selectors.study_get(user=request.user, pk=pk, with_instances=True)
        return Response(StudyDetailSerializer(study).data)


# --- reconciliation ----------------------------------------------------------------------------------
IsRIBOrAdmin = role_permission(
    "IsRIBOrAdmin",
    Role.RIB,
    Role.ADMIN,
    message=gettext_lazy("Only radiology staff (or administrators, read-only) may do this."),
)


class ReconciliationListView(ListAPIView):
    """Studies that need a decision: no EMR patient (RECONCILE), or images naming another patient for a
    known StudyInstanceUID (CONFLICT), with the EMR patients that could be theirs."""

    permission_classes = [IsRIBOrAdmin]
    serializer_class = ReconciliationItemSerializer

    @extend_schema(parameters=[ReconciliationQuerySerializer], summary="Studies to reconcile (RIB; ADMIN reads)")
    def get(self, request, *args, **kwargs):
        query = ReconciliationQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        self.studies = selectors.reconciliation_list(user=request.user, **query.validated_data)
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        return self.studies

    def paginate_queryset(self, queryset):
        return selectors.reconciliation_details(super().paginate_queryset(queryset))


class ReconciliationDetailView(APIView):
    permission_classes = [IsRIBOrAdmin]

    @extend_schema(responses={200: ReconciliationItemSerializer}, summary="One study to reconcile")
    def get(self, request, pk: int):
        return Response(ReconciliationItemSerializer(selectors.reconciliation_get(user=request.user, pk=pk)).data)


class StudyLinkView(APIView):
    """RECONCILE or CONFLICT -> LINKED to the EMR patient chosen (RIB), with a required comment."""

    permission_classes = [IsRIB]

    @extend_schema(request=LinkSerializer, responses={200: StudyDetailSerializer}, summary="Link a study (RIB)")
    def post(self, request, pk: int):
        data = LinkSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        study = selectors.study_get(user=request.user, pk=pk)
        services.study_link(actor=request.user, study=study, **data.validated_data)
        return Response(StudyDetailSerializer(selectors.study_get(user=request.user, pk=pk, with_instances=True)).data)


class StudyUnlinkView(APIView):
    """LINKED -> RECONCILE (RIB), with a required comment."""

    permission_classes = [IsRIB]

    @extend_schema(request=ResolutionSerializer, responses={200: StudyDetailSerializer}, summary="Unlink (RIB)")
    def post(self, request, pk: int):
        data = ResolutionSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        study = selectors.study_get(user=request.user, pk=pk)
        services.study_unlink(actor=request.user, study=study, **data.validated_data)
        return Response(StudyDetailSerializer(selectors.study_get(user=request.user, pk=pk, with_instances=True)).data)


class StudyRejectView(APIView):
    """A CONFLICT's images are deleted from the PACS and the study from the CDSS (RIB)."""

    permission_classes = [IsRIB]

    @extend_schema(request=ResolutionSerializer, responses={204: None}, summary="Reject a conflict's images (RIB)")
    def post(self, request, pk: int):
        data = ResolutionSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        study = selectors.study_get(user=request.user, pk=pk)
        services.study_reject(actor=request.user, study=study, **data.validated_data)
        return Response(status=status.HTTP_204_NO_CONTENT)


def _png(data: bytes) -> HttpResponse:
    response = HttpResponse(data, content_type="image/png")
    response["Cache-Control"] = "private, max-age=3600"
    return response


class SeriesThumbnailView(APIView):
    permission_classes = [IsStaffRole]
    content_negotiation_class = AnyAccept

    @extend_schema(responses={(200, "image/png"): OpenApiResponse(description="PNG")})
    def get(self, request, pk: int, series_pk: int):
        return _png(services.series_thumbnail(user=request.user, study_pk=pk, series_pk=series_pk))


class RenderedFrameView(APIView):
    permission_classes = [IsStaffRole]
    content_negotiation_class = AnyAccept

    @extend_schema(responses={(200, "image/png"): OpenApiResponse(description="PNG")})
    def get(self, request, pk: int, series_pk: int, instance_id: str, frame: int):
        if not ORTHANC_ID.match(instance_id):
            raise NotFound(_("Not an instance id."))
        data = services.rendered_frame(
            user=request.user, study_pk=pk, series_pk=series_pk, instance_id=instance_id, frame=frame
        )
        return _png(data)


# --- upload ----------------------------------------------------------------------------------------
class UploadView(APIView):
    """POST multipart/form-data with any number of DICOM files and/or zip archives (any field names). The
    body is read only here, after the role check, each part checked and stored as it arrives
    (radiology.ingest); a browser session sends its CSRF token in the X-CSRFToken header."""

    permission_classes = [IsDoctorOrRIB]

    @extend_schema(
        request={"multipart/form-data": {"type": "object", "properties": {"files": {"type": "array",
                 "items": {"type": "string", "format": "binary"}}}}},
        responses={201: UploadAnswerSerializer, 200: UploadAnswerSerializer, 400: UploadRefusedSerializer,
                   413: UploadRefusedSerializer, 415: OpenApiResponse()},
        summary="Upload DICOM files or zip archives (DOCTOR or RIB)",
    )  # fmt: skip
    def post(self, request):
        if not request.content_type.startswith("multipart/form-data"):
            raise UnsupportedMediaType(
                request.content_type or "(none)", _("Send multipart/form-data with DICOM files.")
            )
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError as exc:
            raise ParseError(_("Bad Content-Length.")) from exc
        limit = settings.RADIOLOGY_UPLOAD_MAX_REQUEST_BYTES
        if length > limit:
            raise PayloadTooLarge(
                _("The request has %(size)s bytes; the limit is %(limit)s.") % {"size": length, "limit": limit}
            )
        outcome = ingest.receive(meta=request.META, stream=request.stream, actor=request.user)
        body = UploadAnswerSerializer(outcome).data
        if outcome.too_large:
            return _refused(
                413,
                "payload_too_large",
                _("The request is larger than the limit of %(limit)s bytes.") % {"limit": limit},
                body,
            )
        if outcome.malformed:
            return _refused(
                400, "parse_error", _("Unreadable multipart body: %(error)s") % {"error": outcome.malformed}, body
            )
        if not outcome.parts:
            raise ParseError(_("No files in the request: send DICOM files or zip archives as multipart parts."))
        counts = outcome.counts
        if counts["stored"]:
            return Response(body, status=status.HTTP_201_CREATED)
        if counts["already_stored"]:
            return Response(body, status=status.HTTP_200_OK)
        codes = {result.get("code") for result in outcome.results}
        code = 413 if codes == {"too_large"} else 400
        return _refused(code, "upload_rejected", _("No file was stored; see the reason for each file."), body)


def _refused(code: int, error: str, detail: str, body: dict) -> Response:
    return Response(error_body(code, error, detail, **body), status=code)


# --- DICOMweb gateway --------------------------------------------------------------------------------
class DicomWebView(APIView):
    """/api/radiology/dicom-web/<path>: QIDO-RS and WADO-RS (clinical staff), STOW-RS (RIB) to Orthanc."""

    content_negotiation_class = AnyAccept

    def get_permissions(self):
        return [IsRIB()] if self.request.method == "POST" else [IsStaffRole()]

    @extend_schema(responses={200: OpenApiResponse(description="Orthanc's DICOMweb answer, unchanged")})
    def get(self, request, path: str):
        if not dicomweb.PATH.match(path):
            raise NotFound(_("Not a DICOMweb resource."))
        upstream, body = dicomweb.forward_get(
            user=request.user,
            path=path,
            query=request.META.get("QUERY_STRING", ""),
            accept=request.headers.get("Accept", ""),
            forwarded=dicomweb.forwarded_header(request),
            endpoint=f"GET {request.path}",
        )
        if body is not None:
            return HttpResponse(body, status=upstream.status, content_type=upstream.content_type)
        return StreamingHttpResponse(upstream, status=upstream.status, content_type=upstream.content_type)

    @extend_schema(request=None, responses={200: OpenApiResponse(description="Orthanc's STOW-RS answer")})
    def post(self, request, path: str):
        route = dicomweb.Route(path)
        if not (route.valid and route.is_stow):
            raise NotFound(_("STOW-RS accepts POST to studies or studies/{StudyInstanceUID}."))
        if not request.content_type.startswith("multipart/related"):
            raise UnsupportedMediaType(request.content_type or "(none)", _("STOW-RS takes multipart/related."))
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError as exc:
            raise ParseError(_("Bad Content-Length.")) from exc
        if length <= 0:
            raise ParseError(_("STOW-RS needs a Content-Length."))
        if length > dicomweb.max_stow_bytes():
            raise PayloadTooLarge()
        code, content_type, body, study_uids = dicomweb.forward_stow(
            stream=request.stream,
            length=length,
            path=path,
            content_type=request.META["CONTENT_TYPE"],
            accept=request.headers.get("Accept", ""),
            forwarded=dicomweb.forwarded_header(request),
        )
        studies, refused = services.stow_studies_imported(actor=request.user, study_uids=study_uids)
        if refused:  # removed from the PACS again: the client must not believe them stored
            detail = _("The PACS stored these studies but the CDSS cannot record them; they were removed.")
            stored = [study.study_instance_uid for study in studies]
            return Response(error_body(400, "stow_not_recorded", detail, refused=refused, stored=stored), status=400)
        return HttpResponse(body, status=code, content_type=content_type or "application/dicom+json")


class DicomWebAuthView(APIView):
    """nginx's auth_request for a DICOMweb retrieval it serves straight from Orthanc (nginx/cdss-locations.conf,
    an internal location: not reachable from outside). The path asked is the `uri` parameter. 200 lets the
    request through, with X-Accel-Expires telling nginx how long it may reuse the answer for this
    credential and study; 401/403 refuse it (reused for RADIOLOGY_DICOMWEB_REFUSAL_SECONDS)."""

    permission_classes = [IsStaffRole]
    content_negotiation_class = AnyAccept

    @extend_schema(
        parameters=[OpenApiParameter("uri", str, required=True, description="the retrieval's path, as nginx saw it")],
        responses={200: None},
        summary="Authorise a DICOMweb retrieval (nginx's auth_request)",
    )
    def get(self, request):
        expires_at = getattr(request.auth, "expiry", None)  # a knox token's end; a session's is checked per grant
        seconds = dicomweb.authorise_read(
            user=request.user, uri=request.query_params.get("uri", ""), expires_at=expires_at
        )
        response = HttpResponse(status=200)
        response["X-Accel-Expires"] = str(seconds)
        return response

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        refused = response.status_code in (401, 403)
        response.setdefault("X-Accel-Expires", str(settings.RADIOLOGY_DICOMWEB_REFUSAL_SECONDS) if refused else "0")
        return response
