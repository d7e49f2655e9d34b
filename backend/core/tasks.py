"""Platform tasks."""

import os
import socket

from celery import shared_task

from core import context
from core.messaging import names


@shared_task(name=names.PING_TASK)
def ping(payload: str) -> dict:
    """Echo `payload` with the worker's identity: proof that a real worker consumed the message."""
    return {
        "payload": payload,
        "hostname": socket.gethostname(),
        "pid": os.getpid(),
        "request_id": context.current().request_id,
    }


@shared_task(name=names.RELAY_OUTBOX_TASK, ignore_result=True)
def relay_outbox() -> int:
    """Publish what the after-commit publish could not (scheduled every few seconds by beat)."""
    from core.outbox import publish_pending

    return publish_pending()


@shared_task(name=names.PRUNE_OUTBOX_TASK, ignore_result=True)
def prune_outbox() -> int:
    """Delete outbox rows sent more than OUTBOX_RETENTION_DAYS ago (scheduled hourly by beat)."""
    from datetime import timedelta

    from django.conf import settings

    from core.outbox import prune_published

    return prune_published(older_than=timedelta(days=settings.OUTBOX_RETENTION_DAYS))
