from rest_framework import serializers

from emr.models import Patient
from radiology.models import Order, Series, Study


class OrderSerializer(serializers.ModelSerializer):
    patient = serializers.CharField(source="patient.emr_uuid", read_only=True)
    ordered_by = serializers.CharField(source="ordered_by.username", read_only=True)
    allowed_transitions = serializers.SerializerMethodField()

    class Meta:
        model = Order
        fields = ("id", "accession_number", "patient", "ordered_by", "modality", "body_part", "reason", "priority",
                  "status", "allowed_transitions", "scheduled_for", "created_at", "updated_at")  # fmt: skip
        read_only_fields = fields

    def get_allowed_transitions(self, order) -> list[str]:
        return sorted(Order.TRANSITIONS[order.status])


class OrderCreateSerializer(serializers.Serializer):
    patient = serializers.SlugRelatedField(slug_field="emr_uuid", queryset=Patient.objects.all())
    modality = serializers.RegexField(r"^[A-Z]{2,16}$", help_text="DICOM modality code, e.g. MR, CT")
    body_part = serializers.CharField(max_length=64)
    reason = serializers.CharField(max_length=2000)
    priority = serializers.ChoiceField(choices=Order.Priority.choices, default=Order.Priority.ROUTINE)


class OrderTransitionSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=Order.Status.choices)
    scheduled_for = serializers.DateTimeField(required=False)


class OrderQuerySerializer(serializers.Serializer):
    patient = serializers.CharField(required=False, max_length=64)
    status = serializers.ChoiceField(choices=Order.Status.choices, required=False)


class SeriesSerializer(serializers.ModelSerializer):
    instances = serializers.ListField(child=serializers.CharField(), read_only=True, required=False)

    class Meta:
        model = Series
        fields = ("id", "series_instance_uid", "orthanc_id", "modality", "series_number", "description",
                  "sequence_type", "number_of_instances", "instances")  # fmt: skip
        read_only_fields = fields


class StudySerializer(serializers.ModelSerializer):
    patient = serializers.CharField(source="patient.emr_uuid", read_only=True, default=None)
    order = serializers.PrimaryKeyRelatedField(read_only=True)
    conflicting_with = serializers.PrimaryKeyRelatedField(
        read_only=True, help_text="for a CONFLICT: the study that holds the StudyInstanceUID"
    )

    class Meta:
        model = Study
        fields = ("id", "study_instance_uid", "orthanc_id", "patient", "status", "reconciliation_reason",
                  "conflicting_with", "dicom_patient_id", "accession_number", "order", "modality", "study_date",
                  "description", "number_of_series", "number_of_instances", "source", "created_at",
                  "updated_at")  # fmt: skip
        read_only_fields = fields


class StudyDetailSerializer(StudySerializer):
    series = SeriesSerializer(source="series_list", many=True, read_only=True)
    in_pacs = serializers.BooleanField(
        read_only=True, default=True,
        help_text="false when Orthanc no longer holds the study: the fields are the CDSS's record, no instances",
    )  # fmt: skip

    class Meta(StudySerializer.Meta):
        fields = (*StudySerializer.Meta.fields, "dicom_patient_name", "in_pacs", "series")
        read_only_fields = fields


class StudyQuerySerializer(serializers.Serializer):
    patient = serializers.CharField(required=False, max_length=64, help_text="EMR patient uuid")
    modality = serializers.CharField(required=False, max_length=16)
    date_from = serializers.DateField(required=False)
    date_to = serializers.DateField(required=False)
    order = serializers.IntegerField(required=False, min_value=1)
    status = serializers.ChoiceField(choices=Study.Status.choices, required=False)


# --- reconciliation ------------------------------------------------------------------------------------
MATCH_FIELDS = ("patient_id", "name", "birth_date")


