"""Write a message with the change it belongs to; publish it after commit, confirmed by the broker.

    with transaction.atomic():
        job = AIJob.objects.create(...)
        outbox.enqueue_topic(names.AI_JOB_CREATE, {...})                    # a message for another service
        outbox.enqueue_task(names.FHIR_SYNC_TASK, "ai.result", result.pk)   # a Celery task

(every name in core.messaging.names)

After the transaction commits, the rows are published at once (best effort, in the same process);
whatever could not be published then (RabbitMQ down, a crash between commit and publish) is published
by the beat task `core.relay_outbox` a few seconds later. A row is marked sent only after the broker
confirmed it, so a message may go out twice but is never lost: consumers deduplicate by message id
(the row id, which is also the Celery task id).
"""

import logging
from datetime import timedelta
from typing import Any

from celery import current_app
from django.db import transaction
from django.db.models import F
from django.dispatch import Signal
from django.utils import timezone

from core import context
from core.messaging.publisher import Publisher, PublishError

from .models import OutboxMessage

logger = logging.getLogger(__name__)

# Sent with `messages` (the rows just inserted, inside the caller's transaction) for every enqueue, single or
# bulk: what an app keeps beside the outbox row (fhir_sync's pending syncs) is written in the same
# transaction. Bulk inserts fire no post_save, so this signal, not the model's, is the one to listen to.
enqueued = Signal()


def enqueue_topic(routing_key: str, payload: dict[str, Any]) -> OutboxMessage:
    return _enqueue(OutboxMessage.Kind.TOPIC, routing_key, payload)


def enqueue_task(task_name: str, *args: Any, **kwargs: Any) -> OutboxMessage:
    return _enqueue(OutboxMessage.Kind.TASK, task_name, {"args": list(args), "kwargs": kwargs})


def enqueue_tasks(task_name: str, calls: list[tuple]) -> list[OutboxMessage]:
    """Many calls of one task (positional arguments each) with one bulk insert: bulk cache refreshes."""
    request_id = context.current().request_id
    messages = OutboxMessage.objects.bulk_create(
        [
            OutboxMessage(
                kind=OutboxMessage.Kind.TASK, target=task_name, payload={"args": list(args), "kwargs": {}},
                request_id=request_id,
            )
            for args in calls
        ]
    )  # fmt: skip
    enqueued.send(sender=OutboxMessage, messages=messages)
    ids = [message.pk for message in messages]
    transaction.on_commit(lambda: publish_pending(ids=ids, limit=max(500, len(ids))))
    return messages


def _enqueue(kind: str, target: str, payload: dict[str, Any]) -> OutboxMessage:
    message = OutboxMessage.objects.create(
        kind=kind, target=target, payload=payload, request_id=context.current().request_id
    )
    enqueued.send(sender=OutboxMessage, messages=[message])
    if transaction.get_connection().in_atomic_block:
        _after_this_commit().append(message.pk)
    else:  # autocommit: the row is committed already
        publish_pending(ids=[message.pk])
    return message


class _AfterCommit(list):
    """The rows enqueued in one transaction, published together after it commits: one broker connection
    for all of them, not one per row (a transaction queueing 500 syncs spent most of its time on that)."""

    def __init__(self):
        super().__init__()
        self.callback = self.publish

    def publish(self) -> None:
        publish_pending(ids=list(self), limit=max(500, len(self)))


def _after_this_commit() -> _AfterCommit:
    connection = transaction.get_connection()
    batch = getattr(connection, "_outbox_after_commit", None)
    # Reused only while its callback is still waiting for this transaction's commit: not once it ran, nor
    # when a rollback (of the transaction or of the savepoint it was registered in) dropped it.
    # transaction.on_commit only registers; whether a callback is still pending is only in run_on_commit (read).
    if batch is None or not any(func is batch.callback for _sids, func, _robust in connection.run_on_commit):
        batch = _AfterCommit()
        connection._outbox_after_commit = batch
        transaction.on_commit(batch.callback)
    return batch


