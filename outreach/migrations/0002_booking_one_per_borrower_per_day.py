"""One call request per borrower per local day: repeated posts of the booking form no longer add rows.

Existing rows get their borrower and local date; repeats of the same borrower and day (the duplicates this
removes) are merged into the first request of that day, whose timeline entry already exists."""

import django.db.models.deletion
from django.db import migrations, models


def fill_borrower_and_day(apps, schema_editor):
    from zoneinfo import ZoneInfo

    BookingRequest = apps.get_model("outreach", "BookingRequest")
    seen = set()
    for booking in BookingRequest.objects.select_related("opportunity__borrower", "organization").order_by(
        "created_at", "pk"
    ):
        borrower = booking.opportunity.borrower
        zone = ZoneInfo(borrower.timezone or booking.organization.timezone or "UTC")
        day = booking.created_at.astimezone(zone).date()
        if (borrower.pk, day) in seen:
            booking.delete()
            continue
        seen.add((borrower.pk, day))
        booking.borrower_id, booking.requested_on = borrower.pk, day
        booking.save(update_fields=["borrower", "requested_on"])


class Migration(migrations.Migration):
    dependencies = [
        ("loans", "0001_initial"),
        ("outreach", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="bookingrequest",
            name="borrower",
            field=models.ForeignKey(
                null=True, on_delete=django.db.models.deletion.CASCADE, related_name="+", to="loans.borrower"
            ),
        ),
        migrations.AddField(
            model_name="bookingrequest",
            name="requested_on",
            field=models.DateField(null=True, help_text="The borrower's local date of the request."),
        ),
        migrations.RunPython(fill_borrower_and_day, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="bookingrequest",
            name="borrower",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.CASCADE, related_name="+", to="loans.borrower"
            ),
        ),
        migrations.AlterField(
            model_name="bookingrequest",
            name="requested_on",
            field=models.DateField(help_text="The borrower's local date of the request."),
        ),
        migrations.AddConstraint(
            model_name="bookingrequest",
            constraint=models.UniqueConstraint(
                fields=("borrower", "requested_on"), name="outreach_bookingrequest_one_per_borrower_per_day"
            ),
        ),
    ]
