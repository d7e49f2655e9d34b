from django.urls import reverse
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from ai.models import AIJob, AIResult, AIResultRevision, ExpressionUpload
from ai.services import AMENDABLE, Decision
from emr.models import Patient
from radiology.models import Order, Study

MODEL_NAME = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$"
MODEL_VERSION = r"^[A-Za-z0-9][A-Za-z0-9.+_-]{0,63}$"


class ArtifactSerializer(serializers.Serializer):
    """An artifact as clients see it: fetched through Django, never a storage URL or key."""

    name = serializers.CharField()
    content_type = serializers.CharField()
    size = serializers.IntegerField(allow_null=True)
    url = serializers.CharField(help_text="GET it with the same credentials")


class OrthancSerializer(serializers.Serializer):
    seg_instance_id = serializers.CharField(allow_null=True, help_text="the DICOM SEG the ai-server stored in Orthanc")
    seg_series_instance_uid = serializers.CharField(allow_null=True)


class ProgressSerializer(serializers.Serializer):
    stage = serializers.ChoiceField(choices=AIJob.Stage.choices, allow_null=True)
    fraction = serializers.FloatField(allow_null=True)


class RevisionSerializer(serializers.ModelSerializer):
    """A version of the result as it was before an amendment replaced it."""

    reviewed_by = serializers.CharField(source="reviewed_by.username", read_only=True, default=None)
    amended_by = serializers.CharField(source="amended_by.username", read_only=True, default=None)

    class Meta:
        model = AIResultRevision
        fields = (*AIResultRevision.SNAPSHOT_FIELDS, "superseded_at")
        read_only_fields = fields


class ResultSerializer(serializers.ModelSerializer):
    metrics = serializers.JSONField(read_only=True, help_text="the part of raw_metrics sent to FHIR as Observations")
    artifacts = serializers.SerializerMethodField()
    reviewed_by = serializers.CharField(source="reviewed_by.username", read_only=True, default=None)
    second_reader_required = serializers.BooleanField(
        read_only=True, help_text="two approvals by two different radiologists before FINAL (a routing rule asked)"
    )
    first_reader = serializers.CharField(
        source="first_reader.username", read_only=True, default=None, help_text="who gave the first of two approvals"
    )
    awaiting_second_read = serializers.BooleanField(read_only=True)
    amended_by = serializers.CharField(source="amended_by.username", read_only=True, default=None)
    report_status = serializers.CharField(read_only=True, help_text="the FHIR DiagnosticReport status")
    orthanc = serializers.SerializerMethodField()
    revisions = RevisionSerializer(many=True, read_only=True, help_text="earlier versions, newest first")
    disclaimer = serializers.SerializerMethodField(help_text="the model card's disclaimer in the user's language")

    class Meta:
        model = AIResult
        fields = (
            "id",
            "status",
            "metrics",
            "raw_metrics",
            "summary",
            "disclaimer",
            "artifacts",
            "orthanc",
            "reviewed_by",
            "review_comment",
            "reviewed_at",
            "second_reader_required",
            "first_reader",
            "first_read_comment",
            "first_read_at",
            "awaiting_second_read",
            "superseded_by",
            "superseded_at",
            "version",
            "report_status",
            "amended_by",
            "amended_at",
            "amendment_reason",
            "revisions",
            "created_at",
        )
        read_only_fields = fields

    @extend_schema_field(ArtifactSerializer(many=True))
    def get_artifacts(self, result) -> list[dict]:
        return [
            {
                "name": item["name"],
                "content_type": item.get("content_type") or "application/octet-stream",
                "size": item.get("size"),
                "url": reverse("ai-job-artifact", kwargs={"pk": result.job_id, "name": item["name"]}),
            }
            for item in result.artifacts or []
        ]

    def get_disclaimer(self, result) -> str:
        return result.disclaimer_in(get_language())

    @extend_schema_field(OrthancSerializer)
    def get_orthanc(self, result) -> dict:
        return {
            "seg_instance_id": result.orthanc_seg_instance_id or None,
            "seg_series_instance_uid": result.orthanc_seg_series_uid or None,
        }


