from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect

from core.views import profile_required


@profile_required
def home(request: HttpRequest) -> HttpResponse:
    return redirect("pipeline:board")
