"""Sign-in with throttling: after repeated failures for one account or from one address, sign-in is refused
for a while with a message that says so, before the password is even checked."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.contrib.auth.views import LoginView
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.translation import gettext as _

from sitaware.core.models import LoginFailure


def _username(request: HttpRequest) -> str:
    return (request.POST.get("username") or "").strip().lower()[:150]


def _address(request: HttpRequest) -> str | None:
    return request.META.get("REMOTE_ADDR") or None


def is_throttled(username: str, address: str | None) -> bool:
    """Too many recent failures for this account, or (a higher bar, as offices share an address) from here."""
    since = timezone.now() - dt.timedelta(seconds=settings.SITAWARE_LOGIN_LOCK_SECONDS)
    recent = LoginFailure.objects.filter(at__gte=since)
    if username and recent.filter(username=username).count() >= settings.SITAWARE_LOGIN_MAX_FAILURES:
        return True
    return bool(address) and recent.filter(ip=address).count() >= settings.SITAWARE_LOGIN_MAX_FAILURES_PER_ADDRESS


class ThrottledLoginView(LoginView):
    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if is_throttled(_username(request), _address(request)):
            form = self.get_form()
            minutes = max(1, settings.SITAWARE_LOGIN_LOCK_SECONDS // 60)
            form.add_error(None, _("Too many failed sign-ins. Wait %(minutes)d minutes, then try again.")
                           % {"minutes": minutes})
            return self.render_to_response(self.get_context_data(form=form), status=429)
        return super().post(request, *args, **kwargs)

    def form_invalid(self, form: Any) -> HttpResponse:
        LoginFailure.objects.create(username=_username(self.request), ip=_address(self.request))
        return super().form_invalid(form)

    def form_valid(self, form: Any) -> HttpResponse:
        # Old failures no longer count against an account once its owner has signed in.
        LoginFailure.objects.filter(Q(username=_username(self.request))).delete()
        return super().form_valid(form)
