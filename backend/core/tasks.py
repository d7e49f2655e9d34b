"""Platform tasks."""

import os
import socket

from celery import shared_task

from core import context


@shared_task(name="core.ping")
def ping(payload: str) -> dict:
    """Echo `payload` with the worker's identity: proof that a real worker consumed the message."""
    return {
        "payload": payload,
        "hostname": socket.gethostname(),
        "pid": os.getpid(),
        "request_id": context.current().request_id,
    }
