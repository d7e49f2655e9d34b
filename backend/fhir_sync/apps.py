from django.apps import AppConfig


class FhirSyncConfig(AppConfig):
    name = "fhir_sync"
    verbose_name = "FHIR sync"

    def ready(self) -> None:
        from . import metrics, receivers  # noqa: F401 (connects the outbox receiver)

        metrics.register_collectors()
