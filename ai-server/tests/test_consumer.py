"""The consumer against the real RabbitMQ, object store and Orthanc: what happens to each kind of job."""

import json
import threading
import time

import pytest
from conftest import MODELS_DIR, drain, new_job, publish_job

from ai_server.consumer import Consumer
from ai_server.jobs import Decision, JobRunner, result_key
from ai_server.messaging import DELIVERY_LIMIT, PROGRESS_KEY
from ai_server.storage import BucketMissing, ObjectStore

OMICS = "omics-cox-gse7390"
EXAMPLE = MODELS_DIR / OMICS / "1.1.0" / "example-profile.csv"


@pytest.fixture
def expression_input(services, settings):
    key = f"inputs/{time.time_ns()}.csv"
    services.store.put(settings.artifacts_bucket, key, EXAMPLE.read_bytes(), "text/csv")
    return {"kind": "expression", "bucket": settings.artifacts_bucket, "key": key}


def consume(runner, settings, jobs: int = 1, timeout: float = 60.0) -> Consumer:
    """Run a consumer in a thread until it has handled `jobs` messages."""
    consumer = Consumer(runner, settings.rabbitmq_url)
    thread = threading.Thread(target=consumer.run, kwargs={"max_jobs": jobs}, daemon=True)
    thread.start()
    thread.join(timeout)
    assert not thread.is_alive(), f"consumer handled {consumer.jobs_done} of {jobs} jobs in {timeout} s"
    return consumer


def queue_depth(channel, queue: str) -> int:
    return channel.queue_declare(queue, passive=True).method.message_count


def test_an_omics_job_completes_with_progress_artifacts_and_a_stored_result(
    channel, runner, settings, expression_input
):
    job = new_job(OMICS, expression_input)
    publish_job(channel, job)
    consume(runner, settings)

    [result] = drain(channel, "ai_results", count=1)
    assert result["job_id"] == job["job_id"] and result["status"] == "COMPLETED", result
    assert result["model"]["name"] == OMICS and len(result["model"]["sha256"]) == 64
    assert result["metrics"]["risk_group"] in ("low", "intermediate", "high")
    assert "breast-cancer" in result["disclaimer"] and result["disclaimers"]["en"] == result["disclaimer"]
    assert "유방암" in result["disclaimers"]["ko"]  # the model card's Korean, for the backend to answer in
    assert {"queue_wait", "total"} <= set(result["timings"])
    for artifact in result["artifacts"]:
        stored = runner.services.store.get(artifact["bucket"], artifact["key"])
        assert stored is not None and len(stored) == artifact["size"]
    stored_result = runner.services.store.get(settings.artifacts_bucket, result_key(job["job_id"]))
    assert json.loads(stored_result) == result

    stages = [event["stage"] for event in drain(channel, "ai_progress", count=20, timeout=1)]
    assert stages and set(stages) <= {"fetching", "preprocessing", "inference", "writing"}
    assert queue_depth(channel, "ai_jobs") == 0 and queue_depth(channel, "ai_jobs.dlq") == 0


@pytest.mark.parametrize("raw", [b"{not json", b'["a list"]', b'{"model": "no job id"}', b"\xff\xfe"])
def test_unreadable_messages_are_dead_lettered_without_a_result(channel, runner, settings, raw):
    publish_job(channel, None, raw=raw)
    consume(runner, settings)
    assert drain(channel, "ai_jobs.dlq", count=1, timeout=5) != []
    assert drain(channel, "ai_results", count=1, timeout=0.5) == []


@pytest.mark.parametrize(
    ("job_input", "model", "reason"),
    [
        ({"kind": "expression", "bucket": "ai-artifacts", "key": "inputs/none.csv"}, OMICS, "does not exist"),
        ({"kind": "dicom-study", "study_instance_uid": "1.2.3.4.5.6.7.404"}, "mri-lesion-demo", "not in the PACS"),
        ({"kind": "expression"}, "no-such-model", "unknown model 'no-such-model'"),
    ],
)
def test_invalid_jobs_fail_with_the_reason_and_are_dead_lettered(channel, runner, settings, job_input, model, reason):
    job = new_job(model, job_input)
    publish_job(channel, job)
    consume(runner, settings)

    [result] = drain(channel, "ai_results", count=1)
    assert result["status"] == "FAILED" and reason in result["reason"], result
    [dead] = drain(channel, "ai_jobs.dlq", count=1)
    assert dead["job_id"] == job["job_id"]


