from django.utils.translation import gettext as _
from rest_framework import serializers

from audit.models import Action, AuditEvent, Outcome


class EventFilterSerializer(serializers.Serializer):
    actor = serializers.CharField(required=False, max_length=150)
    actor_id = serializers.IntegerField(required=False)
    patient = serializers.CharField(required=False, max_length=128)
    action = serializers.ChoiceField(required=False, choices=Action.choices)
    resource_type = serializers.CharField(required=False, max_length=64)
    resource_id = serializers.CharField(required=False, max_length=128)
    outcome = serializers.ChoiceField(required=False, choices=Outcome.choices)
    request_id = serializers.CharField(required=False, max_length=64)
    since = serializers.DateTimeField(required=False)
    until = serializers.DateTimeField(required=False)

    def validate(self, attrs):
        if attrs.get("since") and attrs.get("until") and attrs["since"] >= attrs["until"]:
            raise serializers.ValidationError({"until": _("must be after since")})
        return attrs


class EventSerializer(serializers.ModelSerializer):
    # The chain link, from the event's seal (selectors.with_chain); empty until the sealer reaches it.
    prev_hash = serializers.CharField(read_only=True)
    hash = serializers.CharField(read_only=True)

    class Meta:
        model = AuditEvent
        fields = ("id", *AuditEvent.HASHED_FIELDS, "prev_hash", "hash")  # everything the chain covers
        read_only_fields = fields