class JobSerializer(serializers.ModelSerializer):
    patient = serializers.CharField(source="patient.emr_uuid", read_only=True)
    requested_by = serializers.CharField(source="requested_by.username", read_only=True)
    progress = serializers.SerializerMethodField()
    result = serializers.SerializerMethodField()

    class Meta:
        model = AIJob
        fields = (
            "id",
            "task",
            "model_name",
            "model_version",
            "patient",
            "study",
            "expression_upload",
            "status",
            "attempts",
            "deadline",
            "requested_by",
            "failure_reason",
            "progress",
            "device",
            "timings",
            "second_reader_required",
            "created_at",
            "started_at",
            "finished_at",
            "result",
        )
        read_only_fields = fields

    @extend_schema_field(ProgressSerializer)
    def get_progress(self, job) -> dict:
        return {"stage": job.progress_stage or None, "fraction": job.progress_fraction}

    @extend_schema_field(ResultSerializer(allow_null=True))
    def get_result(self, job) -> dict | None:
        result = getattr(job, "result", None)
        return ResultSerializer(result).data if result is not None else None


class JobCreateSerializer(serializers.Serializer):
    model = serializers.RegexField(MODEL_NAME, help_text="a model the ai-server registered (GET /api/ai/models)")
    model_version = serializers.RegexField(
        MODEL_VERSION,
        required=False,
        allow_blank=True,
        default="",
        help_text="blank or absent: the newest registered version",
    )
    study = serializers.PrimaryKeyRelatedField(
        queryset=Study.objects.select_related("patient"), required=False, help_text="our study id (segmentation)"
    )
    series_instance_uids = serializers.ListField(
        child=serializers.CharField(max_length=64),
        required=False,
        default=list,
        max_length=32,
        help_text="series of the study to analyse; empty: the model's input spec chooses",
    )
    expression_upload = serializers.PrimaryKeyRelatedField(
        queryset=ExpressionUpload.objects.select_related("patient"),
        required=False,
        pk_field=serializers.UUIDField(),
        help_text="id from POST /api/ai/expression-uploads (omics risk)",
    )

    def validate(self, data):
        if ("study" in data) == ("expression_upload" in data):
            raise serializers.ValidationError(_("Give exactly one input: `study` or `expression_upload`."))
        if data.get("series_instance_uids") and "study" not in data:
            raise serializers.ValidationError({"series_instance_uids": [_("Only with a study.")]})
        return data


class JobQuerySerializer(serializers.Serializer):
    patient = serializers.CharField(required=False, max_length=64, help_text="EMR patient uuid")
    status = serializers.ChoiceField(choices=AIJob.Status.choices, required=False)
    study = serializers.IntegerField(required=False, min_value=1)
    mine = serializers.BooleanField(required=False, default=False, help_text="only jobs I requested")


class ExpressionUploadCreateSerializer(serializers.Serializer):
    patient = serializers.SlugRelatedField(
        slug_field="emr_uuid", queryset=Patient.objects.all(), help_text="EMR patient uuid"
    )
    file = serializers.FileField(help_text=".csv or .tsv, a header row then one row per gene or sample")


class ExpressionUploadSerializer(serializers.ModelSerializer):
    patient = serializers.CharField(source="patient.emr_uuid", read_only=True)
    uploaded_by = serializers.CharField(source="uploaded_by.username", read_only=True)

    class Meta:
        model = ExpressionUpload
        fields = (
            "id",
            "patient",
            "uploaded_by",
            "original_name",
            "content_type",
            "size",
            "sha256",
            "rows",
            "columns",
            "created_at",
        )
        read_only_fields = fields


class ReviewSerializer(serializers.Serializer):
    decision = serializers.ChoiceField(choices=[Decision.APPROVE, Decision.REJECT])
    comment = serializers.CharField(max_length=4000, help_text="required: why the result is approved or rejected")


class AmendSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=4000, help_text="required: why the signed result is changed")
    summary = serializers.CharField(max_length=4000, required=False, help_text="the new summary")
    review_comment = serializers.CharField(max_length=4000, required=False, help_text="the new sign-off comment")

    def validate(self, data):
        if not any(name in data for name in AMENDABLE):
            raise serializers.ValidationError(_("Give what changes: `summary` and/or `review_comment`."))
        return data


class WorklistItemSerializer(serializers.ModelSerializer):
    """A result awaiting sign-off, as the radiologists' worklist shows it."""

    result_id = serializers.IntegerField(source="pk", read_only=True)
    job_id = serializers.UUIDField(source="job.pk", read_only=True)
    task = serializers.CharField(source="job.task", read_only=True)
    model_name = serializers.CharField(source="job.model_name", read_only=True)
    model_version = serializers.CharField(source="job.model_version", read_only=True)
    patient = serializers.CharField(source="job.patient.emr_uuid", read_only=True, help_text="EMR patient uuid")
    patient_name = serializers.SerializerMethodField()
    mrn = serializers.CharField(source="job.patient.mrn", read_only=True)
    study = serializers.IntegerField(source="job.study_id", read_only=True, allow_null=True)
    accession_number = serializers.SerializerMethodField()
    priority = serializers.SerializerMethodField(help_text="the order's priority; ROUTINE without an order")
    requested_by = serializers.CharField(source="job.requested_by.username", read_only=True)
    age_seconds = serializers.SerializerMethodField(help_text="since the result arrived")
    second_reader_required = serializers.BooleanField(read_only=True)
    first_reader = serializers.CharField(
        source="first_reader.username", read_only=True, default=None, help_text="who gave the first of two approvals"
    )
    awaiting_second_read = serializers.BooleanField(read_only=True)

    class Meta:
        model = AIResult
        fields = (
            "result_id",
            "job_id",
            "task",
            "model_name",
            "model_version",
            "patient",
            "patient_name",
            "mrn",
            "study",
            "accession_number",
            "priority",
            "summary",
            "requested_by",
            "created_at",
            "age_seconds",
            "second_reader_required",
            "first_reader",
            "first_read_at",
            "awaiting_second_read",
        )
        read_only_fields = fields

    def _order(self, result):
        study = result.job.study
        return study.order if study is not None else None

    def get_patient_name(self, result) -> str:
        patient = result.job.patient
        return " ".join(part for part in (patient.family_name, patient.given_name) if part)

    def get_accession_number(self, result) -> str | None:
        order = self._order(result)
        return order.accession_number if order is not None else None

    @extend_schema_field(serializers.ChoiceField(choices=Order.Priority.choices))
    def get_priority(self, result) -> str:
        order = self._order(result)
        return order.priority if order is not None else Order.Priority.ROUTINE

    def get_age_seconds(self, result) -> int:
        return max(0, int((timezone.now() - result.created_at).total_seconds()))


class ModelInfoSerializer(serializers.Serializer):
    name = serializers.CharField()
    version = serializers.CharField(required=False)
    task = serializers.CharField(required=False)


class ModelListSerializer(serializers.Serializer):
    models = ModelInfoSerializer(many=True, help_text="as the ai-server lists them (other fields passed through)")


# --- tumour course (documents the shape of ai.selectors.tumour_course; the view returns that dict) -----------
class CourseStudySerializer(serializers.Serializer):
    study_id = serializers.IntegerField()
    study_instance_uid = serializers.CharField()
    study_date = serializers.DateField()
    result_id = serializers.IntegerField(help_text="the study's latest signed (FINAL) segmentation")
    model = serializers.CharField()


class CourseRowSerializer(serializers.Serializer):
    study_id = serializers.IntegerField()
    study_date = serializers.DateField()
    result_id = serializers.IntegerField()
    volume_ml = serializers.FloatField()
    baseline_ml = serializers.FloatField()
    nadir_ml = serializers.FloatField(allow_null=True, help_text="the smallest volume before this study")
    change_from_baseline_percent = serializers.FloatField(allow_null=True)
    change_from_nadir_percent = serializers.FloatField(allow_null=True)
    category = serializers.CharField(help_text="baseline, CR, PR, SD, PD or NE (no measurable baseline)")
    category_display = serializers.CharField()


