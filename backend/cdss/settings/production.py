"""Production: base plus the security settings a hospital deployment needs behind nginx."""

from .base import *  # noqa: F403
from .base import env

# nginx terminates TLS and sets X-Forwarded-Proto; trust it only because nginx is the sole way in.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
USE_X_FORWARDED_HOST = False

# A local run over plain HTTP sets DJANGO_SECURE_COOKIES=false; every TLS deployment keeps the default.
_secure = env.bool("DJANGO_SECURE_COOKIES", default=True)
SESSION_COOKIE_SECURE = _secure
CSRF_COOKIE_SECURE = _secure
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SECURE_HSTS_SECONDS = env.int("DJANGO_HSTS_SECONDS", default=31536000 if _secure else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = _secure
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
