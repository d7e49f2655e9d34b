"""The shapes of CDS Hooks requests (HL7 CDS Hooks 2.0): a hook call and a feedback report."""

from rest_framework import serializers


class FhirAuthorizationSerializer(serializers.Serializer):
    access_token = serializers.CharField()
    token_type = serializers.ChoiceField(choices=["Bearer"])
    expires_in = serializers.IntegerField(min_value=0)
    scope = serializers.CharField()
    subject = serializers.CharField()
    patient = serializers.CharField(required=False)


class CallSerializer(serializers.Serializer):
    hook = serializers.CharField(max_length=128)
    hookInstance = serializers.CharField(max_length=128)
    fhirServer = serializers.URLField(required=False)
    fhirAuthorization = FhirAuthorizationSerializer(required=False, allow_null=True)
    context = serializers.DictField()
    prefetch = serializers.DictField(required=False, allow_null=True)

    def validate(self, attrs):
        if attrs.get("fhirAuthorization") and not attrs.get("fhirServer"):
            raise serializers.ValidationError({"fhirServer": "required with fhirAuthorization"})
        context = attrs["context"]
        for name in ("userId", "patientId"):
            if not isinstance(context.get(name), str) or not context[name]:
                raise serializers.ValidationError({"context": f"{name} is required"})
        if attrs["hook"] in ("order-select", "order-sign"):
            if not isinstance(context.get("draftOrders"), dict):
                raise serializers.ValidationError({"context": "draftOrders (a Bundle) is required"})
            if attrs["hook"] == "order-select" and not isinstance(context.get("selections"), list):
                raise serializers.ValidationError({"context": "selections is required"})
        return attrs


class OverrideReasonSerializer(serializers.Serializer):
    reason = serializers.DictField(required=False)
    userComment = serializers.CharField(required=False, allow_blank=True, max_length=2000)


class AcceptedSuggestionSerializer(serializers.Serializer):
    id = serializers.CharField(max_length=64)


class FeedbackItemSerializer(serializers.Serializer):
    card = serializers.CharField(max_length=64)
    outcome = serializers.ChoiceField(choices=["accepted", "overridden"])
    acceptedSuggestions = AcceptedSuggestionSerializer(many=True, required=False)
    overrideReason = OverrideReasonSerializer(required=False)
    outcomeTimestamp = serializers.DateTimeField()

    def validate(self, attrs):
        if attrs["outcome"] == "accepted" and not attrs.get("acceptedSuggestions"):
            raise serializers.ValidationError({"acceptedSuggestions": "required when the outcome is accepted"})
        return attrs


class FeedbackSerializer(serializers.Serializer):
    feedback = FeedbackItemSerializer(many=True, allow_empty=False, max_length=100)
