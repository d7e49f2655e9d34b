"""The Celery app (`celery -A cdss worker|beat`): RabbitMQ broker, queues and routes as code.

Settings come from Django settings under the CELERY_ prefix (cdss/settings/base.py); the queues are
declared here because they are part of the message topology, like core.messaging.topology.
"""

import os

from celery import Celery
from kombu import Exchange, Queue

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cdss.settings.production")

app = Celery("cdss")
app.config_from_object("django.conf:settings", namespace="CELERY")

# One durable queue per workload, so a backlog of FHIR writes never delays an alert.
CELERY_QUEUES = ("default", "fhir", "ai", "alert")
app.conf.task_queues = [
    Queue(name, Exchange(name, type="direct", durable=True), routing_key=name, durable=True) for name in CELERY_QUEUES
]
app.conf.task_routes = {
    "fhir_sync.tasks.*": {"queue": "fhir"},
    "ai.tasks.*": {"queue": "ai"},
    "notifications.tasks.*": {"queue": "alert"},
}
app.autodiscover_tasks()
