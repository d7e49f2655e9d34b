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
