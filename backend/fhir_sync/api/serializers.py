from django.utils.translation import gettext as _
from rest_framework import serializers

from ..models import DeadLetter, FhirMapping
from ..transforms import REGISTRY


class DeadLetterSerializer(serializers.ModelSerializer):
    class Meta:
        model = DeadLetter
        fields = (
            "id", "entity_type", "entity_id", "resource_type", "status", "reason", "error_class", "http_status",
            "attempts", "retryable", "task_id", "created_at", "updated_at", "resolved_at", "resolved_by",
            "discard_reason", "replay_count",
        )  # fmt: skip


class DeadLetterDetailSerializer(DeadLetterSerializer):
    class Meta(DeadLetterSerializer.Meta):
        fields = (*DeadLetterSerializer.Meta.fields, "operation_outcome")


class MappingSerializer(serializers.ModelSerializer):
    class Meta:
        model = FhirMapping
        fields = ("entity_type", "entity_id", "resource_type", "fhir_id", "fhir_version", "content_hash", "synced_at")


class SyncRequestSerializer(serializers.Serializer):
    entity_type = serializers.ChoiceField(choices=sorted(REGISTRY))
    entity_id = serializers.CharField(max_length=64)


class ReplaySerializer(serializers.Serializer):
    ids = serializers.ListField(child=serializers.IntegerField(), required=False, max_length=1000)
    all = serializers.BooleanField(default=False, help_text="every open dead letter (optionally of entity_type)")
    entity_type = serializers.CharField(required=False)

    def validate(self, attrs):
        if not attrs.get("ids") and not attrs.get("all"):
            raise serializers.ValidationError(_("give ids, or all=true"))
        return attrs


class DiscardSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=2000)