class CourseThresholdsSerializer(serializers.Serializer):
    partial_response_decrease_percent = serializers.IntegerField()
    progression_increase_percent = serializers.IntegerField()
    complete_response_confirmation_days = serializers.IntegerField()


class TumourCourseSerializer(serializers.Serializer):
    patient = serializers.CharField()
    studies = CourseStudySerializer(many=True)
    labels = serializers.DictField(child=CourseRowSerializer(many=True), help_text="label -> one row per study")
    unit = serializers.CharField()
    thresholds = CourseThresholdsSerializer()
    source = serializers.CharField(help_text="where the thresholds come from")
    label = serializers.CharField(help_text="volumetric, RANO-style aid; not a RANO assessment")
    undated_study_ids = serializers.ListField(child=serializers.IntegerField(), help_text="left out: no study date")


# --- measurements saved as DICOM SR ---------------------------------------------------------------------------
MEASUREMENT_POINTS = {"length": 2, "ellipse": 4}
MEASUREMENT_KINDS = sorted(MEASUREMENT_POINTS)
DICOM_UID = r"^[0-9]+(\.[0-9]+)*$"


class MeasurementInputSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=MEASUREMENT_KINDS)
    sop_instance_uid = serializers.RegexField(DICOM_UID, max_length=64, help_text="the image it was drawn on")
    frame = serializers.IntegerField(
        min_value=1, required=False, allow_null=True, default=None, help_text="of a multi-frame image, from 1"
    )
    points = serializers.ListField(
        child=serializers.ListField(child=serializers.FloatField(), min_length=2, max_length=2),
        help_text="DICOM image coordinates [column, row] (0,0: the top left corner of the first pixel): "
        "a length's two end points; an ellipse's two axes' end points",
    )
    label = serializers.CharField(max_length=64, required=False, allow_blank=True, default="")

    def validate(self, attrs):
        wanted = MEASUREMENT_POINTS[attrs["kind"]]
        if len(attrs["points"]) != wanted:
            raise serializers.ValidationError(
                {"points": _("A %(kind)s needs %(count)s points.") % {"kind": attrs["kind"], "count": wanted}}
            )
        if any(not 0 <= value < 1e6 for point in attrs["points"] for value in point):
            raise serializers.ValidationError({"points": _("Points are image coordinates, not negative.")})
        return attrs


class MeasurementsCreateSerializer(serializers.Serializer):
    measurements = MeasurementInputSerializer(many=True, min_length=1, max_length=100)


class MeasurementSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=MEASUREMENT_KINDS)
    label = serializers.CharField()
    tracking_uid = serializers.CharField()
    sop_instance_uid = serializers.CharField()
    series_instance_uid = serializers.CharField()
    frame = serializers.IntegerField(allow_null=True)
    points = serializers.ListField(child=serializers.ListField(child=serializers.FloatField()))
    length_mm = serializers.FloatField(required=False, help_text="a length, in mm")
    area_mm2 = serializers.FloatField(required=False, help_text="an ellipse's area, in mm2")
    mean = serializers.FloatField(required=False, help_text="the mean pixel value inside an ellipse")
    mean_unit = serializers.CharField(required=False, help_text="UCUM: [hnsf'U] for CT, [arb'U] otherwise")


class MeasurementReportSerializer(serializers.Serializer):
    sop_instance_uid = serializers.CharField()
    series_instance_uid = serializers.CharField()
    orthanc_id = serializers.CharField()
    observer = serializers.CharField(help_text="who measured (the SR's person observer)")
    observer_login = serializers.CharField()
    created_at = serializers.CharField(allow_null=True, help_text="the SR's content date and time (server local)")
    measurements = MeasurementSerializer(many=True)
