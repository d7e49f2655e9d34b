"""The handlers of what the ai-server publishes (ai.job.progress, ai.job.result; docs/ai.md), used by
`manage.py consume_ai_events` and callable without it (tests, a replay from the dead-letter queue).

`handle(routing_key, body)` validates the message and calls one service. A message that is not what the
contract describes raises MalformedEvent: the consumer rejects it without requeueing, so it lands in
the queue's dead-letter queue with a log line. Handling is idempotent (see services.job_result).
"""

import json
import logging
from typing import Any

from django.conf import settings
from rest_framework import serializers

from core.messaging import names

from . import services
from .models import AIJob

logger = logging.getLogger(__name__)

PROGRESS_KEY = names.AI_JOB_PROGRESS
RESULT_KEY = names.AI_JOB_RESULT
ARTIFACT_NAME = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"


class MalformedEvent(Exception):
    """The message cannot be handled as it is; it goes to the dead-letter queue."""


class ProgressSerializer(serializers.Serializer):
    job_id = serializers.UUIDField()
    stage = serializers.ChoiceField(choices=AIJob.Stage.choices)
    fraction = serializers.FloatField(min_value=0.0, max_value=1.0)
    at = serializers.CharField(required=False, allow_null=True, allow_blank=True)


class ArtifactSerializer(serializers.Serializer):
    name = serializers.RegexField(ARTIFACT_NAME)
    bucket = serializers.CharField(max_length=63)
    key = serializers.CharField(max_length=255)
    content_type = serializers.CharField(max_length=127, required=False, default="application/octet-stream")
    size = serializers.IntegerField(min_value=0, required=False, allow_null=True)

    def validate_bucket(self, value: str) -> str:
        expected = settings.S3_BUCKETS["artifacts"]
        if value != expected:
            raise serializers.ValidationError(f"artifacts must be in bucket {expected!r}, not {value!r}")
        return value

    def validate_key(self, value: str) -> str:
        if value.startswith("/") or ".." in value.split("/"):
            raise serializers.ValidationError("not a plain object key")
        return value


class ModelSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=128, required=False, allow_blank=True)
    version = serializers.CharField(max_length=64, required=False, allow_blank=True, allow_null=True)
    sha256 = serializers.CharField(max_length=64, required=False, allow_blank=True, allow_null=True)


class ResultSerializer(serializers.Serializer):
    job_id = serializers.UUIDField()
    attempt = serializers.IntegerField(min_value=1, required=False, default=1)
    status = serializers.ChoiceField(choices=[AIJob.Status.COMPLETED, AIJob.Status.FAILED])
    reason = serializers.CharField(required=False, allow_null=True, allow_blank=True, max_length=4000)
    model = ModelSerializer(required=False, allow_null=True)
    task = serializers.CharField(required=False, allow_blank=True, allow_null=True, max_length=32)
    device = serializers.CharField(required=False, allow_blank=True, allow_null=True, max_length=16)
    metrics = serializers.DictField(required=False, allow_null=True)
    summary = serializers.CharField(required=False, allow_blank=True, allow_null=True, max_length=4000)
    artifacts = ArtifactSerializer(many=True, required=False, allow_null=True)
    orthanc = serializers.DictField(required=False, allow_null=True)
    timings = serializers.DictField(required=False, allow_null=True)
    disclaimer = serializers.CharField(required=False, allow_blank=True, allow_null=True, max_length=2000)
    disclaimers = serializers.DictField(
        child=serializers.CharField(max_length=2000, allow_blank=True), required=False, allow_null=True
    )
    finished_at = serializers.CharField(required=False, allow_blank=True, allow_null=True)

    def validate_artifacts(self, value):
        names = [item["name"] for item in value or []]
        if len(names) != len(set(names)):
            raise serializers.ValidationError("artifact names must be unique")
        return value


def _validated(serializer_class, payload: Any, what: str) -> dict:
    if not isinstance(payload, dict):
        raise MalformedEvent(f"{what}: the body is not a JSON object")
    serializer = serializer_class(data=payload)
    if not serializer.is_valid():
        raise MalformedEvent(f"{what}: {json.dumps(serializer.errors, default=str)[:1000]}")
    return serializer.validated_data


def parse_progress(payload: Any) -> dict:
    return _validated(ProgressSerializer, payload, PROGRESS_KEY)


def parse_result(payload: Any) -> services.ResultReport:
    data = _validated(ResultSerializer, payload, RESULT_KEY)
    return services.ResultReport(
        job_id=str(data["job_id"]),
        attempt=data["attempt"],
        status=data["status"],
        reason=(data.get("reason") or "").strip(),
        model={key: value for key, value in (data.get("model") or {}).items() if value},
        task=data.get("task") or "",
        device=data.get("device") or "",
        raw_metrics=data.get("metrics") or {},
        summary=(data.get("summary") or "").strip(),
        artifacts=[dict(item) for item in data.get("artifacts") or []],
        orthanc=data.get("orthanc") or {},
        timings=data.get("timings") or {},
        disclaimer=(data.get("disclaimer") or "").strip(),
        # language codes as ISO 639-1, lower case; a blank text is no translation
        disclaimers={str(code).lower()[:8]: text for code, text in (data.get("disclaimers") or {}).items() if text},
    )


def handle_progress(payload: Any) -> str:
    data = parse_progress(payload)
    job = services.job_progress(job_id=str(data["job_id"]), stage=data["stage"], fraction=data["fraction"])
    return "progress" if job is not None else "ignored"


def handle_result(payload: Any) -> str:
    return services.job_result(report=parse_result(payload))


HANDLERS = {PROGRESS_KEY: handle_progress, RESULT_KEY: handle_result}


def handle(routing_key: str, body: bytes) -> str:
    """Handle one message body published with `routing_key`. Returns what happened ("progress",
    "completed", "failed", "ignored", "stale", "unknown"); raises MalformedEvent for what must be dead-lettered."""
    handler = HANDLERS.get(routing_key)
    if handler is None:
        raise MalformedEvent(f"no handler for routing key {routing_key!r}")
    try:
        payload = json.loads(body)
    except (UnicodeDecodeError, ValueError) as exc:
        raise MalformedEvent(f"{routing_key}: the body is not JSON ({exc})") from exc
    return handler(payload)
