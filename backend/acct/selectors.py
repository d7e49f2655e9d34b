"""Reads about accounts: whether a person must pass a second factor, and whether they have one."""

from django.conf import settings
from django_otp.plugins.otp_totp.models import TOTPDevice

from .models import User


def otp_enrolled(user: User) -> bool:
    return TOTPDevice.objects.filter(user=user, confirmed=True).exists()


def otp_needed(user: User) -> bool:
    """ADMIN, OPS and superusers always; anyone else once they enrolled. Service accounts never sign in
    with a password, so never here."""
    if user.is_service_account:
        return False
    return user.is_superuser or user.has_role(*settings.OTP_REQUIRED_ROLES) or otp_enrolled(user)


def session_verified(request, user: User) -> bool:
    """Whether this browser session passed the second factor (django-otp's OTPMiddleware)."""
    is_verified = getattr(request.user, "is_verified", None)
    return bool(is_verified and request.user.pk == user.pk and is_verified())
