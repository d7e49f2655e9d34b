"""The tumour-board summary's shape, for the API schema (the selector builds plain JSON values)."""

from rest_framework import serializers

from board.models import BoardReport


class BoardPatientSerializer(serializers.Serializer):
    emr_uuid = serializers.CharField()
    mrn = serializers.CharField()
    family_name = serializers.CharField()
    given_name = serializers.CharField()
    birth_date = serializers.DateField(allow_null=True)
    sex = serializers.CharField()


class BoardStudySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    study_instance_uid = serializers.CharField()
    study_date = serializers.DateField(allow_null=True)
    modality = serializers.CharField()
    description = serializers.CharField()
    number_of_series = serializers.IntegerField()


class BoardSeriesSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    description = serializers.CharField()


class BoardOverlaySerializer(serializers.Serializer):
    result_id = serializers.IntegerField()
    job_id = serializers.UUIDField()
    status = serializers.CharField(help_text="PRELIMINARY or FINAL")
    model = serializers.CharField()
    summary = serializers.CharField()
    url = serializers.CharField(allow_null=True, help_text="the overlay PNG (an artifact of the AI job)")


class BoardImagingSerializer(serializers.Serializer):
    study = BoardStudySerializer()
    series = BoardSeriesSerializer(allow_null=True)
    thumbnail_url = serializers.CharField(allow_null=True, help_text="the first series' thumbnail (PNG)")
    overlay = BoardOverlaySerializer(allow_null=True)


class BoardTrendSerializer(serializers.Serializer):
    date = serializers.DateField()
    study_id = serializers.IntegerField(allow_null=True)
    result_id = serializers.IntegerField()
    volumes_ml = serializers.DictField(child=serializers.FloatField(), help_text="lesion volume per label, mL")


class BoardOmicsSerializer(serializers.Serializer):
    result_id = serializers.IntegerField()
    job_id = serializers.UUIDField()
    status = serializers.CharField()
    model = serializers.CharField()
    risk_group = serializers.CharField(allow_null=True)
    risk_score = serializers.FloatField(allow_null=True)
    percentile = serializers.FloatField(allow_null=True)
    disclaimer = serializers.CharField()
    created_at = serializers.DateTimeField()


class BoardEmrRowSerializer(serializers.Serializer):
    title = serializers.CharField()
    begdate = serializers.CharField(allow_null=True)
    enddate = serializers.CharField(allow_null=True)
    diagnosis = serializers.CharField()


class BoardPendingSerializer(serializers.Serializer):
    result_id = serializers.IntegerField()
    job_id = serializers.UUIDField()
    task = serializers.CharField()
    model = serializers.CharField()
    study_id = serializers.IntegerField(allow_null=True)
    created_at = serializers.DateTimeField()


class BoardSummarySerializer(serializers.Serializer):
    patient = BoardPatientSerializer()
    imaging = BoardImagingSerializer(allow_null=True)
    volume_trend = BoardTrendSerializer(many=True)
    omics = BoardOmicsSerializer(allow_null=True)
    problems = BoardEmrRowSerializer(many=True)
    medications = BoardEmrRowSerializer(many=True)
    emr_error = serializers.CharField(allow_null=True, help_text="why the EMR's lists are missing (EMR down)")
    pending_signoffs = BoardPendingSerializer(many=True)
    generated_at = serializers.DateTimeField()


class BoardReportSerializer(serializers.ModelSerializer):
    patient = serializers.CharField(source="patient.emr_uuid", read_only=True)
    created_by = serializers.CharField(source="created_by.username", read_only=True)
    size = serializers.SerializerMethodField()

    class Meta:
        model = BoardReport
        fields = ("id", "patient", "created_by", "language", "sha256", "size", "pending_signoffs", "created_at")
        read_only_fields = fields

    def get_size(self, report) -> int:
        return len(report.pdf)
