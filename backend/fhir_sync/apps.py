from django.apps import AppConfig


class FhirSyncConfig(AppConfig):
    name = "fhir_sync"
    verbose_name = "FHIR sync"

    def ready(self) -> None:
        from . import metrics

        metrics.register_collectors()
