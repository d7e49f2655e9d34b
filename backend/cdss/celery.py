"""The Celery app (`celery -A cdss worker|beat`): RabbitMQ broker, queues and routes as code.

Settings come from Django settings under the CELERY_ prefix (cdss/settings/base.py); the queues are
declared here because they are part of the message topology, like core.messaging.topology.

The queues are quorum queues (replicated, durable) with a delivery limit: a task whose worker keeps
dying on it (redelivered by reject-on-worker-lost) is dropped to the broker's dead-lettering after
CELERY_QUEUE_DELIVERY_LIMIT deliveries instead of looping forever. With quorum queues Celery delays
retries (countdown/ETA) through RabbitMQ's native delayed delivery, not in the worker's memory.
"""

import os

from celery import Celery
from kombu import Exchange, Queue

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cdss.settings.production")

app = Celery("cdss")
app.config_from_object("django.conf:settings", namespace="CELERY")

# Test runs of several sessions share the test vhost; each (CDSS_TEST_DB_SUFFIX, see settings/test.py)
# gets its own FHIR queue, so one session's workers never take another's sync tasks. Always "fhir" in use.
_TEST_NAMESPACE = (
    os.environ.get("CDSS_TEST_DB_SUFFIX", "") if "settings.test" in os.environ["DJANGO_SETTINGS_MODULE"] else ""
)
FHIR_QUEUE = f"fhir.{_TEST_NAMESPACE}" if _TEST_NAMESPACE else "fhir"

# One durable queue per workload, so a backlog of FHIR writes never delays an alert.
CELERY_QUEUES = ("default", FHIR_QUEUE, "ai", "alert")
CELERY_QUEUE_DELIVERY_LIMIT = 10
QUEUE_ARGUMENTS = {"x-queue-type": "quorum", "x-delivery-limit": CELERY_QUEUE_DELIVERY_LIMIT}
app.conf.task_queues = [
    Queue(
        name,
        Exchange(name, type="direct", durable=True),
        routing_key=name,
        durable=True,
        queue_arguments=QUEUE_ARGUMENTS,
    )
    for name in CELERY_QUEUES
]
app.conf.task_routes = {
    "fhir_sync.*": {"queue": FHIR_QUEUE},  # fhir_sync.sync_entity, fhir_sync.reconcile
    "ai.tasks.*": {"queue": "ai"},
    "notifications.tasks.*": {"queue": "alert"},
}
app.autodiscover_tasks()
