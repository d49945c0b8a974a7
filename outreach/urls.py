from django.urls import path

from outreach import views, webhooks

app_name = "outreach"

urlpatterns = [
    # Borrower pages: signed tokens, no login.
    path("r/<str:token>/", views.borrower_page, name="borrower_page"),
    path("r/<str:token>/go/", views.tracked_link, name="tracked_link"),
    path("u/<str:token>/", views.unsubscribe, name="unsubscribe"),
    # Loan officer actions (the outreach panel on the opportunity page).
    path("o/opportunities/<int:pk>/enroll/", views.enroll, name="enroll"),
    path("o/enrollments/<int:pk>/<str:action>/", views.enrollment_action, name="enrollment_action"),
    # Twilio webhooks (X-Twilio-Signature). Email webhooks are anymail's, under /anymail/.
    path("o/webhooks/twilio/status/", webhooks.twilio_status, name="twilio_status"),
    path("o/webhooks/twilio/inbound/", webhooks.twilio_inbound, name="twilio_inbound"),
]
