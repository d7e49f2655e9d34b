"""One AI job, from the ai.job.create message to a stored and published result (docs/ai.md).

The runner decides what happens to the message (ack, dead-letter, requeue); the consumer (consumer.py)
only carries that out. A result is written to the object store (jobs/<job id>/result.json) before it is
published, and the message is acknowledged only after the broker confirmed the result: a job whose
result exists is never computed again, only re-announced.
"""

from __future__ import annotations

import contextlib
import enum
import json
import logging
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from . import metrics
from .config import Settings
from .device import Device, select_device
from .messaging import DELIVERY_LIMIT, PROGRESS_KEY, RESULT_KEY, Publisher
from .orthanc import DependencyDown, OrthancClient
from .pipelines import pipeline_for
from .pipelines.base import Artifact, ArtifactFile, InvalidJob, JobFailed
from .registry import Registry
from .storage import BucketMissing, ObjectStore

logger = logging.getLogger(__name__)

PROGRESS_STAGES = ("fetching", "preprocessing", "inference", "writing")


class Decision(enum.Enum):
    ACK = "ack"  # done (result published)
    REJECT = "reject"  # to the dead-letter queue, not redelivered
    REQUEUE = "requeue"  # try again later (a dependency is away)


class DeadlineExceeded(JobFailed):
    pass


@dataclass
class Services:
    """What a job needs, built once per process."""

    settings: Settings
    device: Device
    store: ObjectStore
    orthanc: OrthancClient
    registry: Registry

    @classmethod
    def build(cls, settings: Settings) -> Services:
        device = select_device(
            settings.device,
            gpu_memory_limit=settings.gpu_memory_limit,
            threads=settings.torch_threads,
            fp16=settings.fp16,
        )
        store = ObjectStore(settings)
        store.ensure_bucket(settings.artifacts_bucket)
        registry = Registry(store, settings.models_bucket, settings.model_cache_dir, device.torch_device)
        registry.load()
        return cls(settings, device, store, OrthancClient(settings), registry)


def result_key(job_id: str) -> str:
    return f"jobs/{job_id}/result.json"


def _now() -> datetime:
    return datetime.now(UTC)