class DicomIdentitySerializer(serializers.Serializer):
    patient_id = serializers.CharField(source="dicom_patient_id")
    issuer_of_patient_id = serializers.CharField(source="dicom_issuer_of_patient_id")
    patient_name = serializers.CharField(source="dicom_patient_name")
    birth_date = serializers.DateField(source="dicom_birth_date", allow_null=True)
    sex = serializers.CharField(source="dicom_sex")


class PatientBriefSerializer(serializers.Serializer):
    id = serializers.CharField(source="emr_uuid", help_text="EMR patient uuid")
    mrn = serializers.CharField()
    name = serializers.SerializerMethodField()
    birth_date = serializers.DateField(allow_null=True)

    def get_name(self, patient) -> str:
        return f"{patient.family_name} {patient.given_name}".strip()


class CandidateSerializer(PatientBriefSerializer):
    sex = serializers.CharField()
    matched_on = serializers.ListField(child=serializers.ChoiceField(choices=MATCH_FIELDS))


class ExistingStudySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    patient = PatientBriefSerializer(allow_null=True)


class ReconciliationItemSerializer(serializers.ModelSerializer):
    reason = serializers.CharField(source="reconciliation_reason")
    dicom_identity = DicomIdentitySerializer(source="*")
    existing_study = ExistingStudySerializer(
        source="conflicting_with", allow_null=True, help_text="for a CONFLICT: the study that kept the UID"
    )
    thumbnail_url = serializers.SerializerMethodField()
    candidates = CandidateSerializer(many=True, help_text="EMR patients (cached) matching the DICOM identity")

    class Meta:
        model = Study
        fields = ("id", "study_instance_uid", "status", "reason", "dicom_identity", "existing_study", "modality",
                  "study_date", "description", "number_of_series", "number_of_instances", "source", "created_at",
                  "thumbnail_url", "candidates")  # fmt: skip
        read_only_fields = fields

    def get_thumbnail_url(self, study) -> str | None:
        first = study.first_series
        return f"/api/radiology/studies/{study.pk}/series/{first.pk}/thumbnail" if first else None


class ReconciliationQuerySerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=(Study.Status.RECONCILE, Study.Status.CONFLICT), required=False)


class ResolutionSerializer(serializers.Serializer):
    comment = serializers.CharField(max_length=1000, help_text="why: required, kept in the audit trail")


class LinkSerializer(ResolutionSerializer):
    patient = serializers.SlugRelatedField(
        slug_field="emr_uuid", queryset=Patient.objects.all(), help_text="EMR patient uuid"
    )


# --- upload ----------------------------------------------------------------------------------------------
class UploadResultSerializer(serializers.Serializer):
    file = serializers.CharField(help_text="the part's file name, or archive/member (at most 255 characters)")
    status = serializers.ChoiceField(choices=("stored", "already_stored", "rejected"))
    code = serializers.CharField(
        required=False,
        help_text="when rejected: invalid_dicom, too_large, zip_bomb, unsafe_name, nested_archive, bad_zip, "
        "too_many_files, pacs_refused, pacs_error, identity_conflict, not_recorded",
    )
    reason = serializers.CharField(required=False)
    study_instance_uid = serializers.CharField(required=False)
    sop_instance_uid = serializers.CharField(required=False)


class UploadCountsSerializer(serializers.Serializer):
    stored = serializers.IntegerField()
    already_stored = serializers.IntegerField()
    rejected = serializers.IntegerField()


class UploadStudySerializer(serializers.ModelSerializer):
    class Meta:
        model = Study
        fields = ("id", "study_instance_uid", "status")
        read_only_fields = fields


class UploadAnswerSerializer(serializers.Serializer):
    counts = UploadCountsSerializer()
    results = UploadResultSerializer(many=True)
    studies = UploadStudySerializer(many=True, help_text="each study the upload created or refreshed")


class UploadRefusedSerializer(UploadAnswerSerializer):
    status = serializers.IntegerField()
    error = serializers.CharField()
    detail = serializers.CharField()
