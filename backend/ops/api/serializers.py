"""The overview's shape, for the OpenAPI schema (the view returns the selector's dict as it is)."""

from rest_framework import serializers


class OpsSectionSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=("ok", "down"))
    detail = serializers.CharField(required=False, help_text="Why the section could not be computed")


class OpsDependencySerializer(serializers.Serializer):
    name = serializers.CharField()
    state = serializers.ChoiceField(choices=("up", "down", "not_configured"))
    latency_ms = serializers.FloatField(allow_null=True)
    detail = serializers.CharField(allow_blank=True)


class OpsDependenciesSerializer(OpsSectionSerializer):
    checked_seconds_ago = serializers.FloatField(required=False)
    items = OpsDependencySerializer(many=True, required=False)


class OpsQueueSerializer(serializers.Serializer):
    name = serializers.CharField()
    dead_letter = serializers.BooleanField()
    messages = serializers.IntegerField(allow_null=True)
    consumers = serializers.IntegerField(allow_null=True)
    detail = serializers.CharField(allow_blank=True)


class OpsQueuesSerializer(OpsSectionSerializer):
    items = OpsQueueSerializer(many=True, required=False)


class OpsFhirDeadLettersSerializer(OpsSectionSerializer):
    open = serializers.IntegerField(required=False)
    oldest_open_at = serializers.DateTimeField(allow_null=True, required=False)
    created_last_24h = serializers.IntegerField(required=False)


class OpsFailedByTaskSerializer(serializers.Serializer):
    task = serializers.CharField()
    count = serializers.IntegerField()
    last_at = serializers.DateTimeField()


class OpsAiJobsSerializer(OpsSectionSerializer):
    failed_last_24h = serializers.IntegerField(required=False)
    failed_by_task = OpsFailedByTaskSerializer(many=True, required=False)
    last_failed_at = serializers.DateTimeField(allow_null=True, required=False)
    queued = serializers.IntegerField(required=False)
    running = serializers.IntegerField(required=False)


class OpsAlertSerializer(serializers.Serializer):
    name = serializers.CharField()
    severity = serializers.CharField(allow_blank=True)
    summary = serializers.CharField(allow_blank=True)
    starts_at = serializers.CharField(allow_blank=True)
    received_at = serializers.CharField()


class OpsAlertsSerializer(OpsSectionSerializer):
    firing = OpsAlertSerializer(many=True, required=False)
    resolved = OpsAlertSerializer(many=True, required=False)


class OpsDeploymentSerializer(OpsSectionSerializer):
    live_colour = serializers.CharField(allow_null=True, required=False)
    serving_colour = serializers.CharField(allow_null=True, required=False)
    switched_at = serializers.DateTimeField(allow_null=True, required=False)


class OpsBackupSerializer(serializers.Serializer):
    kind = serializers.CharField()
    last_success_at = serializers.DateTimeField(allow_null=True)
    age_seconds = serializers.IntegerField(allow_null=True)


class OpsBackupsSerializer(OpsSectionSerializer):
    source = serializers.CharField(allow_null=True, required=False)
    items = OpsBackupSerializer(many=True, required=False)


class OpsLinksSerializer(serializers.Serializer):
    grafana = serializers.URLField(allow_null=True)
    prometheus = serializers.URLField(allow_null=True)
    alertmanager = serializers.URLField(allow_null=True)


class OpsOverviewSerializer(serializers.Serializer):
    dependencies = OpsDependenciesSerializer()
    queues = OpsQueuesSerializer()
    fhir_dead_letters = OpsFhirDeadLettersSerializer()
    ai_jobs = OpsAiJobsSerializer()
    alerts = OpsAlertsSerializer()
    deployment = OpsDeploymentSerializer()
    backups = OpsBackupsSerializer()
    links = OpsLinksSerializer()
    generated_at = serializers.DateTimeField()
