from django.apps import AppConfig


class AcctConfig(AppConfig):
    name = "acct"
    verbose_name = "Accounts"

    def ready(self):
        from . import receivers  # noqa: F401 - connects the audit of account changes