def test_a_job_past_its_deadline_fails_without_computing(channel, runner, settings, expression_input):
    job = new_job(OMICS, expression_input, deadline="2020-01-01T00:00:00+00:00")
    publish_job(channel, job)
    consume(runner, settings)
    [result] = drain(channel, "ai_results", count=1)
    assert result["status"] == "FAILED" and "deadline" in result["reason"]
    assert drain(channel, "ai_progress", count=1, timeout=0.5) == []


def test_a_redelivered_finished_job_is_announced_again_not_recomputed(channel, runner, settings, expression_input):
    job = new_job(OMICS, expression_input)
    publish_job(channel, job)
    publish_job(channel, job)  # e.g. the poll re-queued it while the first result was on its way
    consume(runner, settings, jobs=2)

    first, second = drain(channel, "ai_results", count=2)
    assert first == second  # the same stored result, finished_at included
    progress = drain(channel, "ai_progress", count=50, timeout=1)
    assert len({event["at"] for event in progress if event["stage"] == "fetching"}) == 1


def test_a_dependency_away_requeues_until_the_delivery_limit_then_fails(channel, services, settings):
    away = services.__class__(**{**services.__dict__})
    away.orthanc = services.orthanc.__class__(settings.model_copy(update={"orthanc_url": "http://127.0.0.1:1"}))
    runner = JobRunner(away)
    job = new_job("mri-lesion-demo", {"kind": "dicom-study", "study_instance_uid": "1.2.3"})
    publish_job(channel, job)
    consume(runner, settings, jobs=DELIVERY_LIMIT)  # every delivery the quorum queue allows
    runner.publisher.close()

    [result] = drain(channel, "ai_results", count=1)
    assert result["status"] == "FAILED"
    assert result["reason"].startswith(f"gave up after {DELIVERY_LIMIT} attempts: DependencyDown: Orthanc")
    assert drain(channel, "ai_jobs.dlq", count=1) != []


def _with_artifacts_bucket(services, settings, name: str):
    """The services with artifacts written to a bucket of `name` (the input stays in the run's bucket)."""
    moved = services.__class__(**{**services.__dict__})
    moved.settings = settings.model_copy(update={"s3_bucket_prefix": f"{settings.s3_bucket_prefix}{name}-"})
    return moved


def test_a_missing_artifacts_bucket_fails_the_job_at_once_and_acks_it(channel, services, settings, expression_input):
    """NoSuchBucket is a configuration error, not a store away: no retry, no redelivery, a reason that says it."""
    runner = JobRunner(_with_artifacts_bucket(services, settings, "gone"))
    job = new_job(OMICS, expression_input)
    publish_job(channel, job)
    started = time.monotonic()
    consume(runner, settings)
    runner.publisher.close()

    [result] = drain(channel, "ai_results", count=1)
    assert result["status"] == "FAILED" and "no bucket" in result["reason"] and "gone-ai-artifacts" in result["reason"]
    assert time.monotonic() - started < 30  # one delivery, not DELIVERY_LIMIT of them with a wait between
    assert queue_depth(channel, "ai_jobs") == 0 and queue_depth(channel, "ai_jobs.dlq") == 0  # acknowledged


def test_a_bucket_deleted_while_the_job_runs_fails_it_and_the_result_is_published_unstored(
    services, settings, expression_input
):
    moved = _with_artifacts_bucket(services, settings, "deleted")
    bucket = moved.settings.artifacts_bucket
    moved.store.ensure_bucket(bucket)

    class DeletesTheBucket:
        """The first progress report (the pipeline has started) deletes the empty bucket."""

        def __init__(self):
            self.results = []

        def publish(self, key, body, **kwargs):
            if key == PROGRESS_KEY and moved.store.client.bucket_exists(bucket):
                moved.store.client.remove_bucket(bucket)
            elif key != PROGRESS_KEY:
                self.results.append(body)

    published = DeletesTheBucket()
    job = new_job(OMICS, expression_input)
    assert JobRunner(moved, published).handle(json.dumps(job).encode()) is Decision.ACK
    [result] = published.results
    assert result["status"] == "FAILED" and f"no bucket '{bucket}'" in result["reason"]


