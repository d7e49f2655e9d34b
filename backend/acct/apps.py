from django.apps import AppConfig


class AcctConfig(AppConfig):
    name = "acct"
    verbose_name = "Accounts"
