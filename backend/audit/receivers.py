"""Security events that Django and django-axes signal, and external calls that core.http signals."""

from axes.signals import user_locked_out
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver

from core.http import external_call

from .client import AuditClient
from .models import Action, Outcome


@receiver(user_logged_in)
def login_succeeded(sender, request, user, **kwargs):
    AuditClient.log_event(Action.LOGIN, actor=user, resource_type="session", status_code=200)


@receiver(user_logged_out)
def logged_out(sender, request, user, **kwargs):
    AuditClient.log_event(Action.LOGOUT, actor=user, resource_type="session", status_code=200)


@receiver(user_login_failed)
def login_failed(sender, credentials, request=None, **kwargs):
    AuditClient.log_event(
        Action.LOGIN_FAILED,
        username=str(credentials.get("username", "")),
        resource_type="session",
        outcome=Outcome.FAILURE,
        status_code=401,
        detail={"reason": "bad credentials"},
    )


@receiver(user_locked_out)
def locked_out(sender, request, username, ip_address, **kwargs):
    AuditClient.log_event(
        Action.LOGIN_FAILED,
        username=username or "",
        resource_type="session",
        outcome=Outcome.DENIED,
        status_code=429,
        detail={"reason": "locked out after repeated failures"},
    )


@receiver(external_call)
def external_call_made(sender, system, method, url, status_code, outcome, elapsed_ms, error="", **kwargs):
    AuditClient.log_event(
        Action.EXTERNAL_CALL,
        system=system,
        endpoint=f"{method} {url}",
        resource_type=kwargs.get("resource_type", ""),
        resource_id=kwargs.get("resource_id", ""),
        patient_id=kwargs.get("patient_id", ""),
        outcome=Outcome.SUCCESS if outcome == "success" else Outcome.FAILURE,
        status_code=status_code,
        detail={"elapsed_ms": elapsed_ms, **({"error": error} if error else {})},
    )
