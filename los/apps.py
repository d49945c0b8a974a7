from django.apps import AppConfig


class LosConfig(AppConfig):
    name = "los"
    verbose_name = "LOS connections"
