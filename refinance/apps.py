from django.apps import AppConfig


class RefinanceConfig(AppConfig):
    name = "refinance"
    verbose_name = "Refinance"