def _parse_time(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(str(value))
    except ValueError:
        raise InvalidJob(f"{value!r} is not an ISO 8601 time") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@dataclass
class JobContext:
    """The pipeline's view of the world for one job (pipelines/base.py JobContext)."""

    job_id: str
    model_name: str
    services: Services
    deadline: datetime | None
    publish_progress: Any  # callable(stage, fraction) or None
    timings: dict[str, float] = field(default_factory=dict)
    artifacts: list[Artifact] = field(default_factory=list)

    @property
    def device(self):
        return self.services.device.torch_device

    def autocast(self):
        return self.services.device.autocast()

    @property
    def orthanc(self) -> OrthancClient:
        return self.services.orthanc

    def check_deadline(self, where: str) -> None:
        if self.deadline and _now() > self.deadline:
            raise DeadlineExceeded(f"deadline {self.deadline.isoformat()} passed during {where}")

    @contextlib.contextmanager
    def stage(self, name: str) -> Iterator[None]:
        self.check_deadline(name)
        started = time.perf_counter()
        try:
            yield
        finally:
            elapsed = time.perf_counter() - started
            self.timings[name] = self.timings.get(name, 0.0) + elapsed
            metrics.STAGE_DURATION.labels(model=self.model_name, stage=name).observe(elapsed)
        self.check_deadline(name)

    def progress(self, stage: str, fraction: float) -> None:
        if stage not in PROGRESS_STAGES:
            raise ValueError(f"unknown progress stage {stage!r}")
        if self.publish_progress is not None:
            self.publish_progress(stage, round(min(max(fraction, 0.0), 1.0), 3))

    def put_artifacts(self, files: list[ArtifactFile]) -> list[Artifact]:
        stored = [file.artifact(self.job_id) for file in files]
        for artifact, file in zip(stored, files, strict=True):
            self.services.store.put(self.services.settings.artifacts_bucket, artifact.key, file.data, file.content_type)
        self.artifacts.extend(stored)
        return stored

    def get_object(self, bucket: str, key: str) -> bytes:
        try:
            data = self.services.store.get(bucket, key)
        except BucketMissing:  # the job names a bucket that is not there: the request is wrong
            data = None
        if data is None:
            raise InvalidJob(f"input {bucket}/{key} does not exist")
        return data


def _retries_a_failure(job: dict[str, Any], previous: dict[str, Any]) -> bool:
    attempt, previous_attempt = job.get("attempt", 1), previous.get("attempt", 1)
    later = isinstance(attempt, int) and isinstance(previous_attempt, int) and attempt > previous_attempt
    return previous.get("status") == "FAILED" and later


class JobRunner:
    def __init__(self, services: Services, publisher: Publisher | None = None):
        self.services = services
        self.publisher = publisher or Publisher(services.settings.rabbitmq_url)

    # --- the consumer's entry point ------------------------------------------------------------------
    def handle(self, body: bytes, *, delivery_count: int = 0, request_id: str = "") -> Decision:
        """`delivery_count`: earlier deliveries of this message (the quorum queue's x-delivery-count)."""
        try:
            job = json.loads(body)
            if not isinstance(job, dict) or not isinstance(job.get("job_id"), str) or not job["job_id"]:
                raise ValueError("no job_id")
        except (ValueError, UnicodeDecodeError) as exc:
            logger.error("dead-lettering an unreadable job message (%s): %.200r", exc, body)
            metrics.JOBS.labels(model="unknown", outcome="unreadable").inc()
            return Decision.REJECT
        job_id = job["job_id"]
        # which host took which delivery: the trail of a job redelivered after its host was lost
        logger.info("job %s: delivery %d taken on %s", job_id, delivery_count + 1, socket.gethostname())

        try:
            stored = self.services.store.get(self.services.settings.artifacts_bucket, result_key(job_id))
        except BucketMissing as exc:  # no result could be kept: computing would only fail later
            return self._end(job, self._failed(job, str(exc)), Decision.ACK, request_id)
        if stored is not None:
            previous = json.loads(stored)
            if not _retries_a_failure(job, previous):  # a redelivery of a job that finished: announce it again
                logger.info("job %s already has a result: re-publishing it", job_id)
                return self._publish(previous, request_id) or Decision.ACK
            # The CDSS asked again (a later attempt) after this one failed: it ignores a FAILED result of an
            # earlier attempt, so only computing again can end the job otherwise than by its deadlines.
            logger.info(
                "job %s: attempt %s after a FAILED attempt %s: computing again",
                job_id,
                job.get("attempt"),
                previous.get("attempt"),
            )

        last_delivery = delivery_count >= DELIVERY_LIMIT - 1
        try:
            result, decision = self.compute(job, request_id=request_id), Decision.ACK
        except InvalidJob as exc:
            result, decision = self._failed(job, str(exc)), Decision.REJECT
        except (JobFailed, BucketMissing) as exc:
            result, decision = self._failed(job, str(exc)), Decision.ACK
        except Exception as exc:  # a dependency away, or a fault of ours: try again, but not forever
            reason = f"{exc.__class__.__name__}: {exc}"
            if not last_delivery:
                logger.warning("job %s: %s; requeued (delivery %d)", job_id, reason, delivery_count + 1)
                if not isinstance(exc, DependencyDown):
                    logger.exception("job %s failed unexpectedly", job_id)
                metrics.JOBS.labels(model=str(job.get("model")), outcome="requeued").inc()
                time.sleep(self.services.settings.retry_delay_seconds)
                return Decision.REQUEUE
            logger.exception("job %s failed on its last delivery", job_id)
            result, decision = (
                self._failed(job, f"gave up after {delivery_count + 1} attempts: {reason}"),
                Decision.REJECT,
            )

        return self._end(job, result, decision, request_id)

    def _end(self, job: dict[str, Any], result: dict, decision: Decision, request_id: str) -> Decision:
        """Store the result, then publish it; the decision, or REQUEUE when either could not be done."""
        try:
            self.services.store.put(
                self.services.settings.artifacts_bucket,
                result_key(job["job_id"]),
                json.dumps(result, default=str).encode(),
                "application/json",
            )
        except BucketMissing as exc:
            # No retry brings the bucket back: the job ends now, FAILED, its result published unstored (a
            # redelivery would find no result, compute again and end the same way).
            logger.error("job %s: result not stored: %s", job["job_id"], exc)
            if result["status"] != "FAILED":
                result = self._failed(job, str(exc))
        except Exception:
            logger.exception("job %s: result not stored; requeued", job["job_id"])
            return Decision.REQUEUE
        else:  # the e2e scale-out test reads which host stored each result
            logger.info("job %s: %s result stored", job["job_id"], result["status"])
        metrics.JOBS.labels(model=str(job.get("model")), outcome=result["status"].lower()).inc()
        return self._publish(result, request_id) or decision

    def _publish(self, result: dict, request_id: str) -> Decision | None:
        """None when published; REQUEUE when the broker did not confirm (the stored result goes out on
        the next delivery)."""
        try:
            self.publisher.publish(RESULT_KEY, result, job_id=result["job_id"], request_id=request_id)
        except Exception as exc:
            logger.warning("job %s: result not confirmed by the broker (%s); requeued", result["job_id"], exc)
            return Decision.REQUEUE
        return None

    # --- computing -----------------------------------------------------------------------------------
    def compute(self, job: dict[str, Any], *, request_id: str = "", progress: bool = True) -> dict[str, Any]:
        """Run the job's pipeline; the COMPLETED result. Raises JobFailed/InvalidJob for bad input."""
        taken = _now()
        job_id = job["job_id"]
        if not isinstance(job.get("model"), str) or not job["model"]:
            raise InvalidJob("the job names no model")
        if not isinstance(job.get("input"), dict):
            raise InvalidJob("the job has no input")
        model = self.services.registry.get(job["model"], job.get("model_version"))
        requested = _parse_time(job.get("requested_at"))
        ctx = JobContext(
            job_id=job_id,
            model_name=model.name,
            services=self.services,
            deadline=_parse_time(job.get("deadline")),
            publish_progress=self._progress_publisher(job_id, request_id) if progress else None,
        )
        if requested:
            ctx.timings["queue_wait"] = max((taken - requested).total_seconds(), 0.0)
            metrics.QUEUE_WAIT.observe(ctx.timings["queue_wait"])
        ctx.check_deadline("the queue (the job waited too long to start)")
        started = time.perf_counter()
        outcome = pipeline_for(model.task).run(job, model, ctx)
        ctx.timings["total"] = time.perf_counter() - started
        metrics.JOB_DURATION.labels(model=model.name).observe(ctx.timings["total"])
        disclaimers = model.disclaimers or {"en": outcome.disclaimer}
        return {
            **self._header(job),
            "status": "COMPLETED",
            "reason": None,
            "model": {"name": model.name, "version": model.version, "sha256": model.sha256},
            "task": model.task,
            "device": self.services.device.kind,
            "metrics": outcome.metrics,
            "summary": outcome.summary,
            "artifacts": [
                {
                    "name": a.name,
                    "bucket": self.services.settings.artifacts_bucket,
                    "key": a.key,
                    "content_type": a.content_type,
                    "size": a.size,
                }
                for a in ctx.artifacts
            ],
            "orthanc": outcome.orthanc,
            "timings": {name: round(seconds, 4) for name, seconds in ctx.timings.items()},
            # The model card's words in every language it gives (the backend answers in the user's)
            "disclaimer": disclaimers.get("en", outcome.disclaimer),
            "disclaimers": disclaimers,
            "finished_at": _now().isoformat(),
        }

    def _failed(self, job: dict[str, Any], reason: str) -> dict[str, Any]:
        logger.warning("job %s FAILED: %s", job.get("job_id"), reason)
        return {**self._header(job), "status": "FAILED", "reason": reason, "finished_at": _now().isoformat()}

    @staticmethod
    def _header(job: dict[str, Any]) -> dict[str, Any]:
        return {"job_id": job["job_id"], "attempt": job.get("attempt", 1), "model_requested": job.get("model")}

    def _progress_publisher(self, job_id: str, request_id: str):
        def publish(stage: str, fraction: float) -> None:
            body = {"job_id": job_id, "stage": stage, "fraction": fraction, "at": _now().isoformat()}
            try:
                # Progress is a courtesy: not waiting for the broker's confirmation saves 0.5-2 ms per report
                # inside the timed stages, and a lost one must not fail the job.
                self.publisher.publish(PROGRESS_KEY, body, job_id=job_id, request_id=request_id, confirmed=False)
            except Exception as exc:
                logger.warning("job %s: progress not published: %s", job_id, exc)

        return publish
