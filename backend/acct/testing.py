"""Test helpers for signing in with a second factor (used by the tests of every app with admin pages)."""

from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice


def totp_device(user) -> TOTPDevice:
    device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
    return device or TOTPDevice.objects.create(user=user, name="test authenticator", confirmed=True)


def code_for(device: TOTPDevice, step_offset: int = 0) -> str:
    """The code an authenticator app shows now, or `step_offset` 30-second steps later (moving t0 back
    by n steps moves the clock forward by n)."""
    value = totp(device.bin_key, device.step, device.t0 - step_offset * device.step, device.digits, device.drift)
    return f"{value:0{device.digits}d}"


def verified_login(client, user) -> None:
    """force_login plus a session that passed the second factor, as the sign-in API leaves it."""
    device = totp_device(user)
    client.force_login(user)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
