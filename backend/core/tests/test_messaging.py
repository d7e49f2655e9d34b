"""The RabbitMQ topology and the confirming publisher, against the real broker (vhost cdss_test)."""

import json

import pytest
from django.conf import settings

from core import context
from core.messaging import names
from core.messaging import publisher as publisher_module
from core.messaging.names import WORK_QUEUES
from core.messaging.publisher import Publisher, PublishError
from core.messaging.topology import declare


def _queue_depth(channel, name: str) -> int:
    return channel.queue_declare(name, passive=True).method.message_count


def test_declaring_the_topology_twice_changes_nothing(broker_channel):
    declare(broker_channel)
    declare(broker_channel)
    for queue in WORK_QUEUES:
        assert _queue_depth(broker_channel, queue.name) == 0
        assert _queue_depth(broker_channel, queue.dead_letter_queue) == 0


@pytest.mark.parametrize("target", WORK_QUEUES, ids=lambda q: q.routing_key)
def test_confirmed_publish_arrives_in_its_queue_only(broker_channel, target):
    publisher = Publisher(settings.RABBITMQ_URL)
    token = context.activate(context.RequestContext(request_id="req-publish"))
    try:
        message_id = publisher.publish(target.routing_key, {"job": 7}, correlation_id="req-1")
    finally:
        context.deactivate(token)
        publisher.close()

    method, properties, body = broker_channel.basic_get(target.name, auto_ack=True)
    assert method is not None, f"nothing arrived in {target.name}"
    assert json.loads(body) == {"job": 7}
    assert properties.message_id == message_id
    assert properties.correlation_id == "req-1"
    assert properties.delivery_mode == 2  # persistent
    assert properties.content_type == "application/json"
    assert properties.headers["x-request-id"] == "req-publish"
    for other in WORK_QUEUES:
        assert _queue_depth(broker_channel, other.name) == 0, f"{other.name} got a copy"


def test_rejected_message_is_dead_lettered_to_its_dlq(broker_channel):
    message_id = Publisher(settings.RABBITMQ_URL).publish("ai.job.create", {"job": "poison"})
    method, _, _ = broker_channel.basic_get("ai_jobs", auto_ack=False)
    broker_channel.basic_nack(method.delivery_tag, requeue=False)

    for _ in range(50):  # dead-lettering is asynchronous
        method, properties, body = broker_channel.basic_get("ai_jobs.dlq", auto_ack=True)
        if method:
            break
        broker_channel.connection.sleep(0.1)
    assert method is not None, "the rejected message did not reach ai_jobs.dlq"
    assert properties.message_id == message_id
    assert properties.headers["x-death"][0]["reason"] == "rejected"
    assert json.loads(body) == {"job": "poison"}


def test_unroutable_message_is_an_error_not_a_silent_drop(broker_channel):
    with pytest.raises(PublishError, match="no queue is bound"):
        Publisher(settings.RABBITMQ_URL).publish("nobody.listens.here", {"x": 1})


def test_unreachable_broker_is_a_publish_error():
    with pytest.raises(PublishError, match="RabbitMQ is unreachable"):
        Publisher("amqp://guest:guest@127.0.0.1:1/%2F").publish("ai.job.create", {"x": 1})


def test_module_publish_reuses_one_connection_per_thread(broker_channel, scratch_queue):
    routing_key, queue = scratch_queue
    publisher_module.publish(routing_key, {"n": 1})
    first = publisher_module._local.publisher._connection
    publisher_module.publish(routing_key, {"n": 2})
    assert publisher_module._local.publisher._connection is first
    assert _queue_depth(broker_channel, queue) == 2


def test_every_route_names_real_tasks_and_every_task_name_is_registered():
    from fnmatch import fnmatch

    from cdss.celery import app

    app.loader.import_default_modules()
    ours = {name for name in app.tasks if not name.startswith("celery.")}
    for pattern, queue in names.CELERY_ROUTES:
        assert queue in names.CELERY_QUEUES
        assert any(fnmatch(name, pattern) for name in ours), f"the route {pattern} matches no task"
    assert {app.amqp.router.route({}, name)["queue"].name for name in ours} <= set(names.CELERY_QUEUES)
    named = {value for key, value in vars(names).items() if key.endswith("_TASK")}
    assert named <= ours, f"named but not a task: {named - ours}"
    assert {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()} <= named
