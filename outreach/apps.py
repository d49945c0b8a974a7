from django.apps import AppConfig


class OutreachConfig(AppConfig):
    name = "outreach"
    verbose_name = "Outreach"

    def ready(self) -> None:
        # Connect the anymail webhook receivers (they only store events; see outreach/receivers.py).
        from outreach import receivers

        receivers.connect()
