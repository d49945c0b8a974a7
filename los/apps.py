from django.apps import AppConfig


class LosConfig(AppConfig):
    name = "los"
    verbose_name = "LOS connections"

    def ready(self) -> None:
        from los import checks  # noqa: F401  (registers the deploy check)
