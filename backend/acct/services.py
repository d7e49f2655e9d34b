"""Writes about accounts: roles, service accounts, API tokens. Each one audited."""

from datetime import timedelta

from django.contrib.auth.models import Group
from django.db import transaction
from knox.models import AuthToken
from knox.settings import knox_settings

from audit.client import AuditClient
from audit.models import Action

from .models import User
from .roles import Role


def token_issue(*, actor: User, user: User, ttl: timedelta | None = None) -> tuple[AuthToken, str]:
    """A new API token for `user`, valid for `ttl` (default KNOX TOKEN_TTL). Returns the row and the
    token text, which exists only here: the database keeps a hash."""
    instance, token = AuthToken.objects.create(user=user, expiry=ttl or knox_settings.TOKEN_TTL)
    AuditClient.log_event(
        Action.CREATE,
        actor=actor,
        resource_type="auth_token",
        resource_id=instance.token_key,
        detail={"for_user": user.get_username(), "expiry": instance.expiry.isoformat() if instance.expiry else None},
    )
    return instance, token


def token_revoke(*, actor: User, token: AuthToken) -> None:
    key = token.token_key
    token.delete()
    AuditClient.log_event(Action.DELETE, actor=actor, resource_type="auth_token", resource_id=key)


@transaction.atomic
def user_set_roles(*, actor: User | None, user: User, roles: set[str]) -> None:
    """Make `roles` exactly the user's roles. ADMIN implies access to Django admin (is_staff)."""
    unknown = set(roles) - set(Role.values)
    if unknown:
        raise ValueError(f"unknown roles: {', '.join(sorted(unknown))}")
    before = set(user.roles)
    role_groups = Group.objects.filter(name__in=Role.values)
    user.groups.remove(*role_groups.exclude(name__in=roles))
    user.groups.add(*role_groups.filter(name__in=roles))
    user.__dict__.pop("roles", None)  # drop the cached set
    sync_staff_flag(user)
    AuditClient.log_event(
        Action.UPDATE,
        actor=actor,
        resource_type="user_roles",
        resource_id=user.pk,
        detail={"username": user.get_username(), "before": sorted(before), "after": sorted(roles)},
    )


def sync_staff_flag(user: User) -> None:
    """Django admin is for ADMIN (and superusers); no other role gets in."""
    user.__dict__.pop("roles", None)
    is_staff = user.is_superuser or Role.ADMIN in user.roles
    if user.is_staff != is_staff:
        user.is_staff = is_staff
        user.save(update_fields=["is_staff"])


@transaction.atomic
def service_account_create(*, actor: User | None, username: str) -> User:
    """A machine caller: no usable password, role SERVICE only; authenticates with tokens."""
    user, created = User.objects.get_or_create(username=username, defaults={"is_service_account": True})
    if not created and not user.is_service_account:
        raise ValueError(f"{username} is a person's account, not a service account")
    user.set_unusable_password()
    user.save()
    user_set_roles(actor=actor, user=user, roles={Role.SERVICE})
    return user
