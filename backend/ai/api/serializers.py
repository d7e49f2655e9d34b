from django.urls import reverse
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from ai.models import AIJob, AIResult, ExpressionUpload
from ai.services import Decision
from emr.models import Patient
from radiology.models import Study

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


class ResultSerializer(serializers.ModelSerializer):
    metrics = serializers.JSONField(read_only=True, help_text="the part of raw_metrics sent to FHIR as Observations")
    artifacts = serializers.SerializerMethodField()
    reviewed_by = serializers.CharField(source="reviewed_by.username", read_only=True, default=None)
    orthanc = serializers.SerializerMethodField()
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


class ModelInfoSerializer(serializers.Serializer):
    name = serializers.CharField()
    version = serializers.CharField(required=False)
    task = serializers.CharField(required=False)


class ModelListSerializer(serializers.Serializer):
    models = ModelInfoSerializer(many=True, help_text="as the ai-server lists them (other fields passed through)")
