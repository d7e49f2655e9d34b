"""Writes about accounts: roles, service accounts, API tokens. Each one audited."""

from datetime import timedelta

from django.contrib.auth.models import Group
from django.db import transaction
from django_otp import devices_for_user
from django_otp.models import Device
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice
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


# --- what changed on an account -----------------------------------------------------------------------
SECURITY_FLAGS = ("is_active", "is_staff", "is_superuser", "is_service_account")


def user_security_state(user: User) -> dict:
    """The parts of an account that grant or remove access, audited before and after a change. The
    password is never written into the trail: only whether it changed (a different hash)."""
    return {flag: getattr(user, flag) for flag in SECURITY_FLAGS}


def user_state_with_password(user: User) -> dict:
    return {**user_security_state(user), "password": user.password}


def audit_user_change(*, actor: User | None, user: User, before: dict, after: dict, via: str) -> None:
    """One UPDATE event when anything that grants access changed, with the before and after. A password
    shows as "changed" and whether the new one is usable; its hash never enters the trail."""
    changed = sorted(name for name in after if before.get(name) != after.get(name))
    if not changed:
        return
    if "password" in changed:
        before = {**before, "password": "previous"}
        after = {**after, "password": "new" if user.has_usable_password() else "unusable"}
    AuditClient.log_event(
        Action.UPDATE,
        actor=actor,
        resource_type="user",
        resource_id=user.pk,
        detail={
            "via": via,
            "username": user.get_username(),
            "changed": changed,
            "before": {name: before.get(name) for name in changed},
            "after": {name: after.get(name) for name in changed},
        },
    )


def group_names(user: User) -> list[str]:
    return sorted(user.groups.values_list("name", flat=True))


# --- two-factor sign-in (TOTP with one-time recovery codes; django-otp's devices) ------------------------
RECOVERY_CODE_COUNT = 10


def otp_code_verify(*, user: User, code: str) -> Device | None:
    """The device that accepts `code` (a TOTP code, or one recovery code, used up): None if none does.
    Each device throttles its own failures (django-otp: 1, 2, 4 ... seconds before the next try)."""
    code = "".join(str(code).split()).lower()
    if not code or len(code) > 16:
        return None
    # digits are a TOTP code, anything else a recovery code: only that kind of device counts the failure
    kind = TOTPDevice if code.isdigit() else StaticDevice
    with transaction.atomic():
        for device in devices_for_user(user, confirmed=True, for_verify=True):
            if isinstance(device, kind) and device.verify_token(code):
                if isinstance(device, StaticDevice):
                    AuditClient.log_event(
                        Action.UPDATE,
                        actor=user,
                        resource_type="otp_recovery_code",
                        resource_id=user.pk,
                        detail={"used": True, "left": device.token_set.count()},
                    )
                return device
    return None


@transaction.atomic
def otp_enrol_start(*, user: User) -> TOTPDevice:
    """A new, unconfirmed TOTP device (any earlier unconfirmed one is dropped): its secret is shown once,
    and it counts only after otp_enrol_confirm."""
    TOTPDevice.objects.filter(user=user, confirmed=False).delete()
    return TOTPDevice.objects.create(user=user, name="authenticator", confirmed=False)


@transaction.atomic
def otp_enrol_confirm(*, user: User, code: str) -> tuple[TOTPDevice, list[str]] | None:
    """Confirm the pending device with a code from the authenticator; it replaces any earlier device, and
    a fresh set of recovery codes replaces the old. Returns (device, recovery codes) or None."""
    device = TOTPDevice.objects.select_for_update().filter(user=user, confirmed=False).first()
    if device is None or not device.verify_token("".join(str(code).split())):
        return None
    TOTPDevice.objects.filter(user=user, confirmed=True).delete()
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    codes = _recovery_codes_replace(user)
    AuditClient.log_event(
        Action.CREATE,
        actor=user,
        resource_type="otp_device",
        resource_id=device.pk,
        detail={"username": user.get_username(), "recovery_codes": len(codes)},
    )
    return device, codes


def _recovery_codes_replace(user: User) -> list[str]:
    StaticDevice.objects.filter(user=user).delete()
    device = StaticDevice.objects.create(user=user, name="recovery codes", confirmed=True)
    codes = [StaticToken.random_token() for _ in range(RECOVERY_CODE_COUNT)]
    StaticToken.objects.bulk_create(StaticToken(device=device, token=code) for code in codes)
    return codes


@transaction.atomic
def otp_reset(*, actor: User, user: User) -> None:
    """Remove a person's second factor (a lost phone): they enrol again at their next sign-in."""
    removed = TOTPDevice.objects.filter(user=user).delete()[0] + StaticDevice.objects.filter(user=user).delete()[0]
    AuditClient.log_event(
        Action.DELETE,
        actor=actor,
        resource_type="otp_device",
        resource_id=user.pk,
        detail={"username": user.get_username(), "devices_removed": removed},
    )
