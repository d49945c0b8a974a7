"""Loads the shipped county limits (FHFA conforming 2026, CFPB/HUD 2025 with FHA) so a fresh install prices
jumbo and FHA limits by county; later years come with ``manage.py load_loan_limits``."""

from django.db import migrations


def load(apps, schema_editor):
    from loans.limits import shipped_limits_load

    shipped_limits_load(model=apps.get_model("loans", "LoanLimit"))


class Migration(migrations.Migration):
    dependencies = [("loans", "0003_loan_limits_zip_county_current_rate")]

    operations = [migrations.RunPython(load, migrations.RunPython.noop)]
