"""The transactional outbox against the real RabbitMQ: nothing committed is lost, nothing rolled back is sent."""

import json

import pytest
from django.db import transaction

from core import outbox
from core.models import OutboxMessage
from core.tests.processes import free_port

pytestmark = pytest.mark.django_db


def test_message_is_published_after_commit_with_the_row_id(broker_channel, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        message = outbox.enqueue_topic("ai.job.create", {"job": 41})
    method, properties, body = broker_channel.basic_get("ai_jobs", auto_ack=True)
    assert method is not None and json.loads(body) == {"job": 41}
    assert properties.message_id == str(message.pk)
    message.refresh_from_db()
    assert message.published_at is not None and message.attempts == 1


def test_rolled_back_change_sends_nothing(broker_channel, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(RuntimeError), transaction.atomic():
        outbox.enqueue_topic("ai.job.create", {"job": "never"})
        raise RuntimeError("the change failed")
    assert not OutboxMessage.objects.exists()
    assert broker_channel.basic_get("ai_jobs", auto_ack=True)[0] is None


def test_broker_down_keeps_the_message_until_the_relay_sends_it(broker_channel, scratch_queue, settings,
                                                                django_capture_on_commit_callbacks):  # fmt: skip
    routing_key, queue = scratch_queue
    working_url = settings.RABBITMQ_URL
    settings.RABBITMQ_URL = f"amqp://guest:guest@127.0.0.1:{free_port()}/%2F"  # nothing listens there
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        pending = [outbox.enqueue_topic(routing_key, {"n": n}) for n in range(3)]  # no exception to the caller
    assert outbox.backlog() == 3
    assert "unreachable" in OutboxMessage.objects.get(pk=pending[0].pk).last_error

    settings.RABBITMQ_URL = working_url
    assert outbox.publish_pending() == 3
    assert outbox.backlog() == 0
    received = [json.loads(broker_channel.basic_get(queue, auto_ack=True)[2]) for _ in range(3)]
    assert received == [{"n": 0}, {"n": 1}, {"n": 2}], "published once each, in order"
    assert outbox.publish_pending() == 0


def test_task_messages_reach_their_celery_queue(django_capture_on_commit_callbacks):
    from celery import current_app

    with current_app.connection_for_write() as connection:
        channel = connection.default_channel
        channel.queue_purge("default")
        with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
            message = outbox.enqueue_task("core.ping", "from-the-outbox")
        delivered = channel.basic_get("default", no_ack=True)
    assert delivered is not None
    assert delivered.headers["id"] == str(message.pk) and delivered.headers["task"] == "core.ping"


def test_sent_rows_past_the_retention_are_pruned_and_pending_ones_never():
    from datetime import timedelta

    from django.utils import timezone

    from core.outbox import prune_published

    now = timezone.now()
    rows = {
        name: OutboxMessage.objects.create(kind="task", target="core.ping", payload={}, published_at=sent)
        for name, sent in {
            "sent long ago": now - timedelta(days=8),
            "sent yesterday": now - timedelta(days=1),
            "never sent": None,
        }.items()
    }
    OutboxMessage.objects.filter(pk=rows["never sent"].pk).update(created_at=now - timedelta(days=30))
    assert prune_published(older_than=timedelta(days=7), batch=1) == 1
    left = set(OutboxMessage.objects.filter(pk__in=[row.pk for row in rows.values()]).values_list("pk", flat=True))
    assert left == {rows["sent yesterday"].pk, rows["never sent"].pk}
