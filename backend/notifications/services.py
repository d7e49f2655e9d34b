"""The one way services push an event to signed-in browsers: after the transaction commits, to each
user's websocket group (notifications.consumers). A rolled-back change notifies nobody."""

from collections.abc import Iterable
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

from .consumers import user_group


def notify_users(user_ids: Iterable[int], payload: dict[str, Any]) -> None:
    recipients = sorted(set(user_ids))

    def send() -> None:
        layer = get_channel_layer()
        for user_id in recipients:
            async_to_sync(layer.group_send)(user_group(user_id), {"type": "notify", "payload": payload})

    transaction.on_commit(send)
