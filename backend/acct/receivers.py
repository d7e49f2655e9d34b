"""Every change of an account's flags or password is audited with the before and after, whoever makes
it (Django admin, a service, a management command): read from the row before the save, compared after."""

from django.db.models.signals import post_save, pre_save
from django.dispatch import receiver

from audit.client import AuditClient
from audit.models import Action

from .models import User
from .services import audit_user_change, user_security_state, user_state_with_password


@receiver(pre_save, sender=User)
def remember_state(sender, instance: User, raw=False, **kwargs):
    if raw or instance.pk is None:
        return
    stored = User.objects.filter(pk=instance.pk).first()
    instance._state_before = user_state_with_password(stored) if stored else None


@receiver(post_save, sender=User)
def audit_state(sender, instance: User, created: bool, raw=False, **kwargs):
    if raw:
        return
    if created:
        AuditClient.log_event(
            Action.CREATE,
            resource_type="user",
            resource_id=instance.pk,
            detail={"username": instance.get_username(), "after": user_security_state(instance)},
        )
        return
    before = instance.__dict__.pop("_state_before", None)
    if before is not None:
        audit_user_change(
            actor=None, user=instance, before=before, after=user_state_with_password(instance), via="save"
        )
