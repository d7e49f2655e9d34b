from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "core"
    verbose_name = "Platform"

    def ready(self):
        from . import jobs  # noqa: F401  (connects the Celery signals that carry the request id)
