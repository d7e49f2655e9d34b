from django.apps import AppConfig


class RoutingConfig(AppConfig):
    name = "routing"
    verbose_name = "Routing rules (analyses started when studies arrive)"

    def ready(self):
        from . import receivers  # noqa: F401 - listens to radiology's study_changed
