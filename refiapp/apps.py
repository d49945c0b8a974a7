from django.apps import AppConfig


class RefiappConfig(AppConfig):
    name = "refiapp"
    verbose_name = "refiapp"

    def ready(self) -> None:
        from refiapp import checks  # noqa: F401  (registers the deploy check)
