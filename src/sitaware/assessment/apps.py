from django.apps import AppConfig


class AssessmentConfig(AppConfig):
    name = "sitaware.assessment"
    label = "assessment"
    verbose_name = "Performance assessment"
