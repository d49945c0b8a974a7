from django.urls import path

from refinance.api import views

app_name = "api"

urlpatterns = [
    path("bpm/cmd", views.command, name="cmd"),
    path("schema/", views.schema, name="schema"),
]
