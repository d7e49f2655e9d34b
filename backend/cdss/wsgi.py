"""WSGI entry point for gunicorn (REST API and admin)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cdss.settings.production")

application = get_wsgi_application()
