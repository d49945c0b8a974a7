from django.apps import AppConfig


class RefiappConfig(AppConfig):
    name = "refiapp"
    verbose_name = "refiapp"
