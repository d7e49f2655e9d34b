from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "core"
    verbose_name = "Platform"

    def ready(self):
        from django.db.models.signals import post_migrate

        from . import jobs  # noqa: F401  (connects the Celery signals that carry the request id)
        from .dbaccess import grants_after_migrate

        post_migrate.connect(grants_after_migrate, sender=self)  # once per migrate, after every app's tables
