from rest_framework import serializers

from routing.matching import validate_pattern
from routing.models import RoutingRule, RoutingRuleVersion

NEWEST_WORD = "newest"


class RuleSerializer(serializers.ModelSerializer):
    class Meta:
        model = RoutingRule
        fields = ("id", "name", "enabled", "order", "modality", "sequence_type", "series_description", "body_part",
                  "sending_ae", "model_name", "model_version", "requires_second_reader", "created_at",
                  "updated_at")  # fmt: skip
        read_only_fields = ("id", "created_at", "updated_at")
        extra_kwargs = {"model_version": {"help_text": 'a version, or empty / "newest" for the newest registered'}}

    def validate_model_version(self, value: str) -> str:
        return "" if value.strip().lower() == NEWEST_WORD else value.strip()


class CriteriaSerializer(serializers.Serializer):
    """An unsaved rule's criteria, for the dry run (empty: any)."""

    modality = serializers.CharField(max_length=16, required=False, allow_blank=True, default="")
    sequence_type = serializers.ChoiceField(
        choices=RoutingRule._meta.get_field("sequence_type").choices,
        required=False, allow_blank=True, default="",
    )  # fmt: skip
    series_description = serializers.CharField(
        max_length=200, required=False, allow_blank=True, default="", validators=[validate_pattern]
    )
    body_part = serializers.CharField(max_length=64, required=False, allow_blank=True, default="")
    sending_ae = serializers.CharField(max_length=16, required=False, allow_blank=True, default="")


class DryRunSerializer(serializers.Serializer):
    study = serializers.IntegerField(min_value=1)


class UnsavedDryRunSerializer(DryRunSerializer):
    rule = CriteriaSerializer()


class DryRunResultSerializer(serializers.Serializer):
    matches = serializers.BooleanField()
    reasons = serializers.ListField(child=serializers.CharField())
    series_instance_uids = serializers.ListField(child=serializers.CharField())


class RuleVersionSerializer(serializers.ModelSerializer):
    changed_by = serializers.CharField(source="changed_by.username", default="", read_only=True)

    class Meta:
        model = RoutingRuleVersion
        fields = ("number", "change", "snapshot", "changed_by", "changed_at")
        read_only_fields = fields
