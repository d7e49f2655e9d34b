"""Radiology recorded or linked a study: queue the rules for it (radiology cannot import this app)."""

from django.dispatch import receiver

from core.messaging.names import ROUTING_APPLY_TASK
from core.outbox import enqueue_task
from radiology.models import Study
from radiology.signals import study_changed

from .models import RoutingRule


@receiver(study_changed, dispatch_uid="routing.queue_rules")
def queue_rules(sender, study: Study, **kwargs) -> None:
    """In the recording transaction, through the outbox: the task runs only if the change commits. Not for a
    study without its patient (RECONCILE, CONFLICT; linking sends the signal again), nor when no rule is on."""
    if study.status == Study.Status.LINKED and RoutingRule.objects.filter(enabled=True).exists():
        enqueue_task(ROUTING_APPLY_TASK, study.pk)
