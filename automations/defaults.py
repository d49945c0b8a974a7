"""The status messages every organization starts with: one email per refinance milestone (editable in admin;
an LOS milestone has none until a manager writes one)."""

from __future__ import annotations

CONTACT = "Questions? Reach {{ lo_name }} at {{ lo_phone }} or {{ lo_email }}."

DEFAULT_STATUS_TEMPLATES: dict[str, tuple[str, str]] = {
    # milestone: (subject, body)
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
