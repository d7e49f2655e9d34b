"""Beat tasks of the audit trail (CELERY_BEAT_SCHEDULE "audit-seal", "audit-checkpoint", "audit-verify")."""

import logging

from celery import shared_task

from core.messaging import names

from . import chain, checkpoints, metrics

log = logging.getLogger(__name__)


@shared_task(name=names.AUDIT_SEAL_TASK, ignore_result=True)
def seal() -> int | None:
    """Link the events written since the last run into the chain (skipped while another sealer runs)."""
    sealed = chain.seal()
    if sealed is not None:
        metrics.sealed(*chain.unsealed_backlog())
    return sealed


@shared_task(name=names.AUDIT_CHECKPOINT_TASK, ignore_result=True)
def checkpoint() -> int | None:
    """Sign the chain's head into the write-once store; returns the position written, if any."""
    try:
        written = checkpoints.write()
    except checkpoints.CheckpointError as exc:
        metrics.CHECKPOINT_FAILURES.inc()
        log.error("audit checkpoint not written: %s", exc)
        return None
    metrics.CHECKPOINTED_AT.set_to_current_time()
    return written.position if written else None


@shared_task(name=names.AUDIT_VERIFY_TASK, ignore_result=True)
def verify() -> str:
    """Verify the chain against the archive manifests and the checkpoints above them (not the whole
    store: that is verify_audit_chain --archives); the outcome goes to the metrics and the log."""
    report = checkpoints.verify()
    if report.reason:
        log.critical("audit chain broken: %s (%d seals verified before it)", report.reason, report.checked)
    elif report.error:
        log.error("audit chain not verified against checkpoints: %s", report.error)
    else:
        log.info("audit chain intact: %d seals, %d checkpoints matched", report.checked, report.checkpoints)
    for lost in report.restores:
        log.warning("audit chain: %s", lost)
    return report.outcome
