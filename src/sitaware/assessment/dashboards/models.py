"""A dashboard is an ordered list of widgets over one results framework; a widget is a chart type from the
gallery, one or more indicators, a breakdown and a period range. Configuration only: the figures are the
indicators' stored values, read within the viewer's scope when the dashboard is shown."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone


class Dashboard(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # Dashboards are their organisation's, like the plans they show (no sharing agreement extends to them).
    organisation = models.ForeignKey("core.Organisation", on_delete=models.PROTECT, related_name="+")
    framework = models.ForeignKey("assessment.ResultsFramework", on_delete=models.PROTECT, related_name="dashboards")
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        app_label = "assessment"
        ordering = ["title"]

    def __str__(self) -> str:
        return self.title


class DashboardWidget(models.Model):
    dashboard = models.ForeignKey(Dashboard, on_delete=models.CASCADE, related_name="widgets")
    position = models.PositiveIntegerField(default=0)
    chart = models.CharField(max_length=20)  # a key of gallery.CHARTS
    title = models.CharField(max_length=200, blank=True)
    # Indicator ids (as text) of the dashboard's framework, in the order drawn; checked by the services.
    indicators = models.JSONField(default=list)
    breakdown = models.CharField(max_length=20, blank=True)  # "" = totals only; else a disaggregation key
    # The period range: from `first` to `last` (labels), or the last `periods` periods up to `last` (or up to
    # the latest stored value when `last` is blank).
    first = models.CharField(max_length=12, blank=True)
    last = models.CharField(max_length=12, blank=True)
    periods = models.PositiveSmallIntegerField(default=12)
    style = models.CharField(max_length=10, blank=True)  # time series: "line" or "bar"

    class Meta:
        app_label = "assessment"
        ordering = ["dashboard", "position", "pk"]
