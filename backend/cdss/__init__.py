"""The CDSS Django project: settings, URL map, ASGI/WSGI entry points and the Celery app."""

import pymysql

# PyMySQL (MIT) serves Django's MySQL backend in place of mysqlclient (GPL-2.0): no copyleft package in a
# running service (docs/adr/0007-pure-python-mariadb-driver.md). Before anything opens a connection.
pymysql.install_as_MySQLdb()

from .celery import app as celery_app  # noqa: E402

__all__ = ("celery_app",)
