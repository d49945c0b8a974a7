"""Fewer writes per opportunity and per timeline entry: the first match of a big book inserts ~178k of each.

* No database FK on the opportunity's loan officer and branch: denormalised from the loan, written only by the
  match's set-based statements from the loan row they join (like the borrower since 0001); PostgreSQL checked
  each of them per inserted row at commit. Django's on_delete (SET_NULL) still applies.
* No single-column indexes that a composite index already leads with: opportunity organization
  (pipeline_opp_report_idx, pipeline_opp_board_org_idx), activity organization (pipeline_activity_report_idx)
  and activity opportunity (pipeline_activity_timeline_idx).
* The activity's actor is indexed only where set: the match's and the providers' entries have none.

Django re-creates the FKs whose index it drops (checked once, here).
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('core', '0003_organization_automation_settings'),
        ('loans', '0004_load_shipped_loan_limits'),
        ('pipeline', '0006_opportunity_fillfactor_for_hot_scoring'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AlterField(
            model_name='activity',
            name='actor',
            field=models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL),
        ),
        migrations.AlterField(
            model_name='activity',
            name='opportunity',
            field=models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='activities', to='pipeline.opportunity'),
        ),
        migrations.AlterField(
            model_name='activity',
            name='organization',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='core.organization'),
        ),
        migrations.AlterField(
            model_name='opportunity',
            name='branch',
            field=models.ForeignKey(blank=True, db_constraint=False, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='opportunities', to='core.branch'),
        ),
        migrations.AlterField(
            model_name='opportunity',
            name='loan_officer',
            field=models.ForeignKey(blank=True, db_constraint=False, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='opportunities', to='core.loanofficer'),
        ),
        migrations.AlterField(
            model_name='opportunity',
            name='organization',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='opportunities', to='core.organization'),
        ),
        migrations.AddIndex(
            model_name='activity',
            index=models.Index(condition=models.Q(('actor__isnull', False)), fields=['actor'], name='pipeline_activity_actor_idx'),
        ),
    ]
