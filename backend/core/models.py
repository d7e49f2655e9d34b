"""The transactional outbox: a message that must follow a database change is a row written in the same
transaction, so a committed change can never lose its message, whatever RabbitMQ is doing."""

import uuid

from django.db import models


class OutboxMessage(models.Model):
    class Kind(models.TextChoices):
        TOPIC = "topic", "message on cdss.topic"  # consumed by our own services (the ai-server)
        TASK = "task", "Celery task"  # consumed by the Celery workers

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, help_text="also the message id / Celery task id")
    kind = models.CharField(max_length=8, choices=Kind.choices)
    # TOPIC: the routing key. TASK: the task name (its queue comes from the task routes).
    target = models.CharField(max_length=128)
    payload = models.JSONField(help_text="TOPIC: the message body. TASK: {'args': [...], 'kwargs': {...}}")
    request_id = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    published_at = models.DateTimeField(null=True, blank=True, db_index=True)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)

    class Meta:
        indexes = [models.Index(fields=("published_at", "created_at"), name="outbox_pending")]

    def __str__(self) -> str:
        state = "sent" if self.published_at else "pending"
        return f"{self.kind}:{self.target} {self.id} ({state})"
