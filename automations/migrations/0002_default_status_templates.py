from django.db import migrations

CONTACT = "Questions? Reach {{ lo_name }} at {{ lo_phone }} or {{ lo_email }}."

# A copy (migrations do not import code that may change) of automations.defaults.DEFAULT_STATUS_TEMPLATES.
DEFAULTS = {
    "Initiated": (
        "Your refinance application has started",
        "Hi {{ borrower_first_name }},\n\nThank you: your refinance application {{ loan_number }} has started. "
        "{{ lo_name }} will be in touch about the next steps and any documents we need.\n\n" + CONTACT,
    ),
    "Approved": (
        "Good news: your refinance is approved",
        "Hi {{ borrower_first_name }},\n\nYour refinance {{ loan_number }} has been approved. We will contact you "
        "to schedule the closing.\n\n" + CONTACT,
    ),
    "Funded": (
        "Your new loan has funded",
        "Hi {{ borrower_first_name }},\n\nYour refinance {{ loan_number }} has funded: your new loan is in place. "
        "Thank you for choosing {{ org_name }}.\n\n" + CONTACT,
    ),
    "Cancelled": (
        "Your refinance application was cancelled",
        "Hi {{ borrower_first_name }},\n\nYour refinance application {{ loan_number }} has been cancelled. If this "
        "is unexpected, or you would like to start again, please let us know.\n\n" + CONTACT,
    ),
}


def create_defaults(apps, schema_editor):
    Organization = apps.get_model("core", "Organization")
    StatusTemplate = apps.get_model("automations", "StatusTemplate")
    rows = [
        StatusTemplate(organization_id=org_id, milestone=milestone, channel="email", subject=subject, body=body)
        for org_id in Organization.objects.values_list("pk", flat=True)
        for milestone, (subject, body) in DEFAULTS.items()
    ]
    StatusTemplate.objects.bulk_create(rows)


class Migration(migrations.Migration):
    dependencies = [("automations", "0001_initial")]

    operations = [migrations.RunPython(create_defaults, migrations.RunPython.noop)]
