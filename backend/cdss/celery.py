"""The Celery app (`celery -A cdss worker|beat`): RabbitMQ broker, queues and routes as code.

Settings come from Django settings under the CELERY_ prefix (cdss/settings/base.py); the queues and
routes are named in core.messaging.names with the rest of the message topology.

The queues are quorum queues (replicated, durable) with a delivery limit: a task whose worker keeps
dying on it (redelivered by reject-on-worker-lost) is dropped to the broker's dead-lettering after
CELERY_QUEUE_DELIVERY_LIMIT deliveries instead of looping forever. With quorum queues Celery delays
retries (countdown/ETA) through RabbitMQ's native delayed delivery, not in the worker's memory.
"""

import os

from celery import Celery
from celery.signals import worker_init
from kombu import Exchange, Queue

from core.messaging import names

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cdss.settings.production")

app = Celery("cdss")
app.config_from_object("django.conf:settings", namespace="CELERY")

# Declared once, by `manage.py bootstrap` as the broker's owner account (core.messaging.topology), never by
# the running processes: their accounts may publish and consume, not create or delete (docs/security.md).
app.conf.task_queues = [
    Queue(
        name,
        Exchange(name, type="direct", durable=True, no_declare=True),
        routing_key=name,
        durable=True,
        queue_arguments=names.CELERY_QUEUE_ARGUMENTS,
        no_declare=True,
    )
    for name in names.CELERY_QUEUES
]


def _to(queue: str) -> dict[str, str]:
    # Through the queue's own exchange: left to itself Celery publishes on the default exchange, where a
    # write permission reaches every queue by name, so no account of ours may write there.
    return {"queue": queue, "exchange": queue, "routing_key": queue}


app.conf.task_routes = {pattern: _to(queue) for pattern, queue in names.CELERY_ROUTES}
app.autodiscover_tasks()


@worker_init.connect
def _serve_metrics(**_kwargs) -> None:
    # In the worker's main process, before the pool forks: compose scrapes it here (core.metrics_endpoint).
    from core.metrics_endpoint import serve_from_env

    serve_from_env()
