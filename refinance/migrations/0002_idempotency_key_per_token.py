"""Idempotency keys belong to the API token that sent them (not to the organization).

Stored records cannot be attributed to a token, so they are dropped: they are a replay cache for retries of
recent requests, the transactions themselves stay, and a late retry meets the one-in-progress-per-loan rule."""

import django.db.models.deletion
from django.db import migrations, models


def drop_unattributable_records(apps, schema_editor):
    apps.get_model("refinance", "IdempotencyRecord").objects.all().delete()


class Migration(migrations.Migration):
    dependencies = [
        ("core", "0001_initial"),
        ("refinance", "0001_initial"),
    ]

    operations = [
        migrations.RunPython(drop_unattributable_records, migrations.RunPython.noop),
        migrations.RemoveConstraint(
            model_name="idempotencyrecord",
            name="refinance_idempotencyrecord_unique_key",
        ),
        migrations.AddField(
            model_name="idempotencyrecord",
            name="token",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.CASCADE, related_name="+", to="core.apitoken"
            ),
            preserve_default=False,
        ),
        migrations.AddConstraint(
            model_name="idempotencyrecord",
            constraint=models.UniqueConstraint(
                fields=("token", "key"), name="refinance_idempotencyrecord_unique_token_key"
            ),
        ),
    ]
