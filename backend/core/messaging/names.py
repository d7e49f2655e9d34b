"""Every name a message carries from one process to another, in one place: the exchanges, the topic
routing keys and their queues, Celery's queues and routes, and the Celery task names that one process
queues for another (through the outbox or a beat schedule).

Plain values only, importing nothing of the project, so the settings, core and every app may use them.
The ai-server, a separate codebase, repeats the AI names in ai_server/messaging.py; docs/ai.md is the
contract both follow. The broker accounts' permissions name them too (deploy/rabbitmq/accounts.sh).
"""

import os
from dataclasses import dataclass

EXCHANGE = "cdss.topic"
DEAD_LETTER_EXCHANGE = "cdss.dlx"

# --- routing keys on cdss.topic, and the queue bound to each ---------------------------------------------
AI_JOB_CREATE = "ai.job.create"  # Django -> ai-server
AI_JOB_RESULT = "ai.job.result"  # ai-server -> Django (manage.py consume_ai_events)
AI_JOB_PROGRESS = "ai.job.progress"  # ai-server -> Django
FHIR_SYNC_DEAD = "fhir.sync"  # a FHIR sync given up: a notice on cdss.dlx, kept in fhir_sync.dlq


@dataclass(frozen=True)
class WorkQueue:
    name: str
    routing_key: str

    @property
    def dead_letter_queue(self) -> str:
        return f"{self.name}.dlq"


AI_JOBS = WorkQueue("ai_jobs", AI_JOB_CREATE)
AI_RESULTS = WorkQueue("ai_results", AI_JOB_RESULT)
AI_PROGRESS = WorkQueue("ai_progress", AI_JOB_PROGRESS)
FHIR_SYNC = WorkQueue("fhir_sync", FHIR_SYNC_DEAD)
WORK_QUEUES = (AI_JOBS, AI_RESULTS, AI_PROGRESS, FHIR_SYNC)

# --- Celery ---------------------------------------------------------------------------------------------
# Test runs of several sessions share the test vhost; each (CDSS_TEST_DB_SUFFIX, see settings/test.py)
# gets its own FHIR queue, so one session's workers never take another's sync tasks. Always "fhir" in use.
_TEST_NAMESPACE = (
    os.environ.get("CDSS_TEST_DB_SUFFIX", "") if "settings.test" in os.environ.get("DJANGO_SETTINGS_MODULE", "") else ""
)
DEFAULT_QUEUE = "default"
FHIR_QUEUE = f"fhir.{_TEST_NAMESPACE}" if _TEST_NAMESPACE else "fhir"
AI_QUEUE = "ai"
# One durable queue per workload, so a backlog of FHIR writes never delays the rest.
CELERY_QUEUES = (DEFAULT_QUEUE, FHIR_QUEUE, AI_QUEUE)
CELERY_QUEUE_DELIVERY_LIMIT = 10
CELERY_QUEUE_ARGUMENTS = {"x-queue-type": "quorum", "x-delivery-limit": CELERY_QUEUE_DELIVERY_LIMIT}

# Task names: each is the `name=` of its @shared_task, queued by another process.
FHIR_SYNC_TASK = "fhir_sync.sync_entity"  # outbox, from every app that changes a synced entity
FHIR_SYNC_MANY_TASK = "fhir_sync.sync_entities"  # outbox, a bulk sync: one Bundle's worth of entities
FHIR_RECONCILE_TASK = "fhir_sync.reconcile"  # beat
AI_POLL_TASK = "ai.poll_jobs"  # beat
AUDIT_SEAL_TASK = "audit.seal"  # beat
AUDIT_CHECKPOINT_TASK = "audit.checkpoint"  # beat
AUDIT_VERIFY_TASK = "audit.verify"  # beat
RELAY_OUTBOX_TASK = "core.relay_outbox"  # beat
PRUNE_OUTBOX_TASK = "core.prune_outbox"  # beat
PING_TASK = "core.ping"  # a probe that a worker consumes (tests)
EMR_REFRESH_TASK = "emr.refresh_patient_cache"  # beat
RADIOLOGY_CHANGES_TASK = "radiology.import_changes"  # beat
ROUTING_APPLY_TASK = "routing.apply_rules"  # outbox, when radiology records or links a study

# Celery routes by task-name prefix (the first match wins); each prefix names tasks listed above.
CELERY_ROUTES = (("fhir_sync.*", FHIR_QUEUE), ("ai.*", AI_QUEUE), ("*", DEFAULT_QUEUE))
