from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from sitaware.core.models import Membership


def home(request: HttpRequest) -> HttpResponse:
    membership = None
    if request.user.is_authenticated:
        membership = Membership.objects.select_related("organisation").filter(user=request.user).first()
    return render(request, "core/home.html", {"membership": membership})
