from django.apps import AppConfig


class HealixConfig(AppConfig):
    name = "healix"
    verbose_name = "Tenancy"
