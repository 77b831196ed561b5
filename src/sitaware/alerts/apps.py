from django.apps import AppConfig


class AlertsConfig(AppConfig):
    name = "sitaware.alerts"
    label = "alerts"
    verbose_name = "Early warning"
