from django.apps import AppConfig


class AnalyticsConfig(AppConfig):
    name = "sitaware.analytics"
    label = "analytics"
    verbose_name = "Analytics"
