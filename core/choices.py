"""Choices shared across apps (product types are used by loans, rates and matching)."""

from django.db import models


class ProductType(models.TextChoices):
    CONFORMING = "conforming", "Conforming"
    JUMBO = "jumbo", "Jumbo"
    FHA = "fha", "FHA"
    VA = "va", "VA"
    USDA = "usda", "USDA"


class Amortization(models.TextChoices):
    FIXED = "fixed", "Fixed"
    ARM = "arm", "ARM"


class Channel(models.TextChoices):
    EMAIL = "email", "Email"
    SMS = "sms", "SMS"


def choices_check(field: str, choices: type[models.TextChoices], name: str) -> models.CheckConstraint:
    """A CheckConstraint that backs a TextChoices field in the database."""
    return models.CheckConstraint(condition=models.Q(**{f"{field}__in": choices.values}), name=name)


def term_bucket(term_months: int) -> int:
    """Loans of 15 years or less are priced by 15-year series, longer ones by 30-year series."""
    return 180 if term_months <= 180 else 360
