"""Create the demo accounts of a local run. Idempotent: an existing account gets its password reset.

admin and ops must pass a second factor: each gets a TOTP authenticator (kept across runs), whose secret
is written to var/run/demo-otp.env (DEMO_OTP_SECRET_ADMIN, DEMO_OTP_SECRET_OPS; base32, for an
authenticator app or `oathtool --totp -b`) and printed, so the demo and the e2e tests can sign in."""

import os
from base64 import b32encode
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django_otp.plugins.otp_totp.models import TOTPDevice

from acct.roles import Role
from acct.selectors import otp_needed
from acct.services import user_set_roles
from cdss.settings.base import required

DEMO_USERS = (
    # username, first name, last name, roles, superuser
    ("admin", "Admin", "", {Role.ADMIN}, True),
    ("doctor", "지훈", "김", {Role.DOCTOR}, False),
    ("radiologist", "서연", "이", {Role.RIB, Role.RADIOLOGIST}, False),  # signs off AI results
    ("radiographer", "민준", "박", {Role.RIB}, False),  # uploads and reconciles; no sign-off
    ("nurse", "Emily", "Park", {Role.NURSE}, False),
    ("ops", "Ops", "", {Role.OPS}, False),
)
OTP_FILE = settings.REPO_ROOT / "var" / "run" / "demo-otp.env"


class Command(BaseCommand):
    help = "Create or refresh the demo accounts; every password is DEMO_PASSWORD from the environment."

    def add_arguments(self, parser):
        parser.add_argument("--otp-file", type=Path, default=OTP_FILE, help="where the TOTP secrets are written")

    def handle(self, *args, otp_file: Path, **options):
        password = required("DEMO_PASSWORD")
        if len(password) < 12:
            raise CommandError("DEMO_PASSWORD must be at least 12 characters long.")
        users = get_user_model()
        secrets = {}
        for username, first_name, last_name, roles, superuser in DEMO_USERS:
            user, created = users.objects.get_or_create(username=username)
            user.first_name, user.last_name, user.is_superuser = first_name, last_name, superuser
            user.set_password(password)
            user.save()
            user_set_roles(actor=None, user=user, roles=roles)
            self.stdout.write(f"{'created' if created else 'updated'} {username} ({', '.join(sorted(roles))})")
            if otp_needed(user):
                device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
                device = device or TOTPDevice.objects.create(user=user, name="demo authenticator", confirmed=True)
                secrets[f"DEMO_OTP_SECRET_{username.upper()}"] = b32encode(device.bin_key).decode()
        otp_file.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(otp_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as out:
            out.write("# TOTP secrets of the demo accounts that need a second factor (seed_demo). Local demo only.\n")
            out.writelines(f"{name}={secret}\n" for name, secret in secrets.items())
        for name, secret in secrets.items():
            self.stdout.write(f"second factor {name}: {secret}  (TOTP, 6 digits, 30 s; also in {otp_file})")
