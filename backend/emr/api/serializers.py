from rest_framework import serializers

from emr.models import Patient, TimelineEvent


class PatientSerializer(serializers.ModelSerializer):
    class Meta:
        model = Patient
        fields = ("emr_uuid", "emr_pid", "mrn", "family_name", "given_name", "birth_date", "sex", "fetched_at")
        read_only_fields = fields


class PatientDetailSerializer(PatientSerializer):
    class Meta(PatientSerializer.Meta):
        fields = (*PatientSerializer.Meta.fields, "record")
        read_only_fields = fields


class TimelineEventSerializer(serializers.ModelSerializer):
    class Meta:
        model = TimelineEvent
        fields = ("occurred_at", "kind", "title", "source_type", "source_id", "detail")
        read_only_fields = fields


class PatientQuerySerializer(serializers.Serializer):
    q = serializers.CharField(required=False, allow_blank=True, max_length=200)
    source = serializers.ChoiceField(
        choices=("cache", "emr"), default="cache", help_text="cache (fast, refreshed periodically) or emr (live search)"
    )
    family_name = serializers.CharField(required=False, allow_blank=True, max_length=128)
    given_name = serializers.CharField(required=False, allow_blank=True, max_length=128)