def publish_pending(*, ids: list | None = None, limit: int = 500) -> int:
    """Publish pending rows (all, or only `ids`); returns how many the broker confirmed. Rows are locked
    with SKIP LOCKED so concurrent relays never publish the same row at the same time."""
    published: list = []
    publisher = Publisher()
    tasks = _TaskSender()
    try:
        with transaction.atomic():
            pending = OutboxMessage.objects.select_for_update(skip_locked=True).filter(published_at__isnull=True)
            if ids is not None:
                pending = pending.filter(pk__in=ids)
            for message in pending.order_by("created_at")[:limit]:
                try:
                    _publish(message, publisher, tasks)
                except Exception as exc:  # the broker is away or refused: leave it pending for the relay
                    OutboxMessage.objects.filter(pk=message.pk).update(
                        attempts=message.attempts + 1, last_error=f"{exc.__class__.__name__}: {exc}"[:2000]
                    )
                    logger.warning("outbox message %s not published yet: %s", message.pk, exc)
                    break  # the next rows would fail the same way; keep their order
                published.append(message.pk)
            # One UPDATE for the confirmed rows (still locked by this transaction), not one per row.
            OutboxMessage.objects.filter(pk__in=published).update(
                published_at=timezone.now(), attempts=F("attempts") + 1, last_error=""
            )
    finally:
        publisher.close()
        tasks.close()
    return len(published)


class _TaskSender:
    """One broker connection for a batch of Celery tasks, opened on first use without retrying: when
    RabbitMQ is away the caller (a request answering 202) must not wait for the broker's retry loop."""

    def __init__(self):
        self._connection = None

    def send(self, name: str, **options: Any) -> None:
        if self._connection is None:
            connection = current_app.connection_for_write()
            try:
                connection.ensure_connection(max_retries=0, timeout=CONNECT_TIMEOUT_SECONDS)
            except Exception:
                connection.release()
                raise
            self._connection = connection
        current_app.send_task(name, connection=self._connection, **options)

    def close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            try:
                connection.release()
            except Exception as exc:  # closing a dead connection must not hide the outcome
                logger.debug("closing the outbox's broker connection: %s", exc)


CONNECT_TIMEOUT_SECONDS = 5.0


def _publish(message: OutboxMessage, publisher: Publisher, tasks: _TaskSender) -> None:
    headers = {"x-request-id": message.request_id} if message.request_id else {}
    if message.kind == OutboxMessage.Kind.TOPIC:
        publisher.publish(message.target, message.payload, message_id=str(message.pk), headers=headers)
        return
    tasks.send(
        message.target,
        args=message.payload.get("args", []),
        kwargs=message.payload.get("kwargs", {}),
        task_id=str(message.pk),
        headers={"x_request_id": message.request_id} if message.request_id else None,
        retry=False,  # a failed publish stays in the outbox; the relay retries it
        # Nobody waits on an outbox task's result (the row's id is its task id; its effect is in the database):
        # no result-backend subscription per message here, no result written by the worker.
        ignore_result=True,
    )


def prune_published(*, older_than: timedelta, batch: int = 5000) -> int:
    """Delete rows the broker confirmed longer ago than `older_than`, `batch` at a time (short locks).
    Consumers deduplicate by their own records, so a sent row is needed only while a redelivery of it
    could still be on its way and for looking into recent traffic; pending rows are never deleted."""
    cutoff, deleted = timezone.now() - older_than, 0
    while True:
        ids = list(
            OutboxMessage.objects.filter(published_at__lt=cutoff)
            .order_by("published_at")
            .values_list("pk", flat=True)[:batch]
        )
        if not ids:
            return deleted
        deleted += OutboxMessage.objects.filter(pk__in=ids).delete()[0]


def backlog() -> int:
    return OutboxMessage.objects.filter(published_at__isnull=True).count()


__all__ = ["PublishError", "backlog", "enqueue_task", "enqueue_topic", "publish_pending"]
