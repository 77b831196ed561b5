from django.apps import AppConfig


class TriageConfig(AppConfig):
    name = "sitaware.triage"
    label = "triage"
    verbose_name = "Triage"
