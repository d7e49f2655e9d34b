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
# Declared once, by `manage.py bootstrap` as the broker's owner account (core.messaging.topology), never by
# the running processes: their accounts may publish and consume, not create or delete (docs/security.md).
app.conf.task_queues = [
    Queue(
        name,
        Exchange(name, type="direct", durable=True, no_declare=True),
        routing_key=name,
        durable=True,
        queue_arguments=QUEUE_ARGUMENTS,
        no_declare=True,
    )
    for name in CELERY_QUEUES
]


def _to(queue: str) -> dict[str, str]:
    # Through the queue's own exchange: left to itself Celery publishes on the default exchange, where a
    # write permission reaches every queue by name, so no account of ours may write there.
    return {"queue": queue, "exchange": queue, "routing_key": queue}


app.conf.task_routes = {
    "fhir_sync.*": _to(FHIR_QUEUE),  # fhir_sync.sync_entity, fhir_sync.reconcile
    "ai.tasks.*": _to("ai"),
    "notifications.tasks.*": _to("alert"),
    "*": _to("default"),
}
app.autodiscover_tasks()