def test_an_unreachable_store_still_gives_the_job_back_for_redelivery(channel, services, settings, expression_input):
    away = services.__class__(**{**services.__dict__})
    away.store = ObjectStore(settings.model_copy(update={"s3_endpoint_url": "http://127.0.0.1:1"}), timeout=1.0)
    runner = JobRunner(away)
    publish_job(channel, new_job(OMICS, expression_input))
    consume(runner, settings)
    runner.publisher.close()
    assert drain(channel, "ai_results", count=1, timeout=0.5) == []
    assert queue_depth(channel, "ai_jobs") == 1 and queue_depth(channel, "ai_jobs.dlq") == 0  # requeued


def test_the_store_names_a_missing_bucket_and_a_missing_key_is_none(services, settings):
    store = services.store
    assert store.get(settings.artifacts_bucket, "no/such/key") is None
    for call in (
        lambda: store.get(f"{settings.s3_bucket_prefix}none", "key"),
        lambda: store.put(f"{settings.s3_bucket_prefix}none", "key", b"x"),
        lambda: list(store.keys(f"{settings.s3_bucket_prefix}none")),
    ):
        with pytest.raises(BucketMissing, match="no bucket"):
            call()


def test_an_unconfirmed_result_leaves_the_job_for_redelivery(runner, settings, expression_input):
    class BrokerAway:
        def publish(self, *args, **kwargs):
            raise ConnectionError("broker away")

    job = new_job(OMICS, expression_input)
    assert JobRunner(runner.services, BrokerAway()).handle(json.dumps(job).encode()) is Decision.REQUEUE
    # the result was stored first, so the next delivery only announces it
    assert runner.services.store.get(settings.artifacts_bucket, result_key(job["job_id"])) is not None


def test_a_later_attempt_after_a_failed_one_computes_again_and_a_redelivery_does_not(
    runner, settings, expression_input
):
    class Published:
        def __init__(self):
            self.results = []

        def publish(self, key, body, **kwargs):
            self.results.append((body["attempt"], body["status"]))

    published = Published()
    job = new_job(OMICS, {**expression_input, "key": "inputs/not-yet-there.csv"})
    jobs = JobRunner(runner.services, published)
    assert jobs.handle(json.dumps(job).encode()) is Decision.REJECT  # attempt 1: its input is missing
    assert jobs.handle(json.dumps(job).encode()) is Decision.ACK  # redelivered: the stored FAILED, again
    # The CDSS's deadline passed and it asked again (attempt 2), now that the input exists.
    assert jobs.handle(json.dumps({**job, "attempt": 2, "input": expression_input}).encode()) is Decision.ACK
    assert published.results == [(1, "FAILED"), (1, "FAILED"), (2, "COMPLETED")]
    stored = json.loads(runner.services.store.get(settings.artifacts_bucket, result_key(job["job_id"])))
    assert (stored["attempt"], stored["status"]) == (2, "COMPLETED")


def test_a_publisher_whose_connection_went_stale_reconnects_once(channel, settings):
    """Between jobs the publisher's connection sits idle; the broker may have dropped it by the next result."""
    import pika

    from ai_server.messaging import PROGRESS_KEY, Publisher

    publisher = Publisher(settings.rabbitmq_url)
    try:
        publisher.publish(PROGRESS_KEY, {"job_id": "first"}, job_id="first")

        def dropped(*args, **kwargs):
            raise pika.exceptions.StreamLostError("Stream connection lost: ConnectionResetError(104)")

        publisher._channel.basic_publish = dropped
        publisher.publish(PROGRESS_KEY, {"job_id": "second"}, job_id="second")
    finally:
        publisher.close()
    assert [body["job_id"] for body in drain(channel, "ai_progress", count=2)] == ["first", "second"]
